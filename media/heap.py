"""Garbage-collector pacing for the forwarding loop (docs/architecture.md "Observability"; issue 17
"Joins off the hot path").

CPython's full (generation 2) collection walks every container object in the process, on the event
loop's thread. A peer connection is thousands of objects, so on a node with 200 subscribers one
full collection took 150–370 ms (py-spy and gc callbacks, bench/vs_janus.py) — and the collector
starts one whenever the long-lived heap has grown by a quarter, which is exactly what 50 joins on
top of 200 streams do. For that long no packet is forwarded.

The pacer keeps the full collections small instead: every ``freeze_every`` seconds it collects the
young generations and moves what survived into the permanent generation (``gc.freeze()``), which
the collector never walks. Objects that become garbage after they were frozen (a participant that
left, held in reference cycles) stay until the next *complete* collection, ``gc.unfreeze()`` then
``gc.collect()``: the pacer runs one when the room of the departed is large — as many people left
since the last one as half the number still here (at least ``MIN_LEFT``) — or when nobody is left,
so the memory held back stays bounded by about half the live participants' worth and the pause
falls where it costs least.

Every collection's pause is exported as ``antechamber_gc_pause_seconds{generation}`` (callbacks on
``gc.callbacks``: two clock reads per collection, nothing per packet). Off by default in the
library (the test suite runs many apps in one process and checks that closed connections are
collected); ``antechamber serve`` turns it on (``--gc-pacing``, default on).
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import time
from typing import Callable, Optional

import structlog

log = structlog.get_logger("media.heap")

MIN_LEFT = 20           # departures before a complete collection is worth its pause (unless none are left)
PAUSE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


def collect_all_due(left: int, present: int) -> bool:
    """Whether the frozen heap should be walked now, `left` people having gone since the last complete
    collection and `present` still here. Pure."""
    if left <= 0:
        return False
    return present == 0 or left >= max(MIN_LEFT, present // 2)


class GcPauses:
    """Every collection's pause per generation: counts per bucket of ``PAUSE_BUCKETS`` (+Inf last)
    and sums, read by /metrics (server/observability). Installed on gc.callbacks once per
    process however many services start."""

    _installed: Optional["GcPauses"] = None

    def __init__(self) -> None:
        self.buckets = {g: [0] * (len(PAUSE_BUCKETS) + 1) for g in range(3)}
        self.sums = {g: 0.0 for g in range(3)}
        self.counts = {g: 0 for g in range(3)}
        self._start = 0.0

    @classmethod
    def install(cls) -> "GcPauses":
        if cls._installed is None:
            cls._installed = cls()
            gc.callbacks.append(cls._installed.on_collection)
        return cls._installed

    def on_collection(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        pause = time.perf_counter() - self._start
        g = info.get("generation", 2)
        self.counts[g] += 1
        self.sums[g] += pause
        self.buckets[g][bisect.bisect_left(PAUSE_BUCKETS, pause)] += 1

    def histogram(self, generation: int) -> list[tuple[str, int]]:
        """Cumulative (le, count) pairs in Prometheus' form."""
        out, total = [], 0
        for bound, n in zip([*map(str, PAUSE_BUCKETS), "+Inf"], self.buckets[generation]):
            total += n
            out.append((bound, total))
        return out


class HeapPacer:
    """Freezes the settled heap every ``freeze_every`` seconds and walks it completely when enough
    participants have left (``departed()`` per departure, ``present()`` for who is still here); see
    the module docstring."""

    def __init__(self, present: Callable[[], int], *, freeze_every: float = 5.0, tick: float = 1.0) -> None:
        self._present = present
        self.freeze_every = freeze_every
        self.tick = tick
        self.left = 0               # departures since the last complete collection (`departed`)
        self.complete_collections = 0
        self.freezes = 0            # gc.freeze() calls (gc.get_freeze_count() walks the whole list: not per scrape)
        self.last_complete_pause = 0.0
        self._task: Optional[asyncio.Task] = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="heap-pacer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        gc.unfreeze()               # what was frozen is the collector's again

    async def _run(self) -> None:
        last_freeze = time.monotonic()
        while True:
            await asyncio.sleep(self.tick)
            now = time.monotonic()
            due = now - last_freeze >= self.freeze_every
            if due:
                last_freeze = now
            try:
                self.step(due)
            except Exception:   # noqa: BLE001 - pacing is an optimisation: never let it end silently
                log.exception("heap pacing step failed")

    def departed(self) -> None:
        """One participant was removed (MediaRoom calls this): what it held may be frozen garbage now."""
        self.left += 1

    def step(self, freeze_due: bool) -> None:
        present = self._present()
        if collect_all_due(self.left, present):
            started = time.perf_counter()
            frozen = gc.get_freeze_count()      # walks the frozen list: fine once per complete collection
            gc.unfreeze()
            freed = gc.collect()
            gc.freeze()
            self.last_complete_pause = time.perf_counter() - started
            self.complete_collections += 1
            log.info("heap collected completely", left=self.left, present=present, frozen_before=frozen,
                     freed=freed, seconds=round(self.last_complete_pause, 3))
            self.left = 0
        elif freeze_due:
            gc.collect(1)           # the young generations' garbage, not frozen with the rest
            gc.freeze()
            self.freezes += 1
