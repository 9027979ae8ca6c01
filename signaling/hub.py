"""Moved to signaling/live/hub.py; this alias goes once the server imports it from there."""

from .live.hub import Hub  # noqa: F401
