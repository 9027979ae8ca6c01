"""Moved to signaling/wire/protocol.py; this alias goes once the server imports it from there."""

from .wire.protocol import *  # noqa: F401,F403
