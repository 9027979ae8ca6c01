"""Changes to a live room's settings and to participants' roles, and what follows from them.

- room info changed (REST or a host's ``lock``): everyone gets ``room_updated``;
  unlocking admits everyone waiting (up to capacity, the rest are turned away
  with ``room_full``); closing the room turns waiting knocks away; per-role
  permission overrides are recomputed for everyone connected.
- promote / demote: the participant's base role changes for this session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from .admission import is_moderator, permissions_for
from .ports import Identity, RoomInfo
from .waiting_room import REJECTED

if TYPE_CHECKING:
    from .hub import Hub
    from .room import LiveRoom
    from .session import Session

log = structlog.get_logger("antechamber.signaling")


def apply_room_info(hub: "Hub", room: "LiveRoom", info: RoomInfo, by: "Session | None" = None) -> None:
    old = room.info
    if info.version < old.version:
        # news of an older write arriving after a newer one's (writes are applied in version order)
        log.debug("stale room info ignored", room_id=room.room_id, version=info.version, live_version=old.version)
        return
    room.info = info
    if old.is_locked != info.is_locked:
        log.info("room lock", room_id=room.room_id, change=f"{old.is_locked} -> {info.is_locked}")
    if old.status != info.status:
        log.info("room status seen live", room_id=room.room_id, change=f"{old.status} -> {info.status}")
    for s in list(room.participants.values()):
        if s.identity is not None:
            set_permissions(hub, room, s, permissions_for(info, s.identity))
    for knock in room.waiting.pending():     # what they may do once admitted (canJoinMeeting...)
        owner = knock.owner
        if owner is not None and owner.identity is not None:
            owner.permissions = permissions_for(info, owner.identity)
    room.broadcast(room.room_message())
    if info.status == "closed" and old.status != "closed":
        for knock in room.waiting.pending():
            hub.decide(room, knock, REJECTED, by, "room_closed")
    elif old.is_locked and not info.is_locked:
        hub.admit_all(room, by, reject_rest="room_full")


def set_permissions(hub: "Hub", room: "LiveRoom", s: "Session", perms: dict[str, bool]) -> None:
    if perms == s.permissions:
        return
    was_host = is_moderator(s.permissions)
    s.permissions = perms
    s.send({"type": "permissions", "role": s.role, "permissions": dict(perms)})
    if is_moderator(perms) and not was_host:
        s.send(room.knocks_message(hub.now_ms()))
    if was_host != is_moderator(perms):
        room.tell_knockers_host_presence()


def member_updated(hub: "Hub", room: "LiveRoom", member_id: str, base_role: str,
                   custom_permissions: dict[str, bool]) -> None:
    """A member's base role / custom permissions changed (REST): apply them to its live
    session(s) now, in the meeting or in the waiting room (used when it is admitted)."""
    role = "host" if base_role == "moderator" else "guest"
    identity = Identity(role=role, base_role=base_role, member_id=member_id,
                        custom_permissions=dict(custom_permissions))
    for s in list(room.participants.values()):
        if s.identity is None or s.identity.member_id != member_id:
            continue
        old_role = s.role
        s.identity, s.role = identity, role
        log.info("member permissions seen live", room_id=room.room_id, participant_id=s.sid,
                 change=f"{old_role} -> {role}")
        perms = permissions_for(room.info, identity)
        if perms == s.permissions and old_role == role:
            continue
        if perms == s.permissions:     # the role alone changed: still tell the member
            s.send({"type": "permissions", "role": s.role, "permissions": dict(perms)})
        set_permissions(hub, room, s, perms)
        room.broadcast({"type": "participant_updated", "participant": s.public()})
    for knock in room.waiting.pending():
        owner = knock.owner
        if owner is not None and owner.identity is not None and owner.identity.member_id == member_id:
            owner.identity, owner.role = identity, role
            owner.permissions = permissions_for(room.info, identity)


def change_role(hub: "Hub", room: "LiveRoom", target: "Session", role: str) -> None:
    """promote (role host, base moderator) or demote (role guest, base speaker) for this session."""
    base = "moderator" if role == "host" else "speaker"
    old = target.role
    member_id = target.identity.member_id if target.identity else None
    target.identity = Identity(role=role, base_role=base, member_id=member_id)
    target.role = role
    log.info("participant role", room_id=room.room_id, participant_id=target.sid, change=f"{old} -> {role}")
    set_permissions(hub, room, target, permissions_for(room.info, target.identity))
    room.broadcast({"type": "participant_updated", "participant": target.public()})
