"""Roles and permissions (OpenVidu Meet 3.8 names). Pure: no I/O.

Roles: host (= OpenVidu *moderator*), guest (= *speaker*), viewer (receives only).
A room may override permissions per base role (``roles`` in the room object);
a member has a base role plus custom permissions.
"""

from __future__ import annotations

from typing import Mapping

PERMISSIONS: tuple[str, ...] = (
    "canRecord",
    "canRetrieveRecordings",
    "canDeleteRecordings",
    "canJoinMeeting",
    "canShareAccessLinks",
    "canMakeModerator",
    "canKickParticipants",
    "canEndMeeting",
    "canPublishVideo",
    "canPublishAudio",
    "canShareScreen",
    "canReadChat",
    "canWriteChat",
    "canChangeVirtualBackground",
)

_SPEAKER_DENIED = frozenset({
    "canRecord", "canDeleteRecordings", "canShareAccessLinks",
    "canMakeModerator", "canKickParticipants", "canEndMeeting",
})
_VIEWER_ALLOWED = frozenset({"canJoinMeeting", "canReadChat"})

DEFAULTS: dict[str, dict[str, bool]] = {
    "moderator": {p: True for p in PERMISSIONS},
    "speaker": {p: p not in _SPEAKER_DENIED for p in PERMISSIONS},
    "viewer": {p: p in _VIEWER_ALLOWED for p in PERMISSIONS},
}

# Session roles map onto OpenVidu base roles.
ROLE_TO_BASE = {"host": "moderator", "guest": "speaker", "viewer": "viewer"}
BASE_TO_ROLE = {"moderator": "host", "speaker": "guest", "viewer": "viewer"}


def effective_permissions(
    base_role: str,
    room_roles: Mapping[str, object] | None = None,
    custom: Mapping[str, bool] | None = None,
) -> dict[str, bool]:
    """Defaults for the base role, then the room's per-role overrides, then a member's own."""
    perms = dict(DEFAULTS[base_role])
    override = ((room_roles or {}).get(base_role) or {})
    if isinstance(override, Mapping):
        for name, value in (override.get("permissions") or {}).items():
            if name in perms:
                perms[name] = bool(value)
    for name, value in (custom or {}).items():
        if name in perms:
            perms[name] = bool(value)
    return perms


def unknown_permissions(names) -> list[str]:
    return [n for n in names if n not in PERMISSIONS]
