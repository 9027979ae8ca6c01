"""A live room as plain data, and the room rebuilt from it on another hub (a meeting that moves).

docs/architecture.md "Seams for the cluster" (mirroring live state, hand-over);
docs/cluster-design "signaling/live/ additions". ``snapshot(room)`` is what the
owner node mirrors to Redis as the room changes (server/live/mirror.py): the
meeting's participants (ids, names, identities, roles, permissions, resume
tokens, mute state), the knock queue in order (ids, states, hold messages), the
knockers admitted while away, the lock state (with the room version it came
from), the meeting (``roomSessionId``, start, peak), its clock (deadline, warnings sent, solo
timer: ``live/meeting_clock.py``) and the active recording.
Only str / int / float / bool / None / list / dict: msgpack and JSON both carry it.

``restore(hub, info, snap)`` rebuilds that room on a hub that never saw it,
synchronously and without side effects (no events, no store writes, no media):
every participant is *away* under the hub's reconnect grace, as if its
websocket had just dropped. A ``join`` with its resume token then resumes it
as today (``live/resume.py``: same participant id and role, no knock; a
knocker gets its same knock back, held with its message); when the grace
expires it leaves (``disconnected``) or its knock is cancelled, as usual.
Nobody is admitted who was not admitted before.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol

import structlog

from ..ports import Identity, RoomInfo
from ..rules.waiting_room import ADMITTED, PENDING, Knock
from .meeting_clock import MeetingClock
from .participant import JOINED, KNOCKING, Participant
from .room import LiveRoom
from .roster import Meeting
from .services import RoomServices

log = structlog.get_logger("antechamber.signaling")

VERSION = 1


class Node(Protocol):
    """What ``restore`` uses of the hub (``live/hub.py``)."""

    rooms: dict[str, LiveRoom]
    services: RoomServices


class SnapshotError(ValueError):
    """A snapshot this code cannot restore (another version, another room, a room live here)."""


# --- to plain data --------------------------------------------------------------------------------

def _identity(identity: Identity | None) -> dict[str, Any] | None:
    if identity is None:
        return None
    return {"role": identity.role, "baseRole": identity.base_role, "memberId": identity.member_id,
            "customPermissions": dict(identity.custom_permissions)}


def _participant(p: Participant) -> dict[str, Any]:
    return {"participantId": p.participant_id, "displayName": p.display_name, "identity": _identity(p.identity),
            "role": p.role, "permissions": dict(p.permissions), "resumeToken": p.resume_token,
            "muted": dict(p.muted), "joinedAt": p.joined_at_ms, "ip": p.ip, "state": p.state,
            "subscribe": p.subscribes}


def _knock(knock: Knock) -> dict[str, Any]:
    owner = knock.owner
    return {"knockId": knock.knock_id, "displayName": knock.display_name, "knockedAt": knock.knocked_at_ms,
            "state": knock.state, "message": knock.message, "ip": knock.ip,
            "owner": _participant(owner) if owner is not None else None}


def snapshot(room: LiveRoom) -> dict[str, Any]:
    """What is needed to rebuild ``room`` elsewhere (plain types only)."""
    meeting = room.meeting
    admitted_away = [p for p in room.admitted_away if p.knock is not None]
    return {
        "v": VERSION,
        "roomId": room.room_id,
        "infoVersion": room.info.version,
        "isLocked": room.info.is_locked,
        "meeting": None if meeting is None else {"roomSessionId": meeting.room_session_id,
                                                 "startedAt": meeting.start_ms, "peak": meeting.peak},
        "recordingId": room.recording_id,
        "clock": room.clock.snapshot() if room.clock is not None else None,
        "participants": [_participant(p) for p in room.participants.values()],
        "knocks": [_knock(k) for k in room.waiting.pending()],
        "admittedAway": [_knock(p.knock) for p in sorted(admitted_away, key=lambda p: p.knock.knocked_at_ms)],
    }


# --- back to a live room --------------------------------------------------------------------------

def _identity_from(d: dict[str, Any] | None) -> Identity | None:
    if d is None:
        return None
    return Identity(role=d["role"], base_role=d["baseRole"], member_id=d.get("memberId"),
                    custom_permissions=dict(d.get("customPermissions") or {}))


def _away(d: dict[str, Any], room: LiveRoom, state: str) -> Participant:
    """A participant as it was, with no connection (away)."""
    p = Participant(None)
    p.participant_id = d["participantId"]
    p.display_name = d.get("displayName", "")
    identity = _identity_from(d.get("identity"))
    if identity is not None:
        p.identify(identity, dict(d.get("permissions") or {}), d.get("role") or identity.role)
    else:
        p.permissions, p.role = dict(d.get("permissions") or {}), d.get("role", "")
    p.resume_token = d.get("resumeToken")
    p.set_muted(**{str(k): bool(v) for k, v in (d.get("muted") or {}).items()})
    p.joined_at_ms = int(d.get("joinedAt") or 0)
    p.ip = d.get("ip") or ""
    p.subscribes = d.get("subscribe", True) is not False   # absent in snapshots written before it
    p.room = room
    p.set_state(state)
    return p


def _knock_from(d: dict[str, Any], room: LiveRoom) -> Knock:
    owner = _away(d["owner"], room, KNOCKING) if d.get("owner") else None
    knock = Knock(d["knockId"], d.get("displayName", ""), int(d.get("knockedAt") or 0), owner=owner,
                  ip=d.get("ip") or "", state=d["state"], message=d.get("message"), reconnecting=True)
    if owner is not None:
        owner.knock = knock
    return knock


def _info_for(info: RoomInfo, snap: dict[str, Any]) -> RoomInfo:
    """The stored room, unless the snapshot saw a newer write of it (then its lock state wins)."""
    version = int(snap.get("infoVersion") or 0)
    if version > info.version:
        return dataclasses.replace(info, is_locked=bool(snap.get("isLocked")), version=version)
    return info


def restore(hub: Node, info: RoomInfo, snap: dict[str, Any]) -> LiveRoom:
    """Rebuild the room of ``snap`` on ``hub``: everyone away under the reconnect grace (module doc).
    Raises SnapshotError for another version or room, or a room already live on this hub."""
    if snap.get("v") != VERSION:
        raise SnapshotError(f"snapshot version {snap.get('v')!r} (this code reads {VERSION})")
    if snap.get("roomId") != info.room_id:
        raise SnapshotError("snapshot of another room")
    if info.room_id in hub.rooms:
        raise SnapshotError("room already live on this hub")
    room = LiveRoom(_info_for(info, snap), hub.services)
    meeting = snap.get("meeting")
    if meeting:
        room.meeting = Meeting(meeting["roomSessionId"], int(meeting["startedAt"]), int(meeting.get("peak") or 0))
    room.recording_id = snap.get("recordingId")
    if room.meeting is not None:     # the deadline goes on where it was (live/meeting_clock.py)
        room.clock = MeetingClock(room, hub.services.timers, room.meeting.start_ms)
        if isinstance(snap.get("clock"), dict):
            room.clock.restore(snap["clock"])
    expiries: list[tuple[Participant, Callable[[], None]]] = []
    for d in snap.get("participants") or ():
        p = _away(d, room, JOINED)
        room.participants[p.participant_id] = p
        expiries.append((p, lambda p=p: room._place_expired(p)))
    for d in snap.get("knocks") or ():
        if d.get("state") in PENDING:
            knock = _knock_from(d, room)
            room.waiting.add(knock)
            if knock.owner is not None:
                expiries.append((knock.owner, lambda p=knock.owner: room._knock_expired(p)))
    for d in snap.get("admittedAway") or ():
        knock = _knock_from({**d, "state": ADMITTED}, room)
        if knock.owner is not None:
            room.admitted_away.add(knock.owner)
            expiries.append((knock.owner, lambda p=knock.owner: room._knock_expired(p)))
    if room.empty:
        raise SnapshotError("snapshot of an empty room")
    for p, on_expiry in expiries:     # as if every connection had just dropped
        hub.services.graces.start(p, on_expiry)
    hub.rooms[room.room_id] = room
    if room.clock is not None:
        room.clock.wake_soon()
    log.info("room restored", room_id=room.room_id, participants=len(room.participants),
             waiting=len(room.waiting), admitted_away=len(room.admitted_away),
             room_session_id=room.meeting.room_session_id if room.meeting else None)
    return room
