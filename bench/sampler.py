"""A sampling profiler for a server run: `python bench/sampler.py OUT -- SCRIPT ARGS...`.

py-spy cannot read this machine's Python (3.11.7: "Failed to find python version from target
process") and cProfile triples the server's CPU under load, which changes what the event loop does
(REMB overuse storms, lag). This runs SCRIPT (a console script such as `.venv/bin/antechamber`) in
the main thread with a CPU-time timer (ITIMER_PROF) that interrupts it every INTERVAL seconds of the
process's CPU time; the handler runs in the main thread at the next bytecode and records its Python
stack, so samples follow CPU (an idle loop is not sampled; time in C code counts for the Python
frame that called it or, inside uvloop's own loop, for the next callback). A thread that samples the
main thread's stack instead lands where the GIL is released (epoll, cffi calls): a picture of I/O,
not of CPU. At exit it writes

- OUT.collapsed: one line per distinct stack, `frame;frame;... count` (flamegraph.pl / speedscope);
- OUT.json: the top entries by self and by inclusive share of the samples, and the sample count;
- OUT.alloc.txt, when the run has PYTHONTRACEMALLOC=1 (or 3): the 60 lines (call paths) holding most of
  the Python heap.

SIGUSR1 starts a window afresh (the samples so far are dropped); SIGUSR2 ends it and writes
OUT-1.json / OUT-1.collapsed (then -2, -3...); the run's end writes OUT.* only if no window was.
"""

from __future__ import annotations

import atexit
import collections
import json
import runpy
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable

INTERVAL = 0.005
_NAMES: dict[object, str] = {}


def _frame_name(code) -> str:
    name = _NAMES.get(code)
    if name is None:
        name = _NAMES[code] = describe_code(code)
    return name


def short_path(path: str) -> str:
    """A source path from its package or the project on (site-packages/..., media/..., 11/asyncio/...)."""
    for marker in ("site-packages/", "/work/main/", "lib/python3."):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def describe_code(code) -> str:
    return f"{code.co_qualname} ({short_path(code.co_filename)}:{code.co_firstlineno})"


def write_alloc(path: Path) -> None:
    """The 60 places holding most of the Python heap: by line with PYTHONTRACEMALLOC=1; with a deeper
    traceback (PYTHONTRACEMALLOC=3; 6 slows a loaded server until its gauge refuses joins) by call
    path, innermost first, so that a line every object allocates through (a deque in asyncio's
    Event, a dataclass __init__) is split by who made it."""
    snapshot = tracemalloc.take_snapshot()
    deep = tracemalloc.get_traceback_limit() > 1
    top = snapshot.statistics("traceback" if deep else "lineno")[:60]
    lines = []
    for t in top:
        where = " <- ".join(f"{short_path(f.filename)}:{f.lineno}" for f in reversed(t.traceback)) if deep \
            else str(t.traceback)
        lines.append(f"{t.size / 1024:10.1f} KiB {t.count:8d} {where}\n")
    traced = sum(t.size for t in snapshot.traces)
    path.write_text(f"{traced / 1024:10.1f} KiB traced in all\n" + "".join(lines))


def windows(out: str, tool: str, write: Callable[[str], None], start: Callable[[], None], timer: int) -> None:
    """The wrappers' windows (this one's, bench/loop_steps.py's, bench/stalls.py's): SIGUSR1 starts one
    afresh (``start``), SIGUSR2 writes it (``write(OUT-N)``, N = 1, 2...); at exit ``timer`` (the
    sampling itimer) is stopped — its signal after the handlers are gone would kill the process — and
    OUT is written if no window was."""
    written = [0]

    def window_end(*_: object) -> None:   # a signal handler: an exception here would land in the server
        written[0] += 1
        try:
            write(f"{out}-{written[0]}")
        except Exception as e:  # noqa: BLE001
            print(f"{tool}: {e!r}", file=sys.stderr)

    def at_exit() -> None:
        signal.setitimer(timer, 0)
        if not written[0]:
            write(out)

    signal.signal(signal.SIGUSR1, lambda *_: start())
    signal.signal(signal.SIGUSR2, window_end)
    atexit.register(at_exit)


def main() -> None:
    out, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, __doc__
    stacks: collections.Counter[tuple[str, ...]] = collections.Counter()

    def sample(signum: int, frame) -> None:
        names: list[str] = []
        while frame is not None:
            names.append(_frame_name(frame.f_code))
            frame = frame.f_back
        stacks[tuple(reversed(names))] += 1

    def write(name: str) -> None:
        counts = dict(stacks)   # one C call: the SIGPROF handler may add stacks while this runs
        total = sum(counts.values())
        own: collections.Counter[str] = collections.Counter()
        incl: collections.Counter[str] = collections.Counter()
        for s, n in counts.items():
            if s:
                own[s[-1]] += n
            for frame_name in set(s):
                incl[frame_name] += n
        busy = max(1, total)
        if tracemalloc.is_tracing():   # PYTHONTRACEMALLOC=N: where the Python heap is (write_alloc)
            write_alloc(Path(name + ".alloc.txt"))
        Path(name + ".collapsed").write_text("".join(f"{';'.join(s)} {n}\n" for s, n in counts.items() if s))
        Path(name + ".json").write_text(json.dumps({
            "samples": total, "cpu_interval_s": INTERVAL,
            "self": [[k, round(v / busy, 4)] for k, v in own.most_common(40)],
            "inclusive": [[k, round(v / busy, 4)] for k, v in incl.most_common(80)],
        }, indent=1) + "\n")

    windows(out, "sampler", write, stacks.clear, signal.ITIMER_PROF)
    signal.signal(signal.SIGPROF, sample)
    signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)
    sys.argv = cmd
    t0 = time.monotonic()
    try:
        runpy.run_path(cmd[0], run_name="__main__")
    finally:
        print(f"sampler: {time.monotonic() - t0:.1f} s sampled", file=sys.stderr)


if __name__ == "__main__":
    main()
