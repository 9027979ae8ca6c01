"""What a room is when nothing says otherwise, and its participant cap (one rule: the REST room
object and the live room both ask ``max_participants``)."""

from __future__ import annotations

import time
from typing import Any

from ...config import Settings
from ...store.records import Room

DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "chat": {"enabled": True},
    "recording": {"enabled": True},
    "virtualBackground": {"enabled": True},
    "e2ee": {"enabled": False},
    "captions": {"enabled": False},  # live captions are not offered here: off unless a client stores true
}
DEFAULT_ACCESS = {"anonymous": {"moderator": {"enabled": True}, "speaker": {"enabled": True},
                                "recording": {"enabled": True}},
                  "user": {"enabled": False}}  # OpenVidu's default; stored only (no user accounts here)
DEFAULT_POLICY = {"withMeeting": "when_meeting_ends", "withRecordings": "close"}


def now_ms() -> int:
    return int(time.time() * 1000)


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``base`` overlaid with ``update``, nested dicts merged and copied (never shared)."""
    out = {k: deep_merge(v, {}) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in update.items():
        if isinstance(value, dict):
            prior = out.get(key)
            out[key] = deep_merge(prior if isinstance(prior, dict) else {}, value)
        else:
            out[key] = value
    return out


def effective_config(room: Room) -> dict[str, Any]:
    """The room's config over the defaults."""
    return deep_merge(DEFAULT_CONFIG, room.config or {})


def meeting_end_action(room: Room) -> str:
    """OpenVidu Meet's ``meetingEndAction``: what a deletion scheduled for the meeting's end will do."""
    pending = room.pending_deletion or {}
    return {"delete": "delete", "close": "close"}.get(pending.get("action", ""), "none")


def max_participants(settings: Settings, room: Room) -> int:
    """How many non-viewers the room's meeting takes: the room's own ``config.maxParticipants``
    (a positive integer) if set, else the server's cap for the room's mode."""
    configured = (room.config or {}).get("maxParticipants")
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        return configured
    return settings.group_max_participants if room.room_mode == "group" else settings.normal_max_participants
