"""Pure rules of media/forward/congestion.py: the publisher's REMB is the minimum of
its subscribers' live estimates and the server's own; stale ones expire."""

from __future__ import annotations

import gc
import weakref

import pytest
from hypothesis import given, strategies as st

from media.forward import congestion
from media.forward.congestion import Congestion


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_minimum_of_subscribers_and_server() -> None:
    clock = Clock()
    c = Congestion(clock=clock)
    assert c.minimum() is None
    assert c.server(2_000_000) == 2_000_000
    c.subscriber("fast", 3_000_000)
    c.subscriber("slow", 250_000)
    assert c.minimum() == 250_000
    assert c.server(2_000_000) == 250_000
    c.forget("slow")
    assert c.server(2_000_000) == 2_000_000


def test_stale_estimates_expire() -> None:
    clock = Clock()
    c = Congestion(expiry=5.0, clock=clock)
    c.subscriber("slow", 250_000)
    clock.t += 4.9
    assert c.server(1_000_000) == 250_000
    clock.t += 0.2
    assert c.server(1_000_000) == 1_000_000
    assert c.subscribers() == {}


def test_push_when_minimum_falls_or_subscriber_leaves() -> None:
    clock = Clock()
    c = Congestion(min_interval=1.0, clock=clock)
    pushed: list[int] = []
    c.push = pushed.append
    c.server(1_000_000)
    c.subscriber("fast", 3_000_000)      # minimum unchanged (server's 1 Mbit/s): nothing pushed
    assert pushed == []
    c.subscriber("slow", 300_000)        # falls by > 10 %: pushed at once
    assert pushed == [300_000]
    c.subscriber("slow", 290_000)        # small change within min_interval: not yet
    assert pushed == [300_000]
    clock.t += 1.0
    c.subscriber("slow", 280_000)
    assert pushed == [300_000, 280_000]
    c.forget("slow")                     # leaves: the minimum rises at once
    assert pushed[-1] == 1_000_000


def test_negative_bitrate_refused() -> None:
    with pytest.raises(ValueError):
        Congestion().subscriber("x", -1)


def test_of_follows_the_publication() -> None:
    class Pub:
        pass

    pub = Pub()
    c = congestion.of(pub)
    assert congestion.of(pub) is c and congestion.of(Pub()) is not c
    c.push = lambda bps, pub=pub: None     # a push that reaches back to the publication (as the m-line's does)
    ref = weakref.ref(pub)
    del pub, c
    gc.collect()
    assert ref() is None                   # nothing global keeps it (or its peer connection) alive


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 10**8), st.floats(0, 3)), max_size=40),
       st.integers(0, 10**8))
def test_result_is_min_of_live_estimates(events: list[tuple[int, int, float]], own: int) -> None:
    clock = Clock()
    c = Congestion(expiry=5.0, clock=clock)
    last: dict[int, tuple[int, float]] = {}
    for key, bitrate, dt in events:
        clock.t += dt
        c.subscriber(key, bitrate)
        last[key] = (bitrate, clock.t)
    live = [b for b, at in last.values() if at >= clock.t - 5.0]
    assert c.server(own) == min(live + [own])
