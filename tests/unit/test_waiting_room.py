"""The knock state machine, the waiting queue, cooldowns and the per-address rate limit (pure)."""

from __future__ import annotations

import pytest

from signaling.errors import KnockNotFound
from signaling.rules.cooldowns import Cooldowns, RateLimiter
from signaling.rules.waiting_room import (ADMITTED, CANCELLED, HELD, REJECTED, WAITING, InvalidTransition, Knock,
                                          WaitingRoom)


def knock(i: int, at: int = 1000) -> Knock:
    return Knock(f"k{i}", f"guest {i}", at)


def test_states_only_move_forward():
    k = knock(1)
    assert k.move(HELD) == WAITING
    assert k.move(HELD) == HELD          # a new hold message
    assert k.move(ADMITTED) == HELD
    for state in (WAITING, HELD, REJECTED, CANCELLED, ADMITTED):
        with pytest.raises(InvalidTransition):
            k.move(state)


@pytest.mark.parametrize("final", [REJECTED, CANCELLED])
def test_a_decided_knock_is_final(final):
    k = knock(1)
    k.move(final)
    with pytest.raises(InvalidTransition):
        k.move(ADMITTED)


def test_queue_order_hold_and_decide():
    room = WaitingRoom()
    for i in range(3):
        room.add(knock(i, 1000 + i))
    room.hold("k1", "one moment")
    snap = room.snapshot(now_ms=2000)
    assert [k["knockId"] for k in snap] == ["k0", "k1", "k2"]
    assert snap[1] == {"knockId": "k1", "displayName": "guest 1", "state": "held", "message": "one moment",
                       "knockedAt": 1001, "waitedMs": 999}
    decided = room.decide("k1", ADMITTED)
    assert decided.state == ADMITTED and len(room) == 2
    with pytest.raises(KnockNotFound):
        room.decide("k1", REJECTED)        # already decided: gone from the queue
    with pytest.raises(KnockNotFound):
        room.hold("nope", "x")
    room.decide("k0", REJECTED, "no")
    assert [k.knock_id for k in room.pending()] == ["k2"]


def test_host_view_has_no_owner_or_address():
    k = Knock("k1", "Gus", 0, owner=object(), ip="10.0.0.1")
    assert set(k.for_hosts(5)) == {"knockId", "displayName", "state", "knockedAt", "waitedMs"}


def test_cooldown_expires():
    c = Cooldowns()
    c.add("a", now=100.0, seconds=30)
    assert c.remaining("a", 110.0) == pytest.approx(20.0)
    assert c.remaining("b", 110.0) == 0
    assert c.remaining("a", 130.0) == 0


def test_rate_limit_sliding_window():
    r = RateLimiter(limit=3, window=60)
    assert [r.hit("ip", t) for t in (0, 1, 2)] == [0, 0, 0]
    assert r.hit("ip", 3) == pytest.approx(57)
    assert r.hit("other", 3) == 0
    assert r.hit("ip", 60.5) == 0          # the first event left the window
