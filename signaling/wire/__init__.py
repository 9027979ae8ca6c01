"""The wire protocol: message specs and parsing, frame codecs, text checks, the per-hub message registry.

Pure: nothing here knows rooms, participants or sockets (docs/architecture.md "Layers").
"""
