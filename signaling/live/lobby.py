"""A live room's waiting room flows: knock, hold, admit (one or all), reject, cancel, send back, reconnect.

docs/architecture.md "Paths: a knock, an RTP packet" and "Life cycles" (the
knock). The knock state machine and the queue are pure (``rules.waiting_room``);
this layer tells the knocker (``knock_status``) and the hosts (``knocks``) and
moves the participant between the waiting room and the meeting. A rejection
starts the cooldown (``rules.cooldowns``). See ``roster.py`` for the layers.
"""

from __future__ import annotations

from typing import Any

import structlog

from ..errors import Forbidden, RoomFull
from ..rules.admission import has_room_for
from ..rules.waiting_room import ADMITTED, CANCELLED, REJECTED, Knock, new_knock_id
from .meeting import MeetingFlows
from .participant import CLOSED, CONNECTED, JOINED, KNOCKING, Participant
from .resume import new_token

log = structlog.get_logger("antechamber.signaling")


class Lobby(MeetingFlows):
    def check_may_knock(self, p: Participant) -> None:
        """Raise RejectedRecently / RateLimited if ``p`` may not knock now."""
        pending = sum(1 for k in self.waiting.pending() if k.ip == p.ip and k.owner is not p) if p.ip else 0
        self.services.limits.check(p.cooldown_keys(self.room_id), p.ip, self.services.clock(), self.room_id, pending)

    def knock(self, p: Participant, request_id: Any = None, held_message: str | None = None) -> Knock:
        """``p`` (identified) waits in the queue; held at once when a host sent it back."""
        knock = Knock(new_knock_id(), p.display_name, self.services.now_ms(), owner=p, ip=p.ip)
        self.waiting.add(knock)
        p.knock, p.room = knock, self
        p.resume_token = p.resume_token or new_token()   # in its pending knock_status
        p.set_state(KNOCKING)
        if held_message is not None:
            self.waiting.hold(knock.knock_id, held_message)
        log.info("knock", room_id=self.room_id, knock_id=knock.knock_id, state=f"new -> {knock.state}",
                 queue=len(self.waiting))
        p.send(self.knock_status(p, request_id))
        self.tell_hosts(knock, message=held_message)
        self.services.events.emit("room.client.knocked", room_id=self.room_id, knock_id=knock.knock_id,
                                  display_name=knock.display_name, state=knock.state)
        return knock

    def hold(self, knock_id: str, message: str, by: Participant) -> None:
        knock = self.waiting.get(knock_id)
        old = knock.state
        self.waiting.hold(knock_id, message)
        log.info("knock held", room_id=self.room_id, knock_id=knock_id, state=f"{old} -> {knock.state}")
        if knock.owner is not None:
            knock.owner.send(self.knock_status(knock.owner))
        self.tell_hosts(knock, message=message, by=by.participant_id)

    def admit(self, knock_id: str, by: Participant | None) -> None:
        knock = self.waiting.get(knock_id)
        owner = knock.owner
        if owner is not None and not owner.can("canJoinMeeting"):   # a role override changed meanwhile
            raise Forbidden("this room's roles no longer let that guest join meetings")
        if not has_room_for(self.info, owner.role if owner else "guest", self.counts()):
            raise RoomFull("the room is full: nobody else can be let in")
        self.decide(knock, ADMITTED, by)

    def admit_all(self, by: Participant | None, reject_rest: str | None = None) -> int:
        """Admit every pending knock there is room for; ``reject_rest`` (unlocking: nobody stays
        queued in an open room) turns the others away with that reason."""
        admitted = 0
        for knock in self.waiting.pending():
            owner = knock.owner
            if owner is not None and not owner.can("canJoinMeeting"):
                if reject_rest:
                    self.decide(knock, REJECTED, by, "forbidden")
                continue
            if has_room_for(self.info, owner.role if owner else "guest", self.counts()):
                self.decide(knock, ADMITTED, by)
                admitted += 1
            elif reject_rest:
                self.decide(knock, REJECTED, by, reject_rest)
        return admitted

    def decide(self, knock: Knock, state: str, by: Participant | None, reason: str | None = None) -> None:
        """Admit, reject or cancel a pending knock; tells the knocker and every host. An away knocker
        learns the decision when it resumes (``resume_knock``)."""
        old = knock.state
        self.waiting.decide(knock.knock_id, state, reason)
        log.info("knock decided", room_id=self.room_id, knock_id=knock.knock_id, state=f"{old} -> {state}",
                 by=by.participant_id if by else None, queue=len(self.waiting))
        knock.reconnecting = False
        owner = knock.owner
        turned_away = state == REJECTED and reason != "meeting_ended"
        if owner is not None and owner.state == KNOCKING:
            if turned_away:
                self.services.limits.turned_away(owner.cooldown_keys(self.room_id), self.services.clock())
            if owner.away and state == ADMITTED:     # its place is kept until it resumes
                self.admitted_away.add(owner)
            elif not owner.away:
                extra = {"retryAfter": int(self.services.limits.seconds)} if turned_away else {}
                owner.send(self.knock_status(owner, **extra))
                if state == ADMITTED:
                    self.enter(owner)
                else:
                    self._back_to_the_door(owner)
        self.tell_hosts(knock, by=by.participant_id if by else None, reason=reason or None)
        self.services.events.emit("room.client.knock_cancelled" if state == CANCELLED
                                  else "room.client.knock_decided", room_id=self.room_id, knock_id=knock.knock_id,
                                  display_name=knock.display_name, state=state, reason=reason)
        self.forget_if_empty()

    def _back_to_the_door(self, p: Participant) -> None:
        """Rejected or cancelled: the connection stays open and may join again."""
        p.knock, p.room = None, None
        p.set_state(CONNECTED)

    def cancel_knock(self, p: Participant) -> None:
        assert p.knock is not None
        self.decide(p.knock, CANCELLED, by=None)

    def send_back(self, p: Participant, message: str) -> None:
        """A host sends ``p`` from the meeting to the waiting room, held with ``message``."""
        self.remove(p, "sent_to_waiting_room")
        if p.state == JOINED:   # an away one was closed by remove: its resume joins anew
            self.knock(p, held_message=message)

    # --- reconnecting ----------------------------------------------------------------------

    def keep_knock(self, p: Participant) -> bool:
        """The connection of a pending knocker dropped without ``leave``: keep its knock for the grace."""
        knock = p.knock
        assert knock is not None
        p.detach()
        knock.reconnecting = True
        graces = self.services.graces
        graces.start(p, lambda: self._knock_expired(p))
        log.info("knocker reconnecting", room_id=self.room_id, knock_id=knock.knock_id,
                 connection="connected -> reconnecting", grace_seconds=graces.seconds)
        self.tell_hosts(knock, connection="reconnecting")
        return True

    def _knock_expired(self, p: Participant) -> None:
        knock = p.knock
        if knock is None or knock.owner is not p:
            return
        if knock.pending:
            log.info("knock reconnect grace expired", room_id=self.room_id, knock_id=knock.knock_id,
                     connection="reconnecting -> gone")
            self.decide(knock, CANCELLED, by=None)
        elif knock.state == ADMITTED and p in self.admitted_away:
            self._did_not_arrive(p, knock)
        p.knock = None
        p.set_state(CLOSED)
        self.admitted_away.discard(p)
        self.forget_if_empty()

    def _did_not_arrive(self, p: Participant, knock: Knock) -> None:
        """Admitted while its connection was away, and it never came back within the grace: the
        hosts are told it did not arrive (instead of "admitted" forever); its place is freed."""
        log.info("admitted knocker did not arrive", room_id=self.room_id, knock_id=knock.knock_id,
                 connection="reconnecting -> gone")
        self.admitted_away.discard(p)
        self.tell_hosts(knock, arrival="did_not_arrive")
        self.services.events.emit("room.client.admission_abandoned", room_id=self.room_id,
                                  knock_id=knock.knock_id, display_name=knock.display_name)

    def resume_knock(self, p: Participant, was_away: bool, request_id: Any) -> None:
        """A new connection was attached to knocker ``p`` (its token): the same knock back if still
        pending, ``joined`` if admitted meanwhile, else the decision (the connection may join again)."""
        knock = p.knock
        assert knock is not None
        log.info("knocker resumed", room_id=self.room_id, knock_id=knock.knock_id, state=knock.state,
                 connection=f"{'reconnecting' if was_away else 'connected'} -> connected")
        if knock.pending:
            knock.reconnecting = False
            p.send(self.knock_status(p, request_id, resumed=True))
            self.tell_hosts(knock, connection="connected")
        elif knock.state == ADMITTED:
            self.admitted_away.discard(p)
            self.enter(p, request_id)
        else:
            status: dict[str, Any] = {"type": "knock_status", "knockId": knock.knock_id, "state": knock.state,
                                      "hostPresent": self.host_present()}
            if knock.reason:
                status["reason"] = knock.reason
            retry = self.services.limits.retry_after(p.cooldown_keys(self.room_id), self.services.clock())
            if knock.state == REJECTED and retry:
                status["retryAfter"] = retry
            if request_id is not None:
                status["id"] = request_id
            p.send(status)
            self._back_to_the_door(p)
            self.forget_if_empty()
