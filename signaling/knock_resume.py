"""Keeping a knocker's place in the waiting queue while its websocket is down, and resuming it.

A knocker gets a ``resumeToken`` in its own pending ``knock_status`` (the same
secret a participant gets in ``joined``; it stays the token once admitted).
When the websocket drops without ``leave``/``cancel_knock``, the knock stays
in the queue for the grace period, flagged ``connection: reconnecting`` in the
hosts' ``knocks``. Hosts may still hold, admit or reject it meanwhile; a new
connection sending ``join`` with the token within the grace takes the SAME
knock back (same knockId and place, held message kept), or goes straight to
``joined`` if it was admitted meanwhile, or gets the ``rejected`` status. When
the grace expires a still pending knock is cancelled (hosts are told).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from . import resume
from .room import LiveRoom
from .session import CLOSED, CONNECTED, KNOCKING
from .waiting_room import ADMITTED, CANCELLED, REJECTED

if TYPE_CHECKING:
    from .hub import Hub
    from .ports import RoomInfo
    from .session import Session

log = structlog.get_logger("antechamber.signaling")


def keep_knock(hub: "Hub", room: LiveRoom, session: "Session") -> None:
    """The websocket of a pending knocker dropped without ``leave``: keep its knock."""
    knock = session.knock
    assert knock is not None
    knock.reconnecting = True
    hub.away_knockers.add(session)
    hub.graces.start(session, lambda: expire(hub, room, session))
    log.info("knocker reconnecting", room_id=room.room_id, knock_id=knock.knock_id,
             connection="connected -> reconnecting", grace_seconds=hub.graces.seconds)
    room.tell_hosts(hub.now_ms(), {"knockId": knock.knock_id, "displayName": knock.display_name,
                                   "state": knock.state, "connection": "reconnecting"})


def expire(hub: "Hub", room: LiveRoom, session: "Session") -> None:
    hub.away_knockers.discard(session)
    knock = session.knock
    if knock is None or knock.owner is not session:
        return
    if knock.pending:
        log.info("knock reconnect grace expired", room_id=room.room_id, knock_id=knock.knock_id,
                 connection="reconnecting -> gone")
        hub.decide(room, knock, CANCELLED, by=None)
    session.knock = None


def forget(hub: "Hub", session: "Session") -> None:
    hub.away_knockers.discard(session)


def _candidates(hub: "Hub", room_id: str) -> list["Session"]:
    """Knockers of this room that a token may take over: away ones (pending or decided while
    away), and live pending ones (a half-open connection)."""
    out = [s for s in hub.away_knockers if s.room is not None and s.room.room_id == room_id]
    room = hub.rooms.get(room_id)
    if room is not None:
        out += [k.owner for k in room.waiting.pending()
                if k.owner is not None and k.owner.state == KNOCKING and k.owner not in out]
    return out


def try_resume(hub: "Hub", info: "RoomInfo", new: "Session", token: str, request_id: Any) -> bool:
    """Take back the knock holding ``token`` on the connection ``new``; False if none."""
    if not hub.graces.enabled or new.state != CONNECTED:
        return False
    old = resume.find(_candidates(hub, info.room_id), token)
    if old is None or old.knock is None:
        return False
    knock = old.knock
    was_away = old.state == CLOSED
    hub.graces.cancel(old)
    hub.away_knockers.discard(old)
    if old.state != CLOSED:     # still half-alive: this token's new connection wins
        old.set_state(CLOSED)
        hub.sessions.discard(old)
        old.close({"type": "ended", "reason": "resumed_elsewhere"})
    old.knock = None
    knock.reconnecting = False
    new.sid, new.display_name, new.identity = old.sid, old.display_name, old.identity
    new.permissions, new.role, new.resume_token = old.permissions, old.role, old.resume_token
    room = old.room if old.room is not None and hub.rooms.get(info.room_id) is old.room else None
    log.info("knocker resumed", room_id=info.room_id, knock_id=knock.knock_id, state=knock.state,
             connection=f"{'reconnecting' if was_away else 'connected'} -> connected")
    if knock.pending and room is not None:
        knock.owner = new
        new.room, new.knock = room, knock
        new.set_state(KNOCKING)
        new.send({**room.knock_status(new, request_id), "resumed": True})
        room.tell_hosts(hub.now_ms(), {"knockId": knock.knock_id, "displayName": knock.display_name,
                                       "state": knock.state, "connection": "connected"})
        return True
    if knock.state == ADMITTED:
        if room is None:
            room = hub.rooms.get(info.room_id)
        if room is None:
            room = hub.rooms[info.room_id] = LiveRoom(info)
        new.room = room
        hub.enter(room, new, request_id)
        return True
    # rejected or cancelled meanwhile: tell the decision; the connection may join again later
    status: dict[str, Any] = {"type": "knock_status", "knockId": knock.knock_id, "state": knock.state,
                              "hostPresent": room.host_present() if room is not None else False}
    if knock.reason:
        status["reason"] = knock.reason
    if knock.state == REJECTED:
        left = max(hub.cooldowns.remaining(key, hub.clock()) for key in hub._cooldown_keys(info_room(info), new))
        if left > 0:
            status["retryAfter"] = int(left) + 1
    if request_id is not None:
        status["id"] = request_id
    new.send(status)
    new.room = None
    return True


def info_room(info: "RoomInfo") -> LiveRoom:
    """A stand-in room for cooldown keys (they only use the room id)."""
    return LiveRoom(info)
