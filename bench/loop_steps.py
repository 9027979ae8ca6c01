"""What makes the event loop late: `python bench/loop_steps.py OUT -- SCRIPT ARGS...`.

The loop's lag (issue 17: p99 < 20 ms while 50 subscribers join) is the time one loop iteration
spends in the callbacks that were ready at its start. This runs SCRIPT (a console script such as
`.venv/bin/antechamber`) on asyncio's own loop instead of uvloop (uvloop's callbacks cannot be
timed from Python; asyncio's loop is slower, so the figures are an upper bound) and times every
callback (`asyncio.events.Handle._run`) and every loop iteration. It records

- each callback that took longer than STEP_MS: by what it was (a task's chain of awaited
  coroutines; another callback's function), count, total and longest;
- iterations longer than ITER_MS: how many, how many callbacks they ran, and what their callbacks
  longer than PART_MS were (the lag is mostly many short callbacks ready at once, not one long one);
- a CPU-time sample (ITIMER_PROF, every 2 ms) of the Python stack whenever the callback running has
  already taken more than STEP_MS: where the long callbacks spend their time.

SIGUSR1 starts a window afresh, SIGUSR2 writes OUT-1.json (then -2...); the run's end writes OUT.json
if no window was written. bench/vs_janus.py --loop-steps OUT sets the window over the 50 joins.
"""

from __future__ import annotations

import asyncio
import collections
import json
import runpy
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sampler import describe_code as _where, windows  # noqa: E402

STEP_MS = 5.0
ITER_MS = 20.0
PART_MS = 0.2     # in a long iteration: its callbacks longer than this, by what they were
INTERVAL = 0.002


def _describe(handle: Any) -> str:
    cb = handle._callback
    task = getattr(cb, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        names = []
        while coro is not None and hasattr(coro, "cr_code"):
            names.append(coro.cr_code.co_qualname)
            coro = coro.cr_await
        return "task " + " > ".join(names[:4])
    fn = getattr(cb, "__func__", cb)
    code = getattr(fn, "__code__", None)
    return _where(code) if code is not None else repr(cb)[:120]


class Recorder:
    def __init__(self) -> None:
        self.clear()
        self.running_since = 0.0

    def clear(self) -> None:
        self.steps: dict[str, list[float]] = {}
        self.stacks: collections.Counter[tuple[str, ...]] = collections.Counter()
        self.iterations = 0
        self.long_iterations: list[tuple[float, int]] = []
        self.callbacks = 0
        self.parts: list[tuple[str, float]] = []     # this iteration's callbacks longer than PART_MS
        self.in_long: dict[str, list[float]] = {}
        self.timer_late: list[float] = []   # how late each timer ran (s): what the server's lag probe sees
        self.t0 = time.monotonic()

    def step(self, name: str, took: float, into: dict[str, list[float]] | None = None) -> None:
        s = (self.steps if into is None else into).setdefault(name, [0, 0.0, 0.0])
        s[0] += 1
        s[1] += took
        s[2] = max(s[2], took)

    def report(self) -> dict[str, Any]:
        by_total = sorted(self.steps.items(), key=lambda kv: -kv[1][1])
        own: collections.Counter[str] = collections.Counter()
        incl: collections.Counter[str] = collections.Counter()
        for s, n in self.stacks.items():
            own[s[-1]] += n
            for f in set(s):
                incl[f] += n
        total = max(1, sum(self.stacks.values()))
        longs = sorted(t for t, _ in self.long_iterations)
        late = sorted(self.timer_late)

        def q(f: float) -> float | None:
            return round(late[min(len(late) - 1, int(f * len(late)))] * 1000, 1) if late else None

        return {
            "seconds": round(time.monotonic() - self.t0, 1), "iterations": self.iterations,
            "callbacks": self.callbacks, "timers": len(late),
            "timer_late_ms": {"p50": q(0.5), "p99": q(0.99), "max": q(1.0), "over_20_ms": sum(x > 0.02 for x in late)},
            f"iterations_over_{ITER_MS:g}_ms": len(longs),
            "longest_iterations_ms": [round(t * 1000, 1) for t in longs[-10:]],
            "callbacks_in_long_iterations": sorted(n for _, n in self.long_iterations)[-10:],
            f"callbacks_over_{STEP_MS:g}_ms": [
                {"what": k, "count": int(v[0]), "total_ms": round(v[1] * 1000, 1), "max_ms": round(v[2] * 1000, 1)}
                for k, v in by_total[:40]],
            f"in_iterations_over_{ITER_MS:g}_ms": [
                {"what": k, "count": int(v[0]), "total_ms": round(v[1] * 1000, 1), "max_ms": round(v[2] * 1000, 1)}
                for k, v in sorted(self.in_long.items(), key=lambda kv: -kv[1][1])[:40]],
            "long_step_samples": sum(self.stacks.values()),
            "long_step_self": [[k, round(v / total, 3)] for k, v in own.most_common(30)],
            "long_step_inclusive": [[k, round(v / total, 3)] for k, v in incl.most_common(60)],
        }


def install(rec: Recorder) -> None:
    run = asyncio.events.Handle._run
    limit, part = STEP_MS / 1000, PART_MS / 1000

    def timed_run(self: Any) -> None:
        rec.callbacks += 1
        if type(self) is asyncio.TimerHandle:
            rec.timer_late.append(self._loop.time() - self._when)
        t = time.perf_counter()
        rec.running_since = t
        try:
            run(self)
        finally:
            took = time.perf_counter() - t
            rec.running_since = 0.0
            if took > part:
                try:
                    name = _describe(self)
                except Exception:  # noqa: BLE001 - a description must not break the server
                    name = "?"
                rec.parts.append((name, took))
                if took > limit:
                    rec.step(name, took)

    asyncio.events.Handle._run = timed_run   # type: ignore[method-assign]
    base = asyncio.base_events.BaseEventLoop
    run_once = base._run_once   # type: ignore[attr-defined]

    def timed_once(self: Any) -> None:
        n0 = rec.callbacks
        rec.parts.clear()
        t = time.perf_counter()
        run_once(self)
        rec.iterations += 1
        took = time.perf_counter() - t
        if took > ITER_MS / 1000:
            rec.long_iterations.append((took, rec.callbacks - n0))
            for name, part_took in rec.parts:
                rec.step(name, part_took, rec.in_long)

    base._run_once = timed_once   # type: ignore[attr-defined]

    def sample(signum: int, frame: Any) -> None:
        since = rec.running_since
        if not since or time.perf_counter() - since < limit:
            return
        names = []
        while frame is not None:
            names.append(_where(frame.f_code))
            frame = frame.f_back
        rec.stacks[tuple(reversed(names))] += 1

    signal.signal(signal.SIGPROF, sample)
    signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)


def main() -> None:
    out, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, __doc__
    import uvloop

    uvloop.install = lambda: None   # asyncio's loop: its callbacks are Python objects that can be timed
    rec = Recorder()

    def write(name: str) -> None:
        Path(name + ".json").write_text(json.dumps(rec.report(), indent=1) + "\n")

    windows(out, "loop_steps", write, rec.clear, signal.ITIMER_PROF)
    install(rec)
    sys.argv = cmd
    runpy.run_path(cmd[0], run_name="__main__")


if __name__ == "__main__":
    main()
