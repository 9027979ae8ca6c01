"""The live layer: the hub, its rooms and their flows, participants, resume, handlers, events.

Knows no socket and no transport: participants speak through the Connection
port (``participant.py``); docs/architecture.md "Layers", "Objects and ownership".
"""
