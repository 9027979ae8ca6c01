"""Moved to signaling/wire/text.py; this alias goes once the server imports it from there."""

from .wire.text import *  # noqa: F401,F403
