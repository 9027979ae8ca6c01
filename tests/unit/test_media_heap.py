"""Garbage-collector pacing (media/heap.py): frozen objects are out of the collector's sight until
enough participants have left, then one complete collection frees what they left in cycles."""

from __future__ import annotations

import gc
import weakref

from hypothesis import given, strategies as st

from media.heap import MIN_LEFT, GcPauses, HeapPacer, collect_all_due


class Cycle:
    def __init__(self) -> None:
        self.me = self


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_a_complete_collection_is_due_after_enough_departures_or_when_nobody_is_left(left, present):
    due = collect_all_due(left, present)
    if left == 0:
        assert not due
    elif present == 0:
        assert due
    else:
        assert due == (left >= max(MIN_LEFT, present // 2))


def test_frozen_garbage_waits_for_the_complete_collection_after_departures():
    people = [30]
    pacer = HeapPacer(lambda: people[0])
    try:
        pacer.step(freeze_due=False)                  # 30 here: nothing to do
        obj = Cycle()
        ref = weakref.ref(obj)
        pacer.step(freeze_due=True)                   # young garbage collected, the rest frozen
        assert pacer.freezes == 1 and gc.get_freeze_count() > 0
        del obj
        gc.collect()
        assert ref() is not None                      # frozen: the collector no longer sees it
        for _ in range(5):
            people[0] -= 1
            pacer.departed()
        pacer.step(freeze_due=False)                  # 5 left: not worth a complete collection yet
        assert ref() is not None and pacer.complete_collections == 0 and pacer.left == 5
        for _ in range(25):
            people[0] -= 1
            pacer.departed()
        pacer.step(freeze_due=False)                  # everyone gone: the frozen heap is walked
        assert ref() is None
        assert pacer.complete_collections == 1 and pacer.left == 0
    finally:
        gc.unfreeze()


def test_every_collection_pause_is_measured():
    pauses = GcPauses.install()
    assert GcPauses.install() is pauses               # once per process
    before = pauses.counts[2]
    gc.collect()
    assert pauses.counts[2] == before + 1
    hist = pauses.histogram(2)
    assert hist[-1] == ("+Inf", pauses.counts[2]) and pauses.sums[2] > 0
