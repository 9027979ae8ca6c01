"""The live rooms of one node: the registry of rooms, message dispatch and the background job queue.

docs/architecture.md "Objects and ownership": the hub owns its rooms (by room
id, while someone is in or waiting), the participants that have a connection to
this node, its message registry, its job queue, and the node-wide knock limits
and reconnect graces that its rooms share through one ``RoomServices``. The
flows are the rooms' (``room.py``); the hub turns a ``join`` into a room (or a
resume) and dispatches every other message to its handler. Connections
(``transport/``) call ``connect``, ``handle`` and ``disconnected``.

The server uses only the public API below (``announce``, ``send_to``,
``display_name``, ``participant_count``, ``drop``, ``install_media``), the
LiveMeetings port methods, ``messages.register``, ``events.subscribe`` and
``start`` / ``close`` / ``idle`` / ``shutdown``; never a room or a participant.

For the cluster (docs/architecture.md "Seams for the cluster"): ``on_room_changed``
(what a room's snapshot holds changed: ``live/snapshot.py``), ``snapshot``,
``restore_room`` (rebuild a meeting that moved here), ``hand_over`` (forget a meeting
that goes on elsewhere: everyone is told ``reconnect``), ``reset_media`` (``media_reset``)
and ``set_recording``.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Protocol

import structlog

from ..errors import (AlreadyJoined, Forbidden, InvalidKey, NoPendingKnock, NotJoined, RoomNotFound, ServerBusy,
                      UnknownType)
from ..ports import MediaHooks, RoomDirectory, RoomInfo
from ..rules.cooldowns import AbuseLimits, ChatLimits, JoinLimits, KnockLimits
from ..wire.protocol import Request
from .events import Events
from .handlers import builtin_messages
from .jobs import Jobs
from .meeting_clock import HOST_POWERS, LoopTimers, RoomExpired, Timers
from .participant import CLOSED, CONNECTED, JOINED, KNOCKING, Connection, Participant
from .resume import GRACE_REASONS, Graces, claim
from .room import LiveRoom
from .services import RoomServices
from .snapshot import restore, snapshot

log = structlog.get_logger("antechamber.signaling")

MOVED = "room.session.moved"     # hand_over's event: the meeting goes on on another node
# messages that never change what a room's snapshot holds: no on_room_changed after them
_SNAPSHOT_SAME = frozenset({"ping", "chat", "publish", "subscribe_answer", "ice"})
_NEEDS = {JOINED: NotJoined, KNOCKING: NoPendingKnock, CONNECTED: AlreadyJoined}   # a message's state -> error


class Dispatcher(Protocol):
    """What a connection (signaling/transport/websocket.py) talks to: the hub of one node, or a
    cluster node's gateway (server/live/gateway.py) that routes a join to the meeting's owner."""

    @property
    def messages(self) -> Any: ...       # the message registry (``messages.spec`` parses frames)

    def connect(self, connection: Connection) -> Participant: ...

    async def handle(self, p: Participant, req: Request) -> None: ...

    def disconnected(self, p: Participant, reason: str = "disconnected") -> None: ...


class Hub:
    def __init__(self, directory: RoomDirectory, *, knock_cooldown_seconds: float = 30.0,
                 knocks_per_ip_per_minute: int = 30, media: MediaHooks | None = None,
                 reconnect_grace_seconds: float = 0.0, abuse: AbuseLimits | None = None,
                 wall_clock: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic,
                 timers: Timers | None = None):
        self.directory = directory
        self.events = Events()      # room.client.* / room.session.* for webhooks and metrics
        self.rooms: dict[str, LiveRoom] = {}
        self.participants: set[Participant] = set()    # those with a connection to this node
        self.graces = Graces(reconnect_grace_seconds, clock)
        self.jobs = Jobs()
        self.messages = builtin_messages()   # this hub's client messages; extensions add theirs here
        self.services = RoomServices(directory, media or MediaHooks(), self.events, self.jobs,
                                     KnockLimits(knock_cooldown_seconds, knocks_per_ip_per_minute, abuse),
                                     self.graces, self.rooms, wall_clock, clock, timers=timers or LoopTimers(wall_clock),
                                     joins=JoinLimits(abuse), chat=ChatLimits(abuse))
        self._room_listeners: list[Callable[[str], None]] = []
        self.events.subscribe(self._on_event)

    @property
    def media(self) -> MediaHooks:
        return self.services.media

    def install_media(self, media: MediaHooks) -> None:
        """Plug the SFU (or any MediaHooks) in: ``SfuBridge(service).install(hub)`` calls this."""
        self.services.media = media

    def room(self, room_id: str) -> LiveRoom | None:
        return self.rooms.get(room_id)

    # --- life of the hub -------------------------------------------------------------------

    async def start(self) -> None:
        await self.jobs.start()

    async def close(self) -> None:
        await self.shutdown("server_shutdown")
        self.graces.close()
        await self.jobs.close()

    async def idle(self) -> None:
        """Wait until every queued background job has run (tests, shutdown)."""
        await self.jobs.idle()

    async def shutdown(self, reason: str = "server_shutdown") -> None:
        for room in list(self.rooms.values()):
            room.end(reason)
        for p in list(self.participants):
            if p.state != CLOSED:
                p.end(reason)
        self.participants.clear()

    # --- connections -----------------------------------------------------------------------

    def connect(self, connection: Connection) -> Participant:
        """A new connection: a participant that has not joined yet speaks through it."""
        p = Participant(connection)
        self.participants.add(p)
        return p

    async def handle(self, p: Participant, req: Request) -> None:
        h = self.messages.get(req.type)
        if h is None:
            raise UnknownType(f"unknown message type {req.type!r}")
        if h.state in _NEEDS and p.state != h.state:
            raise _NEEDS[h.state]()
        if h.permission and not p.can(h.permission):
            raise Forbidden(f"your role does not allow {req.type} ({h.permission})")
        if h.permission in HOST_POWERS and isinstance(p.room, LiveRoom) and p.room.expired():
            raise RoomExpired("this room's end date has passed: host powers have ended")
        before = p.room_id
        try:
            result = await h.fn(self, p, req)
        finally:
            if req.type not in _SNAPSHOT_SAME:
                self._changed(before, p.room_id)
        if h.reply and req.id is not None and p.state != CLOSED:
            p.send({"type": "ok", "id": req.id, **(result or {})})

    def disconnected(self, p: Participant, reason: str = "disconnected") -> None:
        """``p``'s connection ended (or is ending): keep its place or knock for the reconnect grace
        (an involuntary drop), else cancel its knock or take it out of the meeting."""
        self.participants.discard(p)
        if p.state == CLOSED:
            return
        keep = reason in GRACE_REASONS and self.graces.enabled
        if not (isinstance(p.room, LiveRoom) and p.room.connection_lost(p, reason, keep)):
            p.set_state(CLOSED)

    # --- join and resume -------------------------------------------------------------------

    async def join(self, p: Participant, req: Request) -> None:
        info = await self.directory.resolve(req["roomName"])
        if info is None:
            raise RoomNotFound()
        self.services.joins.check(p.ip, info.room_id, self.services.clock())   # docs/protocol.md "Rate limits"
        token = req.get("resumeToken")
        if token and p.state == CONNECTED and self._resume(info, p, token, req.id):
            return
        identity = await self.directory.identify(info, req.get("key"))
        if identity is None:
            raise InvalidKey()
        if p.state != CONNECTED:    # closed or joined meanwhile
            return
        if self.services.media.busy():     # past the forwarding budget: nobody new (issue 17)
            log.info("join refused: server busy", room_id=info.room_id)
            raise ServerBusy()
        room = self._open(info)
        p.external_id, p.metadata = req.get("externalId"), req.get("metadata")   # for webhooks (docs/embed.md)
        p.subscribes = req.get("subscribe", True)
        try:
            room.join(p, identity, req["displayName"], req.id)
        finally:
            room.forget_if_empty()      # turned away: no room kept for nobody

    def _open(self, info: RoomInfo) -> LiveRoom:
        room = self.rooms.get(info.room_id)
        if room is None:
            room = self.rooms[info.room_id] = LiveRoom(info, self.services)
            log.info("room live on this node", room_id=info.room_id, rooms=len(self.rooms))
        elif info.version > room.info.version:   # a write this room has not heard of (another process)
            room.apply_info(info)
        return room

    def _resume(self, info: RoomInfo, fresh: Participant, token: str, request_id: Any) -> bool:
        """Hand ``fresh``'s connection to the participant holding ``token`` (live/resume.py); False if
        nobody holds it (a normal join follows)."""
        room = self.rooms.get(info.room_id)
        found = claim(self.graces, info.room_id, token, room.participants if room else {},
                      [k.owner for k in room.waiting.pending() if k.owner is not None] if room else [])
        if found is None:
            log.info("resume token unknown or expired: normal join", room_id=info.room_id)
            return False
        if found.holder is None:
            log.info("resume refused: removed meanwhile", room_id=info.room_id, reason=found.ended)
            ended = {"type": "ended", "reason": found.ended}
            fresh.close(ended if request_id is None else {**ended, "id": request_id})
            fresh.set_state(CLOSED)
            self.participants.discard(fresh)
            return True
        holder = found.holder
        was_away = holder.away
        self.graces.cancel(holder)
        holder.take_connection_of(fresh)
        self.participants.discard(fresh)
        self.participants.add(holder)
        if found.place:
            assert room is not None
            room.resume_place(holder, was_away, request_id)
        else:
            self._open(info).resume_knock(holder, was_away, request_id)
        return True

    # --- the public API for the server (it never touches rooms or participants) ------------

    def _find(self, room_id: str, participant_id: str) -> Participant | None:
        return room.find(participant_id) if (room := self.rooms.get(room_id)) is not None else None

    def announce(self, room_id: str, message: dict[str, Any]) -> bool:
        """Send ``message`` to everyone in the room's meeting; False if the room is not live here."""
        room = self.rooms.get(room_id)
        if room is not None:
            room.broadcast(message)
        return room is not None

    def send_to(self, room_id: str, participant_id: str, message: dict[str, Any]) -> bool:
        """Send ``message`` to one participant of the meeting; False if it is not there."""
        target = self._find(room_id, participant_id)
        if target is not None:
            target.send(message)
        return target is not None

    def display_name(self, room_id: str, participant_id: str) -> str | None:
        """The display name of a participant in the meeting, or None."""
        target = self._find(room_id, participant_id)
        return target.display_name if target is not None else None

    def participant_count(self, room_id: str) -> int:
        """Joined participants of the meeting, viewers not counted."""
        room = self.rooms.get(room_id)
        return room.counts().participants if room is not None else 0

    def drop(self, room_id: str, participant_id: str, reason: str = "disconnected") -> bool:
        """Remove a participant from outside (e.g. the SFU saw its ICE fail); True if found. One
        whose connection is away already is left to its reconnect grace."""
        room, target = self.rooms.get(room_id), self._find(room_id, participant_id)
        if room is not None and target is not None:
            room.drop(target, reason)
        return target is not None

    def kick(self, room_id: str, participant_id: str, reason: str = "kicked") -> bool:
        """Remove a participant of the meeting for good (it is told ``ended``); True if found."""
        room, target = self.rooms.get(room_id), self._find(room_id, participant_id)
        if room is not None and target is not None:
            room.kick(target, reason)
        return target is not None

    def set_role(self, room_id: str, participant_id: str, role: str) -> bool | None:
        """Make a participant ``host`` or ``guest`` for this meeting, as ``promote``/``demote`` do:
        None if it is not in the meeting, False if it has that standing already, True if changed
        (RoomFull for a viewer made host without a free place)."""
        room, target = self.rooms.get(room_id), self._find(room_id, participant_id)
        if room is None or target is None:
            return None
        if (target.role == "host") == (role == "host"):
            return False
        room.change_role(target, role)
        self._changed(room_id)
        return True

    # --- the LiveMeetings port (called by REST through the server's adapter) -----------------

    def has_meeting(self, room_id: str) -> bool:
        room = self.rooms.get(room_id)
        return room is not None and room.meeting is not None

    async def end_meeting(self, room_id: str, reason: str) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            room.end(reason)

    def extend_meeting(self, room_id: str, minutes: int, by: str | None = None) -> int | None:
        """The new deadline (epoch ms) of the meeting extended (live/meeting_clock.py); None: no meeting."""
        room = self.rooms.get(room_id)
        if room is None or room.meeting is None:
            return None
        return room.extend(minutes, by)     # its room.session.extended event marks the room changed

    async def room_updated(self, info: RoomInfo) -> None:
        room = self.rooms.get(info.room_id)
        if room is not None:
            room.apply_info(info)
            self._changed(info.room_id)

    async def member_removed(self, room_id: str, member_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            room.member_removed(member_id)

    async def member_updated(self, room_id: str, member_id: str, base_role: str,
                             custom_permissions: dict[str, bool]) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            room.member_updated(member_id, base_role, custom_permissions)
            self._changed(room_id)

    # --- the cluster: mirroring, restoring and handing over a meeting -------------------------

    def on_room_changed(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """``callback(room_id)`` whenever what ``snapshot(room_id)`` holds may have changed (join,
        leave, knock, hold, admit, reject, lock, role, mute, recording; also when the room is gone
        from this hub). Called synchronously, possibly more than once per change: it must not block
        (mark and schedule). Returns a function that removes it."""
        self._room_listeners.append(callback)
        return lambda: self._room_listeners.remove(callback) if callback in self._room_listeners else None

    def _changed(self, *room_ids: str) -> None:
        for room_id in dict.fromkeys(r for r in room_ids if r):
            for callback in list(self._room_listeners):
                try:
                    callback(room_id)
                except Exception:
                    log.exception("room change listener failed", room_id=room_id)

    def _on_event(self, name: str, data: dict[str, Any]) -> None:
        if name != MOVED and isinstance(data.get("room_id"), str):
            self._changed(data["room_id"])

    def snapshot(self, room_id: str) -> dict[str, Any] | None:
        """The room's live state as plain data (live/snapshot.py), or None if it is not live here."""
        room = self.rooms.get(room_id)
        return snapshot(room) if room is not None else None

    def restore_room(self, info: RoomInfo, snap: dict[str, Any]) -> None:
        """Rebuild a meeting from its snapshot (taken on another node): everyone is away under the
        reconnect grace until it resumes with its token (live/snapshot.py). SnapshotError if unusable."""
        restore(self, info, snap)
        self._changed(info.room_id)

    def set_recording(self, room_id: str, recording_id: str | None) -> None:
        """The room's active recording (None: none), kept in its snapshot."""
        room = self.rooms.get(room_id)
        if room is not None and room.recording_id != recording_id:
            room.recording_id = recording_id
            self._changed(room_id)

    def reset_media(self, room_id: str, participant_id: str) -> bool:
        """Start a participant's media afresh on the same websocket (the SFU behind its session
        changed or lost it): the SFU forgets it and admits it anew, then it is told ``media_reset``
        (with its ICE servers) to negotiate new peer connections. False if it is not in the meeting
        here with a connection."""
        room, target = self.rooms.get(room_id), self._find(room_id, participant_id)
        if room is None or target is None or target.away:
            return False
        media = self.services.media
        message: dict[str, Any] = {"type": "media_reset"}
        ice_servers = media.ice_servers(participant_id)
        if ice_servers:
            message["iceServers"] = ice_servers
        if media.ice_transport_policy() != "all":
            message["iceTransportPolicy"] = media.ice_transport_policy()

        async def reset() -> None:
            await media.participant_left(room_id, participant_id, "media_reset")
            if room.find(participant_id) is target and target.state == JOINED:
                await media.participant_admitted(room_id, participant_id, target)
                target.send(message)

        self.services.later(reset, "media reset")
        return True

    def hand_over(self, room_id: str, reason: str = "moved") -> bool:
        """Forget a meeting that goes on elsewhere: every connection of the room gets
        ``reconnect {reason}`` and is closed; no ``participant_left``, no store write, the meeting
        is not ended (its media here are released). Emits ``room.session.moved``. False if not live."""
        room = self.rooms.pop(room_id, None)
        if room is None:
            return False
        self.events.emit(MOVED, room_id=room_id, reason=reason)
        if room.clock is not None:      # its deadline goes on where the meeting does (live/snapshot.py)
            room.clock.stop()
        people = [*room.participants.values(), *(k.owner for k in room.waiting.pending() if k.owner is not None),
                  *room.admitted_away]
        message = {"type": "reconnect", "reason": reason}
        for p in people:
            self.graces.cancel(p)
            self.participants.discard(p)
            connection = p.detach()
            if connection is not None:
                connection.bind(None)        # its end is not a departure: nobody is told
                connection.close(message)
            if p.state != CLOSED:
                p.set_state(CLOSED)
        log.info("meeting handed over", room_id=room_id, reason=reason, connections=len(people))
        media = self.services.media
        self.services.later(lambda: media.meeting_ended(room_id, reason), "media handed over")
        return True
