"""The node's load gauge (docs/architecture.md "Limits"; issue 17 "Graceful overload").

A cheap probe on the event loop: every ``interval`` (0.1 s) it sleeps and measures how late it woke
up (the loop's lag), and once a second it samples the forwarded packet counter and the process
CPU time. From these it keeps recent window statistics (lag p50/p99/max over ``window`` seconds,
forwarded packets/s, CPU fraction of one core over the last second and sustained over ``cpu_window``
seconds, 10) and a ``busy`` flag with hysteresis:

- busy when the lag p99 of the window exceeds ``lag_limit`` (50 ms) while this process itself uses
  at least ``LAG_CPU_SHARE`` (half) of a core, or the process uses more than ``cpu_limit`` (0.9) of a
  core, or ``max_forward_pps`` is set and forwarding is above it. The CPU in both rules is the
  sustained figure: a burst of joins takes a core for a second or two (DTLS handshakes, negotiation)
  and then is over, and refusing the rest of that burst would not help the sessions in (at 250
  streams the one-second rule refused joins of every 100-join step, and the node never held more
  than ~300 streams). A lagging loop in a process that is mostly idle (a neighbour took the CPU)
  refuses nobody either: a lightly loaded server must not turn people away;
- no longer busy when all three are comfortably below (lag p99 < lag_limit / 2, CPU < cpu_limit
  - 0.1, packets/s < 0.9 x the budget), so the flag does not flap around the threshold.

While busy, signaling refuses new joins with ``server_busy`` and a cluster node gets no new
meetings; sessions already in keep going. Nothing here runs per packet: the counter is read once a
second. ``decide`` and ``Window`` are pure (unit-tested without a loop).
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from typing import Callable, Optional

import structlog

log = structlog.get_logger("media.load")

# histogram buckets of the loop lag (seconds), exported as antechamber_event_loop_lag_seconds
LAG_CPU_SHARE = 0.5   # the loop's lag counts toward busy only when this process uses this much of a core
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def decide(busy: bool, lag_p99: float, cpu: float, pps: float, *, lag_limit: float, cpu_limit: float,
           max_pps: Optional[float]) -> bool:
    """The next busy flag from the current one and the window's figures (hysteresis). A ``cpu_limit``
    of 0 turns the CPU rules off (then the lag alone decides)."""
    over_pps = max_pps is not None and pps > max_pps
    cpu_rules = cpu_limit > 0
    if not busy:
        return ((lag_p99 > lag_limit and (not cpu_rules or cpu >= LAG_CPU_SHARE))
                or (cpu_rules and cpu > cpu_limit) or over_pps)
    calm = (lag_p99 < lag_limit / 2 and (not cpu_rules or cpu < cpu_limit - 0.1)
            and (max_pps is None or pps < 0.9 * max_pps))
    return not calm


class Window:
    """Lag samples of the last ``seconds``, with cumulative histogram counts since start."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.samples: deque[tuple[float, float]] = deque()
        self.buckets = [0] * (len(LAG_BUCKETS) + 1)     # the last one: +Inf
        self.count = 0
        self.sum = 0.0

    def add(self, now: float, lag: float) -> None:
        self.samples.append((now, lag))
        while self.samples and self.samples[0][0] < now - self.seconds:
            self.samples.popleft()
        self.buckets[bisect.bisect_left(LAG_BUCKETS, lag)] += 1
        self.count += 1
        self.sum += lag

    def quantile(self, q: float) -> float:
        values = sorted(lag for _, lag in self.samples)
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(q * len(values)))]

    def maximum(self) -> float:
        return max((lag for _, lag in self.samples), default=0.0)

    def histogram(self) -> list[tuple[str, int]]:
        """Cumulative (le, count) pairs in Prometheus' form."""
        out, total = [], 0
        for bound, n in zip([*map(str, LAG_BUCKETS), "+Inf"], self.buckets):
            total += n
            out.append((bound, total))
        return out


class LoadGauge:
    """``packets``: forwarded packets since start (read once a second); ``max_forward_pps``: the
    operator's budget (None = auto: lag and CPU only)."""

    def __init__(self, packets: Callable[[], int], *, max_forward_pps: Optional[float] = None,
                 lag_limit: float = 0.05, cpu_limit: float = 0.9, interval: float = 0.1,
                 window: float = 3.0, sample_every: float = 1.0, cpu_window: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 cpu_clock: Callable[[], float] = time.process_time) -> None:
        self.packets = packets
        self.max_forward_pps = max_forward_pps
        self.lag_limit, self.cpu_limit = lag_limit, cpu_limit
        self.interval, self.sample_every = interval, sample_every
        self.clock, self.cpu_clock = clock, cpu_clock
        self.lags = Window(window)
        self.pps = 0.0
        self.cpu = 0.0              # fraction of a core over the last sample
        self.cpu_sustained = 0.0    # ... over the last cpu_window seconds: what the busy rules read
        self.cpu_window = cpu_window
        self._cpu_samples: deque[tuple[float, float]] = deque()    # (wall, process CPU time)
        self.busy = False
        self.busy_since: Optional[float] = None
        self._task: Optional[asyncio.Task] = None
        self._last: Optional[tuple[float, float, int]] = None      # (wall, cpu, packets)

    # --- the probe ---

    def start(self) -> None:
        if self._task is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return          # no loop yet: started by the first room or MediaService.start
            self._task = loop.create_task(self._run(), name="load-gauge")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        next_sample = self.clock()
        while True:
            before = self.clock()
            await asyncio.sleep(self.interval)
            now = self.clock()
            self.lags.add(now, max(0.0, now - before - self.interval))
            if now >= next_sample:
                next_sample = now + self.sample_every
                try:
                    self.sample(now)
                except Exception:       # a counter that fails must not stop the probe
                    log.exception("load sample failed")

    def sample(self, now: float) -> None:
        """Read the counters, update packets/s and CPU, and the busy flag."""
        cpu_now, packets = self.cpu_clock(), int(self.packets())
        if self._last is not None:
            wall, cpu, count = self._last
            span = now - wall
            if span > 0:
                self.pps = max(0, packets - count) / span
                self.cpu = max(0.0, cpu_now - cpu) / span
        self._last = (now, cpu_now, packets)
        samples = self._cpu_samples
        samples.append((now, cpu_now))
        while len(samples) > 2 and samples[1][0] <= now - self.cpu_window:
            samples.popleft()
        span = now - samples[0][0]
        if span > 0:
            self.cpu_sustained = max(0.0, cpu_now - samples[0][1]) / span
        self.update(now)

    def update(self, now: float) -> None:
        busy = decide(self.busy, self.lags.quantile(0.99), self.cpu_sustained, self.pps, lag_limit=self.lag_limit,
                      cpu_limit=self.cpu_limit, max_pps=self.max_forward_pps)
        if busy != self.busy:
            log.warning("node busy: refusing new joins" if busy else "node no longer busy: accepting joins",
                        lag_p99_ms=round(self.lags.quantile(0.99) * 1000, 1), cpu=round(self.cpu_sustained, 2),
                        forwarded_pps=round(self.pps), max_forward_pps=self.max_forward_pps)
            self.busy = busy
            self.busy_since = now if busy else None

    # --- what the metrics and the cluster read ---

    def stats(self) -> dict[str, float]:
        return {"lag_p50": self.lags.quantile(0.5), "lag_p99": self.lags.quantile(0.99),
                "lag_max": self.lags.maximum(), "forwarded_pps": self.pps, "cpu": self.cpu,
                "cpu_sustained": self.cpu_sustained,
                "busy": float(self.busy)}
