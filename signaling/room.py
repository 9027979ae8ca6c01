"""Live state of one room on this node: participants, the waiting room, the meeting.

All mutations are synchronous (one event loop, no awaits inside), so the room
is always consistent; persistence and media callbacks are handed to the hub,
which runs them in order in the background.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

import structlog

from .admission import Counts, is_moderator
from .codec import EncodeError
from .ports import RoomInfo
from .waiting_room import WaitingRoom

if TYPE_CHECKING:
    from .session import Session

log = structlog.get_logger("antechamber.signaling")


@dataclass
class Meeting:
    room_session_id: str
    start_ms: int
    peak: int = 0


def new_room_session_id(room_id: str) -> str:
    return f"{room_id}_{secrets.token_hex(6)}"


class LiveRoom:
    def __init__(self, info: RoomInfo) -> None:
        self.info = info
        self.participants: dict[str, Session] = {}
        self.waiting = WaitingRoom()
        self.meeting: Meeting | None = None

    @property
    def room_id(self) -> str:
        return self.info.room_id

    @property
    def empty(self) -> bool:
        return not self.participants and not len(self.waiting)

    def counts(self) -> Counts:
        viewers = sum(1 for s in self.participants.values() if s.role == "viewer")
        return Counts(participants=len(self.participants) - viewers, viewers=viewers)

    def hosts(self) -> list[Session]:
        return [s for s in self.participants.values() if is_moderator(s.permissions)]

    def host_present(self) -> bool:
        return any(is_moderator(s.permissions) for s in self.participants.values())

    def roster(self) -> list[dict[str, Any]]:
        return [s.public() for s in self.participants.values()]

    def find(self, participant_id: str) -> Session | None:
        return self.participants.get(participant_id)

    # --- sending -------------------------------------------------------------------------

    def broadcast(self, message: dict[str, Any], to: Iterable[Session] | None = None,
                  exclude: Session | None = None, when: Callable[[Session], bool] | None = None) -> None:
        """Send one message to many sessions, encoding it once per codec. Never raises for a
        message a codec cannot encode: it is logged once (its type only) and not sent to that
        codec's sessions; the others still get it."""
        encoded: dict[str, Any] = {}
        for s in list(self.participants.values() if to is None else to):
            if s is exclude or (when is not None and not when(s)):
                continue
            name = s.codec.name
            if name not in encoded:
                try:
                    encoded[name] = s.codec.encode(message)
                except EncodeError as exc:
                    encoded[name] = None
                    msg_type = message.get("type")
                    log.error("broadcast dropped: cannot encode", room_id=self.room_id, codec=name,
                              type=msg_type if isinstance(msg_type, str) and msg_type.isascii() else None,
                              error=type(exc).__name__)
            frame = encoded[name]
            if frame is not None:
                s.send(frame)

    def knocks_message(self, now_ms: int, change: dict[str, Any] | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "knocks", "knocks": self.waiting.snapshot(now_ms)}
        if change:
            msg["change"] = change
        return msg

    def tell_hosts(self, now_ms: int, change: dict[str, Any] | None = None) -> None:
        hosts = self.hosts()
        if hosts:
            self.broadcast(self.knocks_message(now_ms, change), to=hosts)

    def knock_status(self, session: Session, request_id: Any = None) -> dict[str, Any]:
        knock = session.knock
        assert knock is not None
        msg: dict[str, Any] = {"type": "knock_status", "knockId": knock.knock_id, "state": knock.state,
                               "hostPresent": self.host_present()}
        if knock.message:
            msg["message"] = knock.message
        if knock.reason:
            msg["reason"] = knock.reason
        if knock.pending and session.resume_token:    # this knocker's own secret (knock_resume.py)
            msg["resumeToken"] = session.resume_token
        if request_id is not None:
            msg["id"] = request_id
        return msg

    def tell_knockers_host_presence(self) -> None:
        for knock in self.waiting.pending():
            if knock.owner is not None:
                knock.owner.send(self.knock_status(knock.owner))

    def public(self) -> dict[str, Any]:
        room = self.info.public()
        if self.meeting is not None and room["status"] != "closed":
            room["status"] = "active_meeting"
        return room

    def room_message(self) -> dict[str, Any]:
        return {"type": "room_updated", "room": self.public()}
