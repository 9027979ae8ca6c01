"""`QuickRateCounter` (media/aiortc_compat/lean_receive.py) gives aiortc's `RateCounter` results
(the REMB estimator's incoming bitrate) for any sequence of adds, rates and resets, arrival times
going forward, standing still, jumping past the window or stepping back; and carries on from a
running counter's state."""

from __future__ import annotations

from aiortc.rate import RateCounter
from hypothesis import given, settings, strategies as st

from media.aiortc_compat.lean_receive import QuickRateCounter

steps = st.lists(st.tuples(st.sampled_from(["add", "add", "add", "rate", "reset"]),
                           st.integers(-20, 120), st.integers(0, 1500)), max_size=120)


def run(counter, script, start: int) -> tuple[list, int]:
    now, out = start, []
    for op, advance, size in script:
        now += advance
        if op == "add":
            counter.add(size, now)
        elif op == "rate":
            out.append(counter.rate(now))
        else:
            counter.reset()
        out.append(counter.rate(now))
    return out, now


@settings(max_examples=300, deadline=None)
# windows of 1-50 ms (aiortc uses 1000: the same code, only slower to step through)
@given(window=st.sampled_from([1, 7, 50]), before=steps, after=steps, start=st.integers(0, 10**12),
       gap=st.integers(0, 200))
def test_same_rates_as_aiortc(window, before, after, start, gap):
    stock, other = RateCounter(window, 8000), RateCounter(window, 8000)
    first, now = run(stock, before, start)
    assert run(other, before, start) == (first, now)
    quick = QuickRateCounter(other)          # taken over mid-stream
    assert run(quick, after, now + gap) == run(stock, after, now + gap)


def test_a_long_gap_empties_the_window():
    quick = QuickRateCounter(RateCounter(1000, 8000))
    for t in range(0, 500, 5):
        quick.add(1200, 10_000 + t)
    assert quick.rate(10_500) == round(8000 * 100 * 1200 / 501)
    assert quick.rate(20_000) is None        # nothing in the last second
