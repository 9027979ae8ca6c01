"""Moved to signaling/transport/websocket.py; this alias goes once the server imports it from there."""

from .transport.websocket import Limits  # noqa: F401
