"""The node's load gauge (docs/architecture.md "Limits"; issue 17 "Graceful overload").

A cheap probe on the event loop: every ``interval`` (0.1 s) it sleeps and measures how late it woke
up (the loop's lag), and once a second it samples the forwarded packet counter and the process
CPU time. From these it keeps recent window statistics (lag p50/p99/max over ``window`` seconds,
forwarded packets/s, CPU fraction of one core over the last second and sustained over ``cpu_window``
seconds, 10) and a ``busy`` flag with hysteresis:

- busy when a tenth of the window's lag samples (``LAG_QUANTILE``: its p90) exceed ``lag_limit``
  (50 ms; 0: this rule is off) while this process itself uses at least ``LAG_CPU_SHARE`` (half) of
  a core, or the process uses more than ``cpu_limit`` (0.9) of a core, or ``max_forward_pps`` is
  set and forwarding is above it. The CPU in both rules is the sustained figure: a burst of joins takes a core for a second or two (DTLS handshakes, negotiation)
  and then is over, and refusing the rest of that burst would not help the sessions in (at 250
  streams the one-second rule refused joins of every 100-join step, and the node never held more
  than ~300 streams). A lagging loop in a process that is mostly idle (a neighbour took the CPU)
  refuses nobody either: a lightly loaded server must not turn people away;
- no longer busy when all three are comfortably below (lag p90 < lag_limit / 2, CPU < cpu_limit
  - 0.1, packets/s < 0.9 x the budget), so the flag does not flap around the threshold;
- the CPU is "sustained" only once the gauge has measured half of ``cpu_window``: before that
  (a node that has just started) its figure is the start-up's own work, and with one stall of the
  loop (a neighbour starting, the first imports) a fresh node refused the second person of its
  first meeting (a browser test on a busy machine: lag 1.1 s at 0.61 of a core, 2 s after start),
  so until then only the packet budget applies.

The sustained CPU lags a burst of joins by up to ``cpu_window``: 264 newcomers of one burst were all
admitted to a node already at 0.64 of a core, which then ran at a whole core and its held streams
lost 15 % of their packets (issue 17 note, rooms of 4 x 4 at 592 streams). So ``refuses()`` also
projects: the CPU per stream forwarded (``streams``, sampled each second) in a *quiet* second — one in
which the stream count did not change, with at least ``MIN_STREAMS`` — at its lowest over the last
``QUIET_FOR`` seconds (a second that still pays for handshakes costs more per stream, and must not be
taken for forwarding: a node filling from empty was refused at a fifth of a core when the window's
average was used), times the streams forwarded now, past ``cpu_limit``, refuses the next newcomer at
once: each admitted join raises the stream count immediately, before any of its packets cost
anything (``QuietCost``, pure). Without a quiet second in that time (a node still filling), or with
the CPU rules off, nothing is projected.

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
# The lag figure the busy rule reads: the window's p90. The probe takes 10 samples a second, so over 3 s
# a p99 is the one latest sample: a single stall (a burst of joins, one collection) past the limit made
# a node refuse every newcomer for the next 3 s. An overloaded loop is late at every wake-up, and its
# p90 says so as well as its p99 (issue 17 note; tests/unit/test_media_load.py).
LAG_QUANTILE = 0.9
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


MIN_STREAMS = 20      # streams forwarded before a second's CPU per stream is measured
QUIET_FOR = 60.0      # seconds over which the lowest quiet second's CPU per stream is kept


class QuietCost:
    """The lowest CPU per stream of the quiet seconds (stream count unchanged since the last sample,
    at least MIN_STREAMS) of the last QUIET_FOR seconds."""

    def __init__(self) -> None:
        self._seconds: deque[tuple[float, float]] = deque()   # (when, CPU per stream)
        self._last_streams: Optional[int] = None

    def add(self, now: float, cpu: float, streams: int) -> None:
        if streams == self._last_streams and streams >= MIN_STREAMS:
            self._seconds.append((now, cpu / streams))
        self._last_streams = streams
        while self._seconds and self._seconds[0][0] < now - QUIET_FOR:
            self._seconds.popleft()

    def per_stream(self, now: float) -> Optional[float]:
        fresh = [cost for when, cost in self._seconds if when >= now - QUIET_FOR]
        return min(fresh) if fresh else None


def decide(busy: bool, lag: float, cpu: float, pps: float, *, lag_limit: float, cpu_limit: float,
           max_pps: Optional[float]) -> bool:
    """The next busy flag from the current one and the window's figures (``lag``: its LAG_QUANTILE;
    hysteresis). A ``cpu_limit`` of 0 turns the CPU rules off (then the lag alone decides); a
    ``lag_limit`` of 0 turns the lag rule off (then the CPU and the packet budget decide)."""
    over_pps = max_pps is not None and pps > max_pps
    cpu_rules, lag_rule = cpu_limit > 0, lag_limit > 0
    if not busy:
        return ((lag_rule and lag > lag_limit and (not cpu_rules or cpu >= LAG_CPU_SHARE))
                or (cpu_rules and cpu > cpu_limit) or over_pps)
    calm = ((not lag_rule or lag < lag_limit / 2) and (not cpu_rules or cpu < cpu_limit - 0.1)
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

    def __init__(self, packets: Callable[[], int], *, streams: Callable[[], int] = lambda: 0,
                 max_forward_pps: Optional[float] = None,
                 lag_limit: float = 0.05, cpu_limit: float = 0.9, interval: float = 0.1,
                 window: float = 3.0, sample_every: float = 1.0, cpu_window: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 cpu_clock: Callable[[], float] = time.process_time) -> None:
        self.packets = packets
        self.streams = streams
        self.quiet = QuietCost()     # CPU per stream forwarded, for the projection in refuses()
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
                self.quiet.add(now, self.cpu, int(self.streams()))
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
        samples = self._cpu_samples     # measured for half of cpu_window yet? before: the start-up's (docstring)
        settled = len(samples) > 1 and samples[-1][0] - samples[0][0] >= self.cpu_window / 2
        cpu = self.cpu_sustained if settled else 0.0
        lag = self.lags.quantile(LAG_QUANTILE)
        busy = decide(self.busy, lag, cpu, self.pps, lag_limit=self.lag_limit,
                      cpu_limit=self.cpu_limit, max_pps=self.max_forward_pps)
        if busy != self.busy:
            log.warning("node busy: refusing new joins" if busy else "node no longer busy: accepting joins",
                        lag_p90_ms=round(lag * 1000, 1), lag_p99_ms=round(self.lags.quantile(0.99) * 1000, 1),
                        cpu=round(self.cpu_sustained, 2),
                        forwarded_pps=round(self.pps), max_forward_pps=self.max_forward_pps)
            self.busy = busy
            self.busy_since = now if busy else None

    def refuses(self) -> bool:
        """Whether a newcomer is refused now: busy, or the streams forwarded now would take more than
        `cpu_limit` at the CPU per stream of the quietest recent second (the module docstring)."""
        if self.busy:
            return True
        cost = self.quiet.per_stream(self.clock()) if self.cpu_limit > 0 else None
        return cost is not None and cost * int(self.streams()) > self.cpu_limit

    # --- what the metrics and the cluster read ---

    def stats(self) -> dict[str, float]:
        return {"lag_p50": self.lags.quantile(0.5), "lag_p90": self.lags.quantile(LAG_QUANTILE),
                "lag_p99": self.lags.quantile(0.99),
                "lag_max": self.lags.maximum(), "forwarded_pps": self.pps, "cpu": self.cpu,
                "cpu_sustained": self.cpu_sustained,
                "busy": float(self.busy)}
