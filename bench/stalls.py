"""Where the event loop is when it is late, on the server's own loop (uvloop):
`python bench/stalls.py OUT -- SCRIPT ARGS...`.

bench/loop_steps.py times every callback, but only on asyncio's slower loop; the load gauge's probe
(media/load.py) measures the real loop's lag 10 times a second, too seldom to say what a 20-50 ms
lateness was. This runs SCRIPT (a console script such as `.venv/bin/antechamber`) with

- a ticker on the server's loop (started when aiohttp sets up its runner): every TICK seconds it
  records how late it ran, as a task woken from ``asyncio.sleep`` would: the loop's lag, 200
  samples a second;
- the Python stack sampled every SAMPLE seconds of wall time (ITIMER_REAL: the CPU-time timer of
  bench/sampler.py ticks only at the kernel's HZ, 4 ms here; a thread sampling the main thread would
  land where the GIL is released). A signal that comes while the loop waits for I/O is handled in
  the next callback, so samples say what ran while the loop was busy, and only then.

Each tick later than STALL_MS is a stall: the samples between the tick's due time and the time it
ran say what ran meanwhile — by callback (the outermost frame above the loop), by innermost frame,
and by the innermost frame of the project's own code (server/, signaling/, media/: which of its
functions was running, whatever library it was in) — and the process's CPU time since the tick
before says whether the loop was computing (a share of ~1) or off the CPU (preempted, or blocked in
a system call). SIGUSR1 starts a window
afresh, SIGUSR2 writes OUT-1.json (then -2...); the run's end writes OUT.json if no window was.
bench/vs_janus.py --stalls OUT sets the window over each step's 50 joins.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import json
import runpy
import signal
import sys
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sampler import describe_code, windows  # noqa: E402

TICK = 0.005       # seconds between two lag measurements
SAMPLE = 0.001     # seconds between two stack samples (wall clock: the CPU-time timer ticks at HZ)
STALL_MS = 15.0
BASE = "run_app"    # the frame that runs the loop (aiohttp.web.run_app): above it, a callback runs
OWN = tuple(str(Path(__file__).resolve().parent.parent / d) + "/" for d in ("server", "signaling", "media"))


class Watch:
    def __init__(self) -> None:
        self.samples: collections.deque[tuple[float, tuple[str, str, str]]] = collections.deque(maxlen=50000)
        self.clear()

    def clear(self) -> None:
        self.lags: list[float] = []
        self.stalls: list[tuple[float, float, float]] = []     # (due, ran, CPU share), monotonic
        self.t0 = time.monotonic()

    # --- in the loop ---------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """A timer every TICK whose callback, like a task woken by ``asyncio.sleep``, measures from the
        ready queue: uvloop runs its timers first in an iteration and the ready callbacks after them, so a
        timer measured in its own callback misses what a sleeping task waits for."""
        def ready(due: float, since: float, cpu: float) -> None:
            now, cpu_now = time.monotonic(), time.process_time()
            late = now - due
            self.lags.append(late)
            if late * 1000 > STALL_MS:      # the CPU share since the tick before
                self.stalls.append((due, now, (cpu_now - cpu) / max(1e-6, now - since)))
            loop.call_later(TICK, loop.call_soon, ready, now + TICK, now, cpu_now)
        now = time.monotonic()
        loop.call_later(TICK, loop.call_soon, ready, now + TICK, now, time.process_time())

    # --- the sampling signal (SIGALRM): in the main thread, between two bytecodes ---------

    def sample(self, signum: int, frame: Any) -> None:
        if frame is None:
            return
        leaf, outer, own = describe_code(frame.f_code), frame, None
        while outer.f_back is not None and outer.f_back.f_code.co_name != BASE:
            if own is None and outer.f_code.co_filename.startswith(OWN):
                own = outer
            outer = outer.f_back
        own_name = describe_code(own.f_code) if own is not None else "(none)"
        self.samples.append((time.monotonic(), (describe_code(outer.f_code), leaf, own_name)))

    # --- the report ----------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        samples = list(self.samples)
        times = [t for t, _ in samples]
        lags = sorted(self.lags)

        def q(f: float) -> Optional[float]:
            return round(lags[min(len(lags) - 1, int(f * len(lags)))] * 1000, 1) if lags else None

        by_callback: collections.Counter[str] = collections.Counter()
        by_leaf: collections.Counter[str] = collections.Counter()
        by_own: collections.Counter[str] = collections.Counter()
        stalls = []
        for due, ran, cpu in self.stalls:
            inside = [w for _, w in samples[bisect.bisect_left(times, due):bisect.bisect_right(times, ran)]]
            by_callback.update(w[0] for w in inside)
            by_leaf.update(w[1] for w in inside)
            by_own.update(w[2] for w in inside)
            stalls.append({"late_ms": round((ran - due) * 1000, 1), "cpu_share": round(cpu, 2),
                           "callbacks": collections.Counter(w[0] for w in inside).most_common(4)})
        stalls.sort(key=lambda s: -s["late_ms"])
        return {"seconds": round(time.monotonic() - self.t0, 1), "ticks": len(lags),
                "lag_ms": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": q(1.0)},
                "stalls_over_ms": STALL_MS, "stalls": len(self.stalls),
                "stall_samples_by_callback": by_callback.most_common(25),
                "stall_samples_by_leaf": by_leaf.most_common(25),
                "stall_samples_by_own_frame": by_own.most_common(30), "longest": stalls[:15]}


def main() -> None:
    out, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, __doc__
    watch = Watch()

    import aiohttp.web_runner as runner

    setup = runner.BaseRunner.setup

    async def setup_and_watch(self: Any, *args: Any, **kwargs: Any) -> Any:
        watch.start(asyncio.get_running_loop())
        return await setup(self, *args, **kwargs)

    runner.BaseRunner.setup = setup_and_watch   # type: ignore[method-assign]

    def write(name: str) -> None:
        Path(name + ".json").write_text(json.dumps(watch.report(), indent=1) + "\n")

    windows(out, "stalls", write, watch.clear, signal.ITIMER_REAL)
    signal.signal(signal.SIGALRM, watch.sample)
    signal.setitimer(signal.ITIMER_REAL, SAMPLE, SAMPLE)
    sys.argv = cmd
    runpy.run_path(cmd[0], run_name="__main__")


if __name__ == "__main__":
    main()
