"""Fan-out in slices (media/forward/fanout.py): every subscriber gets every packet in arrival order,
at most SLICE copies run per loop callback (other callbacks run between slices), and a full backlog
drops the oldest packet's unsent copies instead of growing. Pure scheduling logic on a real loop;
the subscriptions record what they were sent."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings, strategies as st

from media.forward import copy
from media.forward.fanout import MAX_BACKLOG, SLICE, Fanout


class Recorder:
    """Stands in for a copy (media/forward/copy.py): records the payload of what it is sent."""

    def __init__(self, log: list) -> None:
        self.got: list[int] = []
        self.log = log

    def forward(self, payload, seq, ts, marker, abs24, level, now) -> None:
        self.got.append(payload)
        self.log.append(("copy", payload))


def pkt(n: int) -> tuple:
    """What the publication passes: Copy.forward's arguments, `n` as the payload."""
    return (n, 0, 0, 0, 0, -1, 0.0)


async def drained(fanout: Fanout) -> None:
    for _ in range(100_000):
        if not fanout.pending():
            return
        await asyncio.sleep(0)
    raise AssertionError("the backlog never drained")


async def test_a_small_fanout_is_sent_at_once():
    log: list = []
    subs = tuple(Recorder(log) for _ in range(SLICE))
    fanout = Fanout(copy.fan)
    fanout.set(subs)
    fanout.send(pkt(7))
    assert all(s.got == [7] for s in subs) and fanout.pending() == 0


async def test_a_large_fanout_yields_between_slices_and_keeps_each_subscribers_order():
    log: list = []
    subs = tuple(Recorder(log) for _ in range(SLICE * 4 + 10))
    fanout = Fanout(copy.fan)
    fanout.set(subs)
    loop = asyncio.get_running_loop()
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1
        log.append(("other", ticks))
        if fanout.pending():
            loop.call_soon(tick)

    for packet in range(5):        # a burst: five packets arrive together
        fanout.send(pkt(packet))
        if packet == 0:
            loop.call_soon(tick)
    await drained(fanout)
    assert all(s.got == [0, 1, 2, 3, 4] for s in subs)
    run = longest = 0              # copies in a row without another callback between them
    for kind, _ in log:
        run = run + 1 if kind == "copy" else 0
        longest = max(longest, run)
    assert longest <= SLICE * 2    # a packet's first slice can follow the previous one's last
    assert ticks >= 5


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 300)), min_size=1, max_size=40))
def test_any_burst_and_membership_change_keeps_order_and_loses_nothing(steps):
    """Packets interleaved with loop turns and subscriber changes: each subscriber gets, in order,
    exactly the packets sent while it was in the tuple."""

    async def run() -> None:
        log: list = []
        pool = [Recorder(log) for _ in range(300)]
        fanout = Fanout(copy.fan)
        expected: dict[int, list[int]] = {i: [] for i in range(300)}
        for n, (turns, size) in enumerate(steps):
            fanout.set(tuple(pool[:size]))
            fanout.send(pkt(n))
            for i in range(size):
                expected[i].append(n)
            for _ in range(turns):
                await asyncio.sleep(0)
        await drained(fanout)
        assert all(pool[i].got == expected[i] for i in range(300))

    asyncio.run(run())


async def test_a_full_backlog_drops_the_oldest_packets_copies():
    log: list = []
    subs = tuple(Recorder(log) for _ in range(SLICE * 2))
    fanout = Fanout(copy.fan)
    fanout.set(subs)
    for packet in range(MAX_BACKLOG + 3):      # the loop never turns meanwhile
        fanout.send(pkt(packet))
    assert fanout.pending() == MAX_BACKLOG
    # the first packet's first slice went out at once; the three oldest lost every copy not yet sent
    assert fanout.dropped == SLICE + 2 * len(subs)
    await drained(fanout)
    assert subs[-1].got == list(range(3, MAX_BACKLOG + 3))
    assert subs[0].got == [0, *range(3, MAX_BACKLOG + 3)]
