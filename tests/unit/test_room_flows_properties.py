"""Room flows under random sequences of joins, knocks, decisions, drops, resumes, kicks and locks.

After every step: each knock in the queue is owned by a knocking participant of that room, each
participant of the meeting is joined there, nobody is in both, an empty room is forgotten, every
connected host's last view of the queue is the queue, and every connected participant's view of the
roster (its ``joined`` and the ``participant_joined`` / ``participant_left`` since) is the roster.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from signaling.live.hub import Hub
from signaling.live.participant import CLOSED, JOINED, KNOCKING
from signaling.ports import RoomInfo
from tests.helpers.live_fakes import Clock, FakeConnection, MemoryDirectory

NAMES = st.sampled_from(["Ada", "Bo", "Cy", "Di", "Ed"])
PICK = st.integers(min_value=0, max_value=1000)


def _pick(items: list, i: int):
    return items[i % len(items)]


class RoomFlows(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.directory = MemoryDirectory(RoomInfo(room_id="r1", is_locked=True, max_participants=3))
        self.hub = Hub(self.directory, knock_cooldown_seconds=30, knocks_per_ip_per_minute=1000,
                       reconnect_grace_seconds=600, wall_clock=self.clock, clock=self.clock)
        self.conns: list[FakeConnection] = []
        self.tokens: list[str] = []        # resume tokens of dropped connections
        self.addresses = iter(f"10.0.{i // 250}.{i % 250}" for i in range(100_000))

    def teardown(self) -> None:
        self.loop.run_until_complete(self.hub.close())
        self.loop.close()

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def live(self, state: str | None = None) -> list[FakeConnection]:
        return [c for c in self.conns if not c.closed and c.participant is not None
                and (state is None or c.participant.state == state)]

    @property
    def room(self):
        return self.hub.rooms.get("r1")

    def pending(self) -> list:
        return self.room.waiting.pending() if self.room is not None else []

    def request(self, c: FakeConnection, msg_type: str, **fields) -> dict:
        return self.run(c.request(msg_type, **fields))

    # --- rules -------------------------------------------------------------------------------

    @rule(name=NAMES, key=st.sampled_from([None, None, "host", "viewer"]))
    def join(self, name, key):
        c = FakeConnection(self.hub, remote=next(self.addresses))
        self.conns.append(c)
        self.request(c, "join", roomName="r1", displayName=name, key=key)

    @precondition(lambda self: self.pending())
    @rule(i=PICK, how=st.sampled_from(["admit", "reject", "hold"]))
    def decide(self, i, how):
        hosts = [c for c in self.live(JOINED) if c.participant.can("canKickParticipants")]
        if hosts:
            knock = _pick(self.pending(), i)
            fields = {"message": "wait"} if how == "hold" else {}
            self.request(_pick(hosts, i), how, knockId=knock.knock_id, **fields)

    @precondition(lambda self: self.live(KNOCKING))
    @rule(i=PICK)
    def cancel(self, i):
        self.request(_pick(self.live(KNOCKING), i), "cancel_knock")

    @precondition(lambda self: self.live())
    @rule(i=PICK)
    def leave(self, i):
        self.request(_pick(self.live(), i), "leave")

    @precondition(lambda self: self.live())
    @rule(i=PICK)
    def drop(self, i):
        c = _pick(self.live(), i)
        if c.participant.resume_token:
            self.tokens.append(c.participant.resume_token)

        async def network_drops() -> None:     # the grace timer needs the running loop
            c.drop()
        self.run(network_drops())

    @precondition(lambda self: self.tokens)
    @rule(i=PICK)
    def resume(self, i):
        c = FakeConnection(self.hub, remote=next(self.addresses))
        self.conns.append(c)
        self.request(c, "join", roomName="r1", displayName="Back", resumeToken=_pick(self.tokens, i))

    @precondition(lambda self: len(self.live(JOINED)) >= 2)
    @rule(i=PICK, j=PICK, how=st.sampled_from(["kick", "send_to_waiting_room", "promote", "demote"]))
    def host_power(self, i, j, how):
        actor = _pick(self.live(JOINED), i)
        others = [p for p in self.room.participants.values() if p is not actor.participant]
        if others:
            self.request(actor, how, participantId=_pick(others, j).participant_id)

    @precondition(lambda self: self.live(JOINED))
    @rule(i=PICK, locked=st.booleans())
    def lock(self, i, locked):
        self.request(_pick(self.live(JOINED), i), "lock", locked=locked)

    @precondition(lambda self: self.live(JOINED))
    @rule(i=PICK)
    def end_meeting(self, i):
        self.request(_pick(self.live(JOINED), i), "end_meeting")

    @rule()
    def time_passes(self):
        self.clock.now += 31

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def everyone_is_where_their_state_says(self):
        room = self.room
        for c in self.live(KNOCKING):
            assert room is not None and c.participant.knock in room.waiting.pending()
        for c in self.live(JOINED):
            assert room is not None and room.find(c.participant.participant_id) is c.participant
        if room is None:
            return
        assert not room.empty, "an empty room is forgotten"
        queued = set()
        for knock in room.waiting.pending():
            owner = knock.owner
            assert owner.state == KNOCKING and owner.knock is knock and owner.room is room
            queued.add(owner)
        for pid, p in room.participants.items():
            assert p.participant_id == pid and p.state == JOINED and p.room is room and p.knock is None
            assert p not in queued
        assert len(room.participants) - room.counts().viewers <= room.info.max_participants

    @invariant()
    def connections_speak_for_live_participants(self):
        for c in self.conns:
            p = c.participant
            if not c.closed and p is not None:
                assert p.connection is c and (p.state == CLOSED or p in self.hub.participants)

    @invariant()
    def hosts_see_the_queue(self):
        queue = [k.knock_id for k in self.pending()]
        for c in self.live(JOINED):
            if not c.participant.can("canKickParticipants"):
                continue
            views = [m for m in c.inbox if m["type"] == "knocks" or (m["type"] == "joined" and "knocks" in m)]
            assert views and [k["knockId"] for k in views[-1]["knocks"]] == queue

    @invariant()
    def everyone_sees_the_roster(self):
        roster = set(self.room.participants) if self.room is not None else set()
        for c in self.live(JOINED):
            seen: set[str] | None = None
            for m in c.inbox:
                if m["type"] == "joined":
                    seen = {p["participantId"] for p in m["participants"]}
                elif seen is not None and m["type"] == "participant_joined":
                    seen.add(m["participant"]["participantId"])
                elif seen is not None and m["type"] == "participant_left":
                    seen.discard(m["participantId"])
            assert seen == roster


TestRoomFlows = RoomFlows.TestCase
TestRoomFlows.settings = settings(max_examples=40, stateful_step_count=25, deadline=None, database=None,
                                  suppress_health_check=[HealthCheck.too_slow])
