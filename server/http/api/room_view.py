"""The native room object (OpenVidu Meet 3.8 shape) that both room endpoints answer with."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from signaling.rules.permissions import effective_permissions

from ...domain.access.identity import link_enabled
from ...domain.rooms.defaults import effective_config, max_participants
from ...store.records import Room
from ..appkeys import LINKS, ROOMS, SETTINGS


def render(app: web.Application, room: Room) -> dict[str, Any]:
    links = app[LINKS]
    access: dict[str, Any] = {}
    for entry, url_of in (("moderator", links.host), ("speaker", links.guest), ("recording", links.recordings)):
        access[entry] = {"enabled": True, "url": url_of(room)} if link_enabled(room, entry) else {"enabled": False}
    return {
        "roomId": room.room_id,
        "roomName": room.room_name,
        "creationDate": room.creation_date,
        "autoDeletionDate": room.auto_deletion_date,
        "autoDeletionPolicy": dict(room.auto_deletion_policy),
        "config": effective_config(room),
        "roles": {
            "moderator": {"permissions": effective_permissions("moderator", room.roles)},
            "speaker": {"permissions": effective_permissions("speaker", room.roles)},
        },
        "access": {"anonymous": access},
        "status": app[ROOMS].status_of(room),
        "isLocked": room.is_locked,
        "roomMode": room.room_mode,
        "maxParticipants": max_participants(app[SETTINGS], room),
    }
