"""The state of one live room and what it tells: participants, waiting room, meeting; messages to many.

docs/architecture.md "Objects and ownership": a ``LiveRoom`` (``room.py``) is
built in layers, one module per concern, each using only the ones below:
``Roster`` (this: state, queries, sending) <- ``MeetingFlows`` (``meeting.py``:
enter, remove, kick, reconnect) <- ``Lobby`` (``lobby.py``: knock, hold, admit,
reject, cancel, send back) <- ``LiveRoom`` (``room.py``: join, lock and room
settings, roles, members, end). All of its mutations are synchronous (one
event loop, no awaits inside); what must be awaited goes to the hub's job queue
(``services.later``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import structlog

from ..ports import RoomInfo
from ..rules.admission import Counts, is_moderator
from ..rules.waiting_room import WaitingRoom
from ..wire.codec import EncodeError
from ..wire.merge import mark
from .meeting_clock import MeetingClock
from .participant import Participant
from .services import RoomServices

log = structlog.get_logger("antechamber.signaling")


@dataclass
class Meeting:
    room_session_id: str
    start_ms: int
    peak: int = 0


def new_room_session_id(room_id: str) -> str:
    return f"{room_id}_{secrets.token_hex(6)}"


class Roster:
    def __init__(self, info: RoomInfo, services: RoomServices) -> None:
        self.info = info
        self.services = services
        self.participants: dict[str, Participant] = {}    # the meeting, in joining order
        self.waiting = WaitingRoom()                       # pending knocks; each knock's owner is a Participant
        # knockers admitted while their connection was away: each holds its place until it resumes
        # (and enters) or its grace ends (live/lobby.py)
        self.admitted_away: set[Participant] = set()
        self.meeting: Meeting | None = None
        self.clock: MeetingClock | None = None             # the meeting's deadline and solo timer

    def __repr__(self) -> str:
        return f"<LiveRoom {self.room_id} {len(self.participants)} in, {len(self.waiting)} waiting>"

    @property
    def room_id(self) -> str:
        return self.info.room_id

    @property
    def empty(self) -> bool:
        return not self.participants and not len(self.waiting) and not self.admitted_away

    def forget_if_empty(self) -> None:
        """Leave the hub's registry when nobody is in, waiting, or admitted while away
        (docs/architecture.md "Life cycles")."""
        rooms = self.services.rooms
        if self.empty and rooms.get(self.room_id) is self:
            del rooms[self.room_id]
            log.info("room no longer live on this node", room_id=self.room_id, rooms=len(rooms))

    def counts(self) -> Counts:
        """Places taken: the meeting, and the places knockers admitted while away hold."""
        people = (*self.participants.values(), *self.admitted_away)
        viewers = sum(1 for p in people if p.role == "viewer")
        return Counts(participants=len(people) - viewers, viewers=viewers)

    def hosts(self) -> list[Participant]:
        return [p for p in self.participants.values() if is_moderator(p.permissions)]

    def host_present(self) -> bool:
        return any(is_moderator(p.permissions) for p in self.participants.values())

    def roster(self) -> list[dict[str, Any]]:
        return [p.public() for p in self.participants.values()]

    def find(self, participant_id: str) -> Participant | None:
        return self.participants.get(participant_id)

    def public(self) -> dict[str, Any]:
        room = self.info.public()
        if self.meeting is not None and room["status"] != "closed":
            room["status"] = "active_meeting"
        return room

    # --- sending ---------------------------------------------------------------------------

    def broadcast(self, message: dict[str, Any], to: Iterable[Participant] | None = None,
                  exclude: Participant | None = None, when: Callable[[Participant], bool] | None = None) -> None:
        """Send one message to many participants, encoding it once per codec (a roster change's frame
        marked, so that a backed-up connection merges it with the next ones: wire/merge.py). Never
        raises for a message a codec cannot encode: it is logged once (its type only) and not sent to
        that codec's participants; the others still get it. Away participants get nothing."""
        encoded: dict[str, Any] = {}
        for p in list(self.participants.values() if to is None else to):
            connection = p.connection
            if connection is None or p is exclude or (when is not None and not when(p)):
                continue
            name = connection.codec.name
            if name not in encoded:
                try:
                    encoded[name] = mark(connection.codec, connection.codec.encode(message), message)
                except EncodeError as exc:
                    encoded[name] = None
                    msg_type = message.get("type")
                    log.error("broadcast dropped: cannot encode", room_id=self.room_id, codec=name,
                              type=msg_type if isinstance(msg_type, str) and msg_type.isascii() else None,
                              error=type(exc).__name__)
            frame = encoded[name]
            if frame is not None:
                connection.send(frame)

    def updated(self, p: Participant, exclude: Participant | None = None) -> None:
        """Everyone (but ``exclude``) gets ``participant_updated`` for ``p``."""
        self.broadcast({"type": "participant_updated", "participant": p.public()}, exclude=exclude)

    def knocks_message(self, change: dict[str, Any] | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "knocks", "knocks": self.waiting.snapshot(self.services.now_ms())}
        if change:
            msg["change"] = change
        return msg

    def tell_hosts(self, knock: Any, **change: Any) -> None:
        """Hosts get the queue and what changed about ``knock`` (None values left out)."""
        hosts = self.hosts()
        if hosts:
            base = {"knockId": knock.knock_id, "displayName": knock.display_name, "state": knock.state}
            self.broadcast(self.knocks_message({**base, **{k: v for k, v in change.items() if v is not None}}),
                           to=hosts)

    def knock_status(self, p: Participant, request_id: Any = None, **extra: Any) -> dict[str, Any]:
        """``p``'s own ``knock_status`` (with its resume token while pending)."""
        knock = p.knock
        assert knock is not None
        msg: dict[str, Any] = {"type": "knock_status", "knockId": knock.knock_id, "state": knock.state,
                               "hostPresent": self.host_present()}
        if knock.message:
            msg["message"] = knock.message
        if knock.reason:
            msg["reason"] = knock.reason
        if knock.pending and p.resume_token:    # this knocker's own secret (live/resume.py)
            msg["resumeToken"] = p.resume_token
        msg.update(extra)
        if request_id is not None:
            msg["id"] = request_id
        return msg

    def tell_knockers_host_presence(self) -> None:
        for knock in self.waiting.pending():
            if knock.owner is not None:
                knock.owner.send(self.knock_status(knock.owner))

    def joined_frame(self, p: Participant, request_id: Any = None, **extra: Any) -> dict[str, Any] | str | bytes:
        """The ``joined`` for ``p`` alone (it carries its resume token), encoded for its connection: the
        roster is joined from each participant's entry as it was encoded once (``public_frame``; a join into
        a room of 300 spent most of its CPU building and encoding it; docs/architecture.md "The event
        loop, shared"). The message itself where that cannot be done (no connection, a value the codec
        cannot encode: the writer then drops it and logs, as it does any such message)."""
        assert self.meeting is not None
        joined: dict[str, Any] = {
            "type": "joined", "participantId": p.participant_id, "role": p.role,
            "permissions": dict(p.permissions), "room": self.public(),
            "meeting": {"roomSessionId": self.meeting.room_session_id, "startedAt": self.meeting.start_ms,
                        **(self.clock.public() if self.clock else {})},
        }
        media = self.services.media  # STUN servers and this participant's own TURN credentials
        ice_servers = media.ice_servers(p.participant_id)
        if ice_servers:
            joined["iceServers"] = ice_servers
        if media.ice_transport_policy() != "all":
            joined["iceTransportPolicy"] = media.ice_transport_policy()
        if is_moderator(p.permissions):
            joined["knocks"] = self.waiting.snapshot(self.services.now_ms())
        if p.resume_token:
            joined["resumeToken"] = p.resume_token
        if request_id is not None:
            joined["id"] = request_id
        joined.update(extra)
        connection = p.connection
        if connection is not None:
            codec = connection.codec
            try:
                return codec.encode_with_list(joined, "participants",
                                              [q.public_frame(codec) for q in self.participants.values()])
            except EncodeError:
                pass
        joined["participants"] = self.roster()
        return joined
