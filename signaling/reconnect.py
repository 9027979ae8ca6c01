"""The hub's reconnect flows: keep a dropped participant's place, resume it, let it expire.

See resume.py for the token and the grace bookkeeping, docs/protocol.md
("Reconnecting") for what clients see. Media is torn down when the websocket
drops; a resumed participant gets fresh peer connections (it publishes again
and receives a new subscribe offer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from . import resume
from .session import CLOSED, CONNECTED, JOINED

if TYPE_CHECKING:
    from .hub import Hub
    from .room import LiveRoom
    from .session import Session

log = structlog.get_logger("antechamber.signaling")


def keep_place(hub: "Hub", room: "LiveRoom", session: "Session") -> None:
    """The websocket of a joined participant dropped without ``leave``: hold its place."""
    if room.participants.get(session.sid) is not session:
        return
    session.reconnecting = True
    hub.graces.start(session, lambda: expire(hub, room, session))
    log.info("participant reconnecting", room_id=room.room_id, participant_id=session.sid,
             connection="connected -> reconnecting", grace_seconds=hub.graces.seconds)
    room.broadcast({"type": "participant_updated", "participant": session.public()}, exclude=session)
    media, room_id, sid = hub.media, room.room_id, session.sid
    hub.later(lambda: media.participant_left(room_id, sid, "reconnecting"), "media reconnecting")


def expire(hub: "Hub", room: "LiveRoom", session: "Session") -> None:
    if room.participants.get(session.sid) is not session or not session.reconnecting:
        return
    log.info("reconnect grace expired", room_id=room.room_id, participant_id=session.sid,
             connection="reconnecting -> gone")
    hub.remove(room, session, "disconnected")


def try_resume(hub: "Hub", room_id: str, new: "Session", token: str, request_id: Any) -> bool:
    """Resume the participant holding ``token`` on the connection ``new``.

    True if handled (resumed, or told ``ended`` because it was removed meanwhile);
    False for an unknown or expired token: the caller goes on with a normal join.
    """
    if not hub.graces.enabled:
        return False
    reason = hub.graces.ended_reason(room_id, token)
    if reason is not None:
        log.info("resume refused: removed meanwhile", room_id=room_id, reason=reason)
        msg: dict[str, Any] = {"type": "ended", "reason": reason}
        if request_id is not None:
            msg["id"] = request_id
        new.close(msg)
        new.set_state(CLOSED)
        hub.sessions.discard(new)
        return True
    room = hub.rooms.get(room_id)
    old = resume.find(room.participants.values(), token) if room is not None else None
    if room is None or old is None or new.state != CONNECTED:
        log.info("resume token unknown or expired: normal join", room_id=room_id)
        return False
    take_over(hub, room, old, new, request_id)
    return True


def take_over(hub: "Hub", room: "LiveRoom", old: "Session", new: "Session", request_id: Any) -> None:
    was_reconnecting = old.reconnecting
    hub.graces.cancel(old)
    if old.state != CLOSED:   # still half-alive: this token's new connection wins
        old.set_state(CLOSED)
        hub.sessions.discard(old)
        old.close({"type": "ended", "reason": "resumed_elsewhere"})
    old.reconnecting = False
    new.sid = old.sid
    new.display_name, new.identity, new.permissions = old.display_name, old.identity, old.permissions
    new.role, new.muted, new.joined_at_ms = old.role, old.muted, old.joined_at_ms
    new.resume_token, new.room, new.knock = old.resume_token, room, None
    new.set_state(JOINED)
    room.participants[new.sid] = new        # same key: the roster keeps its order
    log.info("participant resumed", room_id=room.room_id, participant_id=new.sid,
             connection=f"{'reconnecting' if was_reconnecting else 'connected'} -> connected")
    new.send({**hub.joined_message(room, new, request_id), "resumed": True})
    hub.events.emit("room.client.resumed", room_id=room.room_id, participant_id=new.sid,
                    display_name=new.display_name, role=new.role)
    if was_reconnecting:
        room.broadcast({"type": "participant_updated", "participant": new.public()}, exclude=new)
    media, room_id, sid = hub.media, room.room_id, new.sid
    if not was_reconnecting:
        hub.later(lambda: media.participant_left(room_id, sid, "reconnecting"), "media reconnecting")
    hub.later(lambda: media.participant_admitted(room_id, sid, new), "media resumed")
