"""The live state of one room on this node and its flows: join, lock and settings, roles, members, end.

docs/architecture.md "Objects and ownership": the hub owns its ``LiveRoom``s
(one per room id with someone in or waiting); a room owns its participants
(the meeting), its waiting room and its meeting, and reaches the node only
through ``RoomServices``. It never sees a socket: participants speak through
a Connection port. ``LiveRoom`` is the top of the layers described in
``roster.py`` (``Roster`` <- ``MeetingFlows`` <- ``Lobby`` <- ``LiveRoom``).

Room info changes (REST or a host's ``lock``): everyone gets ``room_updated``;
unlocking admits everyone waiting (up to capacity, the rest are turned away
with ``room_full``); closing the room turns waiting knocks away; per-role
permission overrides are recomputed for everyone connected. ``promote`` /
``demote`` change a participant's base role for this meeting.
"""

from __future__ import annotations

from typing import Any

import structlog

from ..errors import RoomFull
from ..ports import Identity, RoomInfo
from ..rules import admission
from ..rules.admission import has_room_for, is_moderator, permissions_for
from ..rules.waiting_room import CANCELLED, REJECTED
from .lobby import Lobby
from .meeting_clock import RoomExpired
from .participant import JOINED, KNOCKING, Participant

log = structlog.get_logger("antechamber.signaling")


class LiveRoom(Lobby):
    recording_id: str | None = None     # the active recording, as the server says (hub.set_recording)

    def join(self, p: Participant, identity: Identity, display_name: str, request_id: Any = None) -> None:
        """Enter at once, or knock (docs/protocol.md "Join flow"); raises RoomClosed, Forbidden,
        RoomFull, RejectedRecently or RateLimited."""
        if self.expired():
            raise RoomExpired("this room's end date has passed: nobody new can join")
        perms = permissions_for(self.info, identity)
        decision = admission.decide(self.info, identity, self.counts(), perms)
        p.display_name = display_name
        if decision == admission.KNOCK:
            self.check_may_knock(p)
        p.identify(identity, perms)
        if decision == admission.ENTER:
            self.enter(p, request_id)
        else:
            self.knock(p, request_id)

    def connection_lost(self, p: Participant, reason: str, keep: bool) -> bool:
        """``p``'s connection ended (``reason``); ``keep``: hold its place or knock for the reconnect
        grace. True if kept (``p`` is away), False if it is gone from the room."""
        knock = p.knock
        if p.state == KNOCKING and knock is not None and knock.pending:
            if keep:
                return self.keep_knock(p)
            self.decide(knock, CANCELLED, by=None)
        elif p.state == JOINED:
            if keep and self.keep_place(p):
                return True
            self.remove(p, "disconnected" if reason in ("idle", "too_slow") else reason)
        return False

    def end(self, reason: str) -> None:
        """End the meeting for everyone: participants get ``ended``; knocks are turned away."""
        for knock in self.waiting.pending():
            owner = knock.owner
            self.decide(knock, REJECTED if reason == "meeting_ended" else CANCELLED, None, reason)
            if owner is not None:
                self.close_participant(owner, reason)
        for p in list(self.participants.values()):
            del self.participants[p.participant_id]
            self.close_participant(p, reason)
            self._media_left(p.participant_id, reason)
        for p in list(self.admitted_away):    # a resume is told it ended
            self.admitted_away.discard(p)
            self.close_participant(p, reason)
        self._finish_meeting(reason)
        self.forget_if_empty()

    # --- room settings ---------------------------------------------------------------------

    def apply_info(self, info: RoomInfo, by: Participant | None = None) -> None:
        """The stored room changed (its lock, status, config or role overrides)."""
        old = self.info
        if info.version < old.version:
            # news of an older write arriving after a newer one's (writes are applied in version order)
            log.debug("stale room info ignored", room_id=self.room_id, version=info.version,
                      live_version=old.version)
            return
        self.info = info
        if old.is_locked != info.is_locked:
            log.info("room lock", room_id=self.room_id, change=f"{old.is_locked} -> {info.is_locked}")
        if old.status != info.status:
            log.info("room status seen live", room_id=self.room_id, change=f"{old.status} -> {info.status}")
        for p in list(self.participants.values()):
            if p.identity is not None:
                self.set_permissions(p, permissions_for(info, p.identity))
        for owner in self._knockers():     # what they may do once admitted (canJoinMeeting...)
            if owner.identity is not None:
                owner.permissions = permissions_for(info, owner.identity)
        self.broadcast({"type": "room_updated", "room": self.public()})
        if info.status == "closed" and old.status != "closed":
            for knock in self.waiting.pending():
                self.decide(knock, REJECTED, by, "room_closed")
        elif old.is_locked and not info.is_locked:
            self.admit_all(by, reject_rest="room_full")

    def set_permissions(self, p: Participant, perms: dict[str, bool]) -> None:
        if perms == p.permissions:
            return
        was_host = is_moderator(p.permissions)
        p.permissions = perms
        p.send({"type": "permissions", "role": p.role, "permissions": dict(perms)})
        if is_moderator(perms) and not was_host:
            p.send(self.knocks_message())
        if was_host != is_moderator(perms):
            self.tell_knockers_host_presence()

    def change_role(self, target: Participant, role: str) -> None:
        """promote (role host, base moderator) or demote (role guest, base speaker) for this meeting.
        A viewer made host takes a participant's place: refused (RoomFull) when there is none."""
        if target.role == "viewer" and not has_room_for(self.info, role, self.counts()):
            raise RoomFull("the room is full: that viewer cannot take part now")
        base = "moderator" if role == "host" else "speaker"
        old = target.role
        member_id = target.identity.member_id if target.identity else None
        identity = Identity(role=role, base_role=base, member_id=member_id)
        target.identify(identity, target.permissions)
        log.info("participant role", room_id=self.room_id, participant_id=target.participant_id,
                 change=f"{old} -> {role}")
        self.set_permissions(target, permissions_for(self.info, identity))
        self.updated(target)

    # --- members (REST) --------------------------------------------------------------------

    def member_updated(self, member_id: str, base_role: str, custom_permissions: dict[str, bool]) -> None:
        """A member's base role / custom permissions changed: apply them to its participant(s) now, in
        the meeting or in the waiting room (used when it is admitted)."""
        role = "host" if base_role == "moderator" else "guest"
        identity = Identity(role=role, base_role=base_role, member_id=member_id,
                            custom_permissions=dict(custom_permissions))
        for p in self._members(member_id, self.participants.values()):
            old_role = p.role
            p.identify(identity, p.permissions)
            log.info("member permissions seen live", room_id=self.room_id, participant_id=p.participant_id,
                     change=f"{old_role} -> {role}")
            perms = permissions_for(self.info, identity)
            if perms == p.permissions and old_role == role:
                continue
            if perms == p.permissions:     # the role alone changed: still tell the member
                p.send({"type": "permissions", "role": p.role, "permissions": dict(perms)})
            self.set_permissions(p, perms)
            self.updated(p)
        for owner in self._members(member_id, self._knockers()):
            owner.identify(identity, permissions_for(self.info, identity))

    def member_removed(self, member_id: str) -> None:
        """A member was deleted: out of the meeting and out of the waiting room."""
        for p in self._members(member_id, self.participants.values()):
            log.info("member removed from meeting", room_id=self.room_id, participant_id=p.participant_id)
            self.kick(p, "member_deleted")
        for knock in self.waiting.pending():    # a member sent to the waiting room
            owner = knock.owner
            if owner in self._members(member_id, [owner]):
                self.decide(knock, CANCELLED, None, "member_deleted")
                self.close_participant(owner, "member_deleted")
        for p in self._members(member_id, self.admitted_away):
            self.admitted_away.discard(p)
            self.close_participant(p, "member_deleted")
        self.forget_if_empty()

    def _knockers(self) -> list[Participant]:
        """Who waits to be in the meeting: owners of pending knocks, and those admitted while away."""
        return [k.owner for k in self.waiting.pending() if k.owner is not None] + list(self.admitted_away)

    @staticmethod
    def _members(member_id: str, participants: Any) -> list[Participant]:
        return [p for p in list(participants)
                if p is not None and p.identity is not None and p.identity.member_id == member_id]
