"""Moved to signaling/rules/permissions.py; this alias goes once the server imports it from there."""

from .rules.permissions import *  # noqa: F401,F403
