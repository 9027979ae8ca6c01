"""The live rooms of this node and the flows between them: join, knock, admit, leave, end.

The hub also implements the server's LiveMeetings port (has_meeting,
end_meeting, room_updated, member_removed) through a thin adapter in the
server package. Message handlers live in handlers.py; they call these methods.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import structlog

from . import admission, knock_resume, reconnect, room_control
from .admission import is_moderator, permissions_for
from .errors import (AlreadyJoined, Forbidden, InvalidKey, NoPendingKnock, NotJoined, RateLimited,
                     RejectedRecently, RoomFull, RoomNotFound, UnknownType)
from .events import Events
from .handlers import builtin_messages
from .ports import MediaHooks, RoomDirectory, RoomInfo
from .protocol import Request
from .resume import GRACE_REASONS, Graces, new_token
from .room import LiveRoom, Meeting, new_room_session_id
from .session import CLOSED, CONNECTED, JOINED, KNOCKING, Session
from .text import name_skeleton
from .waiting_room import (ADMITTED, CANCELLED, REJECTED, Cooldowns, Knock, RateLimiter,
                           new_knock_id)

log = structlog.get_logger("antechamber.signaling")


class Hub:
    def __init__(self, directory: RoomDirectory, *, knock_cooldown_seconds: float = 30.0,
                 knocks_per_ip_per_minute: int = 30, media: MediaHooks | None = None,
                 reconnect_grace_seconds: float = 0.0,
                 wall_clock: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic):
        self.directory = directory
        self.media = media or MediaHooks()
        self.events = Events()      # room.client.* / room.session.* for webhooks and metrics
        self.rooms: dict[str, LiveRoom] = {}
        self.sessions: set[Session] = set()
        self.cooldown_seconds = knock_cooldown_seconds
        self.cooldowns = Cooldowns()
        self.knock_rate = RateLimiter(knocks_per_ip_per_minute, 60.0)
        self.wall_clock, self.clock = wall_clock, clock
        self.graces = Graces(reconnect_grace_seconds, clock)   # places kept for dropped websockets
        self.away_knockers: set[Session] = set()   # knockers whose websocket dropped (knock_resume.py)
        self.messages = builtin_messages()   # this hub's client messages; extensions add theirs here
        self._jobs: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None

    def now_ms(self) -> int:
        return int(self.wall_clock() * 1000)

    # --- background jobs (persistence, media callbacks), run in order ------------------------

    async def start(self) -> None:
        self._jobs = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._run_jobs())

    async def close(self) -> None:
        await self.shutdown("server_shutdown")
        self.graces.close()
        if self._jobs is not None and self._worker is not None:
            self._jobs.put_nowait(None)
            try:
                await asyncio.wait_for(self._worker, 10)
            except asyncio.TimeoutError:
                self._worker.cancel()
            self._worker = None

    def later(self, job: Callable[[], Awaitable[Any]], what: str) -> None:
        if self._jobs is None:   # not started (unit use): run it as a task
            asyncio.get_running_loop().create_task(self._run_one(job, what))
        else:
            self._jobs.put_nowait((job, what))

    async def idle(self) -> None:
        """Wait until every queued background job has run (tests, shutdown)."""
        if self._jobs is not None:
            await self._jobs.join()

    async def _run_jobs(self) -> None:
        assert self._jobs is not None
        while True:
            item = await self._jobs.get()
            try:
                if item is None:
                    return
                await self._run_one(*item)
            finally:
                self._jobs.task_done()

    @staticmethod
    async def _run_one(job: Callable[[], Awaitable[Any]], what: str) -> None:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job failed", job=what)

    # --- connections -----------------------------------------------------------------------

    def connected(self, session: Session) -> None:
        self.sessions.add(session)

    async def handle(self, session: Session, req: Request) -> None:
        h = self.messages.get(req.type)
        if h is None:
            raise UnknownType(f"unknown message type {req.type!r}")
        if h.state == JOINED and session.state != JOINED:
            raise NotJoined()
        if h.state == KNOCKING and session.state != KNOCKING:
            raise NoPendingKnock()
        if h.state == CONNECTED and session.state != CONNECTED:
            raise AlreadyJoined()
        if h.permission and not session.can(h.permission):
            raise Forbidden(f"your role does not allow {req.type} ({h.permission})")
        result = await h.fn(self, session, req)
        if h.reply and req.id is not None and session.state != CLOSED:
            reply = {"type": "ok", "id": req.id}
            if result:
                reply.update(result)
            session.send(reply)

    def disconnected(self, session: Session, reason: str = "disconnected") -> None:
        """The connection is gone (or going): cancel its knock or remove it from the meeting."""
        if session.state == CLOSED:
            return
        room = session.room
        if room is not None:
            if (session.state == KNOCKING and session.knock is not None and session.knock.pending
                    and reason in GRACE_REASONS and self.graces.enabled):
                knock_resume.keep_knock(self, room, session)
            elif session.state == KNOCKING and session.knock is not None and session.knock.pending:
                self.decide(room, session.knock, CANCELLED, by=None)
            elif session.state == JOINED and reason in GRACE_REASONS and self.graces.enabled:
                reconnect.keep_place(self, room, session)
            elif session.state == JOINED:
                self.remove(room, session, "disconnected" if reason in ("idle", "too_slow") else reason)
        session.set_state(CLOSED)
        self.sessions.discard(session)

    # --- join ------------------------------------------------------------------------------

    async def join(self, session: Session, req: Request) -> None:
        info = await self.directory.resolve(req["roomName"])
        if info is None:
            raise RoomNotFound()
        if req.get("resumeToken") and session.state == CONNECTED:
            if reconnect.try_resume(self, info.room_id, session, req["resumeToken"], req.id):
                return
            if knock_resume.try_resume(self, info, session, req["resumeToken"], req.id):
                return
        identity = await self.directory.identify(info, req.get("key"))
        if identity is None:
            raise InvalidKey()
        if session.state != CONNECTED:    # closed or joined meanwhile
            return
        room = self.rooms.get(info.room_id)
        if room is None:
            room = self.rooms[info.room_id] = LiveRoom(info)
        perms = permissions_for(room.info, identity)
        decision = admission.decide(room.info, identity, room.counts(), perms)
        session.display_name = req["displayName"]
        if decision == admission.KNOCK:
            self._check_may_knock(room, session)
        session.identity = identity
        session.permissions = perms
        session.role = identity.role
        session.room = room
        if decision == admission.ENTER:
            self.enter(room, session, req.id)
        else:
            self.add_knock(room, session, req.id)

    def _check_may_knock(self, room: LiveRoom, session: Session) -> None:
        now = self.clock()
        for key in self._cooldown_keys(room, session):
            left = self.cooldowns.remaining(key, now)
            if left > 0:
                raise RejectedRecently(retryAfter=int(left) + 1)
        wait = self.knock_rate.hit(session.ip, now)
        if wait > 0:
            raise RateLimited(retryAfter=int(wait) + 1)

    @staticmethod
    def _cooldown_keys(room: LiveRoom, session: Session) -> tuple[Any, ...]:
        """Per connection, and per (address, name skeleton): "Rex", "rex", "R\u200bex", "Ｒｅｘ" and
        "Rex." share one cooldown (text.name_skeleton; docs/protocol.md "Rate limits and cooldowns")."""
        return (("session", room.room_id, session.sid),
                ("name", room.room_id, session.ip, name_skeleton(session.display_name)))

    # --- entering and leaving the meeting ---------------------------------------------------

    def enter(self, room: LiveRoom, session: Session, request_id: Any = None) -> None:
        had_host = room.host_present()
        now = self.now_ms()
        session.knock = None
        session.joined_at_ms = now
        session.set_state(JOINED)
        room.participants[session.sid] = session
        if room.meeting is None:
            room.meeting = Meeting(new_room_session_id(room.room_id), now)
            self._persist_start(room, room.meeting)
        room.meeting.peak = max(room.meeting.peak, len(room.participants))
        session.resume_token = session.resume_token or new_token()
        session.send(self.joined_message(room, session, request_id))
        room.broadcast({"type": "participant_joined", "participant": session.public()}, exclude=session)
        log.info("participant joined", room_id=room.room_id, participant_id=session.sid, role=session.role,
                 participants=len(room.participants))
        self.events.emit("room.client.joined", room_id=room.room_id, participant_id=session.sid,
                         display_name=session.display_name, role=session.role,
                         room_session_id=room.meeting.room_session_id)
        if not had_host and room.host_present():
            room.tell_knockers_host_presence()
        media = self.media
        self.later(lambda: media.participant_admitted(room.room_id, session.sid, session), "media admitted")

    def joined_message(self, room: LiveRoom, session: Session, request_id: Any = None) -> dict[str, Any]:
        """The ``joined`` for this session alone (it carries the session's resume token)."""
        assert room.meeting is not None
        joined: dict[str, Any] = {
            "type": "joined", "participantId": session.sid, "role": session.role,
            "permissions": dict(session.permissions), "room": room.public(),
            "meeting": {"roomSessionId": room.meeting.room_session_id, "startedAt": room.meeting.start_ms},
            "participants": room.roster(),
        }
        ice_servers = self.media.ice_servers()  # the SFU's STUN/TURN servers, for the browser
        if ice_servers:
            joined["iceServers"] = ice_servers
        if is_moderator(session.permissions):
            joined["knocks"] = room.waiting.snapshot(self.now_ms())
        if session.resume_token:
            joined["resumeToken"] = session.resume_token
        if request_id is not None:
            joined["id"] = request_id
        return joined

    def remove(self, room: LiveRoom, session: Session, reason: str) -> None:
        """Take a joined participant out of the meeting (the connection may stay open)."""
        if room.participants.get(session.sid) is not session:
            return
        del room.participants[session.sid]
        self.graces.cancel(session)
        session.reconnecting = False
        had_host = any(is_moderator(s.permissions) for s in (*room.participants.values(), session))
        log.info("participant left", room_id=room.room_id, participant_id=session.sid, reason=reason,
                 participants=len(room.participants))
        room.broadcast({"type": "participant_left", "participantId": session.sid, "reason": reason})
        self.events.emit("room.client.left", room_id=room.room_id, participant_id=session.sid,
                         display_name=session.display_name, role=session.role, reason=reason)
        media = self.media
        self.later(lambda: media.participant_left(room.room_id, session.sid, reason), "media left")
        if had_host and not room.host_present():
            room.tell_knockers_host_presence()
        if not room.participants and room.meeting is not None:
            self._finish_meeting(room, "last_participant_left")
        self._forget_if_empty(room)

    def _forget_if_empty(self, room: LiveRoom) -> None:
        if room.empty and self.rooms.get(room.room_id) is room:
            del self.rooms[room.room_id]

    # --- the waiting room ------------------------------------------------------------------

    def add_knock(self, room: LiveRoom, session: Session, request_id: Any = None,
                  held_message: str | None = None) -> Knock:
        knock = Knock(new_knock_id(), session.display_name, self.now_ms(), owner=session, ip=session.ip)
        room.waiting.add(knock)
        session.knock = knock
        session.resume_token = session.resume_token or new_token()   # in its pending knock_status
        session.set_state(KNOCKING)
        change: dict[str, Any] = {"knockId": knock.knock_id, "displayName": knock.display_name,
                                  "state": knock.state}
        if held_message is not None:
            room.waiting.hold(knock.knock_id, held_message)
            change.update(state=knock.state, message=held_message)
        log.info("knock", room_id=room.room_id, knock_id=knock.knock_id, state=f"new -> {knock.state}",
                 queue=len(room.waiting))
        session.send(room.knock_status(session, request_id))
        room.tell_hosts(self.now_ms(), change)
        self.events.emit("room.client.knocked", room_id=room.room_id, knock_id=knock.knock_id,
                         display_name=knock.display_name, state=knock.state)
        return knock

    def hold(self, room: LiveRoom, knock_id: str, message: str, by: Session) -> None:
        knock = room.waiting.get(knock_id)
        old = knock.state
        room.waiting.hold(knock_id, message)
        log.info("knock held", room_id=room.room_id, knock_id=knock_id, state=f"{old} -> {knock.state}")
        if knock.owner is not None:
            knock.owner.send(room.knock_status(knock.owner))
        room.tell_hosts(self.now_ms(), {"knockId": knock_id, "displayName": knock.display_name,
                                        "state": knock.state, "message": message, "by": by.sid})

    def admit(self, room: LiveRoom, knock_id: str, by: Session | None) -> None:
        knock = room.waiting.get(knock_id)
        owner = knock.owner
        if owner is not None and not owner.can("canJoinMeeting"):   # a role override changed meanwhile
            raise Forbidden("this room's roles no longer let that guest join meetings")
        if not admission.has_room_for(room.info, owner.role if owner else "guest", room.counts()):
            raise RoomFull("the room is full: nobody else can be let in")
        self.decide(room, knock, ADMITTED, by)

    def decide(self, room: LiveRoom, knock: Knock, state: str, by: Session | None,
               reason: str | None = None) -> None:
        """Admit, reject or cancel a pending knock; tells the guest and every host."""
        old = knock.state
        room.waiting.decide(knock.knock_id, state, reason)
        log.info("knock decided", room_id=room.room_id, knock_id=knock.knock_id, state=f"{old} -> {state}",
                 by=by.sid if by else None, queue=len(room.waiting))
        owner = knock.owner
        change: dict[str, Any] = {"knockId": knock.knock_id, "displayName": knock.display_name, "state": state}
        if by is not None:
            change["by"] = by.sid
        if reason:
            change["reason"] = reason
        away = knock.reconnecting    # its websocket is down: a resume within the grace is told
        knock.reconnecting = False
        if owner is not None and (owner.state == KNOCKING or away) and state == REJECTED \
                and reason != "meeting_ended":
            now = self.clock()
            for key in self._cooldown_keys(room, owner):
                self.cooldowns.add(key, now, self.cooldown_seconds)
        if owner is not None and owner.state == KNOCKING:
            status = room.knock_status(owner)
            if state == REJECTED and reason != "meeting_ended":
                status["retryAfter"] = int(self.cooldown_seconds)
            owner.send(status)
            if state == ADMITTED:
                self.enter(room, owner)
            else:
                owner.knock = None
                owner.room = None
                owner.set_state(CONNECTED)
        room.tell_hosts(self.now_ms(), change)
        self.events.emit("room.client.knock_cancelled" if state == CANCELLED else "room.client.knock_decided",
                         room_id=room.room_id, knock_id=knock.knock_id, display_name=knock.display_name,
                         state=state, reason=reason)
        self._forget_if_empty(room)

    def admit_all(self, room: LiveRoom, by: Session | None, reject_rest: str | None = None) -> int:
        admitted = 0
        for knock in room.waiting.pending():
            role = knock.owner.role if knock.owner else "guest"
            if knock.owner is not None and not knock.owner.can("canJoinMeeting"):
                if reject_rest:     # unlocking: nobody stays queued in an open room
                    self.decide(room, knock, REJECTED, by, "forbidden")
                continue
            if admission.has_room_for(room.info, role, room.counts()):
                self.decide(room, knock, ADMITTED, by)
                admitted += 1
            elif reject_rest:
                self.decide(room, knock, REJECTED, by, reject_rest)
        return admitted

    # --- meetings --------------------------------------------------------------------------

    def _persist_start(self, room: LiveRoom, meeting: Meeting) -> None:
        log.info("meeting started", room_id=room.room_id, room_session_id=meeting.room_session_id)
        self.events.emit("room.session.started", room_id=room.room_id, room_session_id=meeting.room_session_id,
                         start_ms=meeting.start_ms)
        directory, room_id = self.directory, room.room_id
        self.later(lambda: directory.meeting_started(room_id, meeting.room_session_id, meeting.start_ms),
                   "meeting started")

    def _finish_meeting(self, room: LiveRoom, reason: str) -> None:
        meeting, room.meeting = room.meeting, None
        if meeting is None:
            return
        end = self.now_ms()
        log.info("meeting ended", room_id=room.room_id, room_session_id=meeting.room_session_id, reason=reason,
                 peak=meeting.peak)
        self.events.emit("room.session.ended", room_id=room.room_id, room_session_id=meeting.room_session_id,
                         start_ms=meeting.start_ms, end_ms=end, peak=meeting.peak, reason=reason)
        directory, media, room_id = self.directory, self.media, room.room_id
        self.later(lambda: directory.meeting_ended(room_id, meeting.room_session_id, meeting.start_ms, end,
                                                   meeting.peak, reason), "meeting ended")
        self.later(lambda: media.meeting_ended(room_id, reason), "media meeting ended")

    def end_room(self, room: LiveRoom, reason: str) -> None:
        """End the meeting for everyone: participants get ``ended``; knocks are turned away."""
        for knock in room.waiting.pending():
            owner = knock.owner
            self.decide(room, knock, REJECTED if reason == "meeting_ended" else CANCELLED, None, reason)
            if owner is not None:
                self._close_session(owner, reason)
        for session in list(room.participants.values()):
            room.participants.pop(session.sid, None)
            self._close_session(session, reason)
            media = self.media
            self.later(lambda s=session: media.participant_left(room.room_id, s.sid, reason), "media left")
        self._finish_meeting(room, reason)
        self._forget_if_empty(room)

    def _close_session(self, session: Session, reason: str, message: str | None = None) -> None:
        msg: dict[str, Any] = {"type": "ended", "reason": reason}
        if message:
            msg["message"] = message
        session.close(msg)
        self.graces.cancel(session)
        self.away_knockers.discard(session)
        if session.resume_token and session.room is not None and reason not in ("left", "disconnected"):
            self.graces.remember_end(session.room.room_id, session.resume_token, reason)
        session.set_state(CLOSED)
        self.sessions.discard(session)

    def kick(self, room: LiveRoom, target: Session, reason: str, message: str | None = None) -> None:
        self.remove(room, target, reason)
        self._close_session(target, reason, message)

    def drop(self, room_id: str, participant_id: str, reason: str = "disconnected") -> bool:
        """Remove a participant from outside (e.g. the SFU saw its ICE fail); True if found."""
        room = self.rooms.get(room_id)
        target = room.find(participant_id) if room is not None else None
        if room is None or target is None:
            return False
        if target.reconnecting:     # its websocket is gone already: the reconnect grace decides
            return True
        self.kick(room, target, reason)
        return True

    # --- the public API for the server (it never touches rooms or sessions) -----------------

    def announce(self, room_id: str, message: dict[str, Any]) -> bool:
        """Send ``message`` to everyone in the room's meeting; False if the room is not live here."""
        room = self.rooms.get(room_id)
        if room is None:
            return False
        room.broadcast(message)
        return True

    def send_to(self, room_id: str, participant_id: str, message: dict[str, Any]) -> bool:
        """Send ``message`` to one participant of the meeting; False if it is not there."""
        room = self.rooms.get(room_id)
        target = room.find(participant_id) if room is not None else None
        if target is None:
            return False
        target.send(message)
        return True

    def display_name(self, room_id: str, participant_id: str) -> str | None:
        """The display name of a participant in the meeting, or None."""
        room = self.rooms.get(room_id)
        target = room.find(participant_id) if room is not None else None
        return target.display_name if target is not None else None

    def participant_count(self, room_id: str) -> int:
        """Joined participants of the meeting, viewers not counted."""
        room = self.rooms.get(room_id)
        return room.counts().participants if room is not None else 0

    def install_media(self, media: MediaHooks) -> None:
        """Plug the SFU (or any MediaHooks) in: ``SfuBridge(service).install(hub)`` calls this."""
        self.media = media

    # --- the LiveMeetings port (called by REST through the server's adapter) -----------------

    def has_meeting(self, room_id: str) -> bool:
        room = self.rooms.get(room_id)
        return room is not None and room.meeting is not None

    async def end_meeting(self, room_id: str, reason: str) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            self.end_room(room, reason)

    async def room_updated(self, info: RoomInfo) -> None:
        room = self.rooms.get(info.room_id)
        if room is not None:
            room_control.apply_room_info(self, room, info)

    async def member_removed(self, room_id: str, member_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        for s in list(room.participants.values()):
            if s.identity is not None and s.identity.member_id == member_id:
                log.info("member removed from meeting", room_id=room_id, participant_id=s.sid)
                self.kick(room, s, "member_deleted")
        for knock in room.waiting.pending():    # a member sent to the waiting room
            owner = knock.owner
            if owner is not None and owner.identity is not None and owner.identity.member_id == member_id:
                self.decide(room, knock, CANCELLED, None, "member_deleted")
                self._close_session(owner, "member_deleted")

    async def member_updated(self, room_id: str, member_id: str, base_role: str,
                             custom_permissions: dict[str, bool]) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            room_control.member_updated(self, room, member_id, base_role, custom_permissions)

    async def shutdown(self, reason: str = "server_shutdown") -> None:
        for room in list(self.rooms.values()):
            self.end_room(room, reason)
        for s in list(self.sessions):
            self._close_session(s, reason)
