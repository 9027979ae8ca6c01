"""A live room's meeting: entering, leaving, being removed, reconnecting, and what participants do in it.

docs/architecture.md "Life cycles": the meeting starts with its first
participant and ends with its last (or ``end``); media learn of every entry and
departure through the job queue. A participant whose connection drops keeps
its place for the reconnect grace (``keep_place``) and is resumed by a new
connection (``resume_place``). See ``roster.py`` for how the room is layered.
"""

from __future__ import annotations

from typing import Any

import structlog

from ..errors import ChatDisabled
from ..rules.admission import is_moderator
from .meeting_clock import MeetingClock, NoEndTime
from .participant import CLOSED, JOINED, Participant
from .resume import new_token
from .roster import Meeting, Roster, new_room_session_id

log = structlog.get_logger("antechamber.signaling")


class MeetingFlows(Roster):
    # --- entering and leaving --------------------------------------------------------------

    def enter(self, p: Participant, request_id: Any = None) -> None:
        """``p`` (identified, admitted or entitled) joins the meeting; the meeting starts if needed."""
        had_host = self.host_present()
        now = self.services.now_ms()
        p.knock = None
        p.room = self
        p.joined_at_ms = now
        p.set_state(JOINED)
        self.participants[p.participant_id] = p
        if self.meeting is None:
            self._start_meeting(Meeting(new_room_session_id(self.room_id), now))
        assert self.meeting is not None
        self.meeting.peak = max(self.meeting.peak, len(self.participants))
        p.resume_token = p.resume_token or new_token()
        p.send(self.joined_frame(p, request_id))
        if self.clock is not None:
            self.clock.people_changed()
        self.broadcast({"type": "participant_joined", "participant": p.public()}, exclude=p)
        log.info("participant joined", room_id=self.room_id, participant_id=p.participant_id, role=p.role,
                 participants=len(self.participants))
        self.services.events.emit("room.client.joined", room_id=self.room_id, participant_id=p.participant_id,
                                  display_name=p.display_name, role=p.role,
                                  room_session_id=self.meeting.room_session_id,
                                  external_id=p.external_id, metadata=p.metadata)
        if not had_host and self.host_present():
            self.tell_knockers_host_presence()
        self._media_admitted(p)

    def remove(self, p: Participant, reason: str) -> None:
        """Take a joined participant out of the meeting (its connection, if any, stays open)."""
        if self.participants.get(p.participant_id) is not p:
            return
        del self.participants[p.participant_id]
        self.services.graces.cancel(p)
        if self.clock is not None:
            self.clock.people_changed()
        if p.away:      # nobody left to come back to this place: a later resume joins anew
            p.set_state(CLOSED)
        had_host = any(is_moderator(x.permissions) for x in (*self.participants.values(), p))
        log.info("participant left", room_id=self.room_id, participant_id=p.participant_id, reason=reason,
                 participants=len(self.participants))
        self.broadcast({"type": "participant_left", "participantId": p.participant_id, "reason": reason})
        self.services.events.emit("room.client.left", room_id=self.room_id, participant_id=p.participant_id,
                                  display_name=p.display_name, role=p.role, reason=reason,
                                  external_id=p.external_id, metadata=p.metadata)
        self._media_left(p.participant_id, reason)
        if had_host and not self.host_present():
            self.tell_knockers_host_presence()
        if not self.participants and self.meeting is not None:
            self._finish_meeting("last_participant_left")
        self.forget_if_empty()

    def close_participant(self, p: Participant, reason: str, message: str | None = None) -> None:
        """``p`` is done on this node: ``ended``, connection closed, state closed. Removed while away,
        it leaves an ended record so a late resume is told why (live/resume.py)."""
        p.end(reason, message)
        graces = self.services.graces
        graces.cancel(p)
        if p.resume_token and p.room is not None and reason not in ("left", "disconnected"):
            graces.remember_end(self.room_id, p.resume_token, reason)

    def kick(self, p: Participant, reason: str, message: str | None = None) -> None:
        self.remove(p, reason)
        self.close_participant(p, reason, message)

    def drop(self, p: Participant, reason: str) -> None:
        """Removal from outside (e.g. the SFU saw its ICE fail); an away participant is left to its grace."""
        if not p.away:
            self.kick(p, reason)

    # --- reconnecting ----------------------------------------------------------------------

    def keep_place(self, p: Participant) -> bool:
        """``p``'s connection dropped without ``leave``: hold its place for the grace."""
        if self.participants.get(p.participant_id) is not p:
            return False
        p.detach()
        graces = self.services.graces
        graces.start(p, lambda: self._place_expired(p))
        log.info("participant reconnecting", room_id=self.room_id, participant_id=p.participant_id,
                 connection="connected -> reconnecting", grace_seconds=graces.seconds)
        self.updated(p, exclude=p)
        self._media_left(p.participant_id, "reconnecting")
        return True

    def _place_expired(self, p: Participant) -> None:
        if self.participants.get(p.participant_id) is p and p.away:
            log.info("reconnect grace expired", room_id=self.room_id, participant_id=p.participant_id,
                     connection="reconnecting -> gone")
            self.remove(p, "disconnected")

    def resume_place(self, p: Participant, was_away: bool, request_id: Any) -> None:
        """A new connection was attached to ``p`` (its token): it takes its place back, no knock."""
        log.info("participant resumed", room_id=self.room_id, participant_id=p.participant_id,
                 connection=f"{'reconnecting' if was_away else 'connected'} -> connected")
        p.send(self.joined_frame(p, request_id, resumed=True))
        self.services.events.emit("room.client.resumed", room_id=self.room_id, participant_id=p.participant_id,
                                  display_name=p.display_name, role=p.role)
        if was_away:
            self.updated(p, exclude=p)
        else:   # its media were not torn down when the old connection went: they are now
            self._media_left(p.participant_id, "reconnecting")
        self._media_admitted(p)

    # --- in the meeting --------------------------------------------------------------------

    def set_muted(self, p: Participant, kind: str, muted: bool) -> None:
        if p.muted.get(kind) == muted:
            return
        p.set_muted(**{kind: muted})
        log.info("participant muted", room_id=self.room_id, participant_id=p.participant_id, kind=kind,
                 change=f"{not muted} -> {muted}")
        self.updated(p)
        media, room_id, pid = self.services.media, self.room_id, p.participant_id
        self.services.later(lambda: media.participant_muted(room_id, pid, kind, muted), "media muted")

    def rename(self, p: Participant, display_name: str) -> None:
        p.display_name = display_name
        log.info("participant renamed", room_id=self.room_id, participant_id=p.participant_id)
        self.updated(p)

    def chat(self, p: Participant, text: str) -> None:
        if not self.info.chat_enabled:
            raise ChatDisabled()
        self.services.chat.check(p.participant_id, self.services.clock())
        msg = {"type": "chat", "from": {"participantId": p.participant_id, "displayName": p.display_name},
               "text": text, "sentAt": self.services.now_ms()}
        self.broadcast(msg, when=lambda x: x.can("canReadChat"))

    # --- the meeting and media -------------------------------------------------------------

    def extend(self, minutes: int, by: str | None) -> int:
        """A host moves the meeting's deadline later (live/meeting_clock.py); NoEndTime without one."""
        if self.clock is None:
            raise NoEndTime()
        return self.clock.extend(minutes, by)

    def expired(self) -> bool:
        """A Whereby room one hour past its end date: host powers stop, nobody new joins."""
        return self.info.expired(self.services.now_ms())

    def _start_meeting(self, meeting: Meeting) -> None:
        self.meeting = meeting
        self.clock = MeetingClock(self, self.services.timers, meeting.start_ms)
        log.info("meeting started", room_id=self.room_id, room_session_id=meeting.room_session_id)
        self.services.events.emit("room.session.started", room_id=self.room_id,
                                  room_session_id=meeting.room_session_id, start_ms=meeting.start_ms)
        directory, room_id = self.services.directory, self.room_id
        self.services.later(lambda: directory.meeting_started(room_id, meeting.room_session_id, meeting.start_ms),
                            "meeting started")

    def _finish_meeting(self, reason: str) -> None:
        meeting, self.meeting = self.meeting, None
        if self.clock is not None:
            self.clock.stop()
            self.clock = None
        if meeting is None:
            return
        end = self.services.now_ms()
        log.info("meeting ended", room_id=self.room_id, room_session_id=meeting.room_session_id, reason=reason,
                 peak=meeting.peak)
        self.services.events.emit("room.session.ended", room_id=self.room_id,
                                  room_session_id=meeting.room_session_id, start_ms=meeting.start_ms, end_ms=end,
                                  peak=meeting.peak, reason=reason)
        directory, media, room_id = self.services.directory, self.services.media, self.room_id
        self.services.later(lambda: directory.meeting_ended(room_id, meeting.room_session_id, meeting.start_ms,
                                                            end, meeting.peak, reason), "meeting ended")
        self.services.later(lambda: media.meeting_ended(room_id, reason), "media meeting ended")

    def _media_admitted(self, p: Participant) -> None:
        media, room_id, pid = self.services.media, self.room_id, p.participant_id
        self.services.later(lambda: media.participant_admitted(room_id, pid, p), "media admitted")

    def _media_left(self, participant_id: str, reason: str) -> None:
        media, room_id = self.services.media, self.room_id
        self.services.later(lambda: media.participant_left(room_id, participant_id, reason),
                            "media reconnecting" if reason == "reconnecting" else "media left")
