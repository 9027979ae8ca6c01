"""Soak: join / publish / leave cycles against the real app; what is left afterwards (issue 16).

Runs the real application (create_app: aiohttp, the signaling hub, the aiortc SFU, SQLite store)
on a 127.0.0.1 port in a child process of its own (``--serve``), and N cycles, C at a time
(default 500, 4), from this process; the figures are the server process's alone (the test
peers' VP8 encoders and their memory stay out of them). One cycle is what a browser does: open the websocket, ``join`` an unlocked group room, ``publish`` a camera
and a microphone (real aiortc peer, loopback ICE, DTLS, SRTP; the other cycles of the moment
subscribe to it), wait until the SFU receives its frames, ``leave``, close the peer.

Sampled every ``--every`` cycles, in the server (``GET /_soak/stats``, a route only this
benchmark's server has): RSS, open file descriptors, threads, asyncio tasks, live
RTCPeerConnection objects (found by the garbage collector); at the baseline and the end also each fd's
target and task's coroutine (``final.left_over``: what is more). Then it waits (<= 40 s) to settle; checks:

* tasks, fds, threads and peer connections are back to their baseline (taken when the warm-up
  cycles have settled: caches that fill once are not leaks); asyncio's default executor starts
  its threads lazily, so those are counted apart and checked against its fixed cap;
* RSS grew by less than 10 % from the end of the warm-up to the end (not checked by ``--quick``,
  whose 4 warm-up cycles are too few for that).

Exit 1 if a check fails. Writes bench/results/soak.json and, with matplotlib, soak.png.

    python bench/soak.py [--cycles 500] [--concurrency 4] [--warmup 50]
    python bench/soak.py --quick      # 20 cycles, 4 of warm-up: the smoke test in the suite
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import platform
import re
import sys
import tempfile
import signal
import subprocess
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp
import uvloop
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from aiortc import RTCPeerConnection  # noqa: E402

from server.app import SFU, create_app  # noqa: E402
from server.config import Settings  # noqa: E402
from server.credentials import load_or_create  # noqa: E402
from server.logs import configure_logging  # noqa: E402
from signaling.client import SignalingClient  # noqa: E402
from tests.helpers.media_peers import (  # noqa: E402
    COLOURS, PeerClient, SolidColourTrack, ToneTrack, answer_over_signaling, publish_over_signaling,
)

API_KEY = "soak-api-key-0123456789abcdef"
RSS_GROWTH_LIMIT = 0.10
SETTLE_SECONDS = 40.0   # > the 20 s reconnect grace: a failed cycle's dropped participant is still held that long
UNLIMITED = ("joins_per_ip_per_minute", "joins_per_room_per_minute", "rest_rate_limit_per_minute",
             "ws_unauthenticated_per_ip")


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def peer_connections() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, RTCPeerConnection))


EXECUTOR_CAP = min(32, (os.cpu_count() or 1) + 4)   # asyncio's default executor: threads start lazily up to this


def sample(cycle: int) -> dict[str, Any]:
    names = [t.name for t in threading.enumerate()]
    executor = sum(n.startswith("asyncio_") for n in names)
    return {"cycle": cycle, "t": round(time.monotonic(), 2), "rss_kib": rss_kib(),
            "fds": len(os.listdir("/proc/self/fd")), "threads": len(names) - executor, "executor_threads": executor,
            "tasks": len(asyncio.all_tasks()), "peer_connections": peer_connections(),
            "thread_names": sorted(names)}


def detail() -> dict[str, list[str]]:
    """What the counts are made of: each open fd's target (the listing's own fd gone), each task's coroutine."""
    fds = [f"{fd} {os.readlink(f'/proc/self/fd/{fd}')}" for fd in os.listdir("/proc/self/fd")
           if os.path.exists(f"/proc/self/fd/{fd}")]
    return {"fds": sorted(fds), "tasks": sorted(t.get_coro().__qualname__ for t in asyncio.all_tasks())}


COUNTS = ("tasks", "fds", "threads", "peer_connections")
Sampler = Callable[[int], Awaitable[dict[str, Any]]]


class Soak:
    def __init__(self, base: str, http: aiohttp.ClientSession, room_id: str) -> None:
        self.base, self.http, self.room_id = base, http, room_id
        self.done = 0
        self.failures: list[str] = []
        self.cycle_s: list[float] = []
        self.client_errors = 0     # unretrieved task exceptions (the loop's handler), counted not printed

    async def cycle(self, n: int) -> None:
        started = time.monotonic()
        sig = SignalingClient(self.base.replace("http", "ws", 1) + "/ws", http=self.http)
        peer = PeerClient(f"soak{n}", decode=False)
        try:
            await sig.connect()
            joined = await sig.join(self.room_id, f"soak {n}", timeout=15)
            assert joined["type"] == "joined", joined
            me = joined["participantId"]
            answer_over_signaling(sig, peer)
            colour = list(COLOURS.values())[n % len(COLOURS)]
            await publish_over_signaling(sig, peer, {"microphone": ToneTrack(), "camera": SolidColourTrack(colour)})
            await self._receiving(me)
            await sig.send("leave")
            await sig.wait_closed(timeout=10)
        except Exception as exc:  # noqa: BLE001 - a failed cycle is reported, the soak goes on
            self.failures.append(f"cycle {n}: {type(exc).__name__}: {exc}"[:300])
        finally:
            await sig.close()
            await peer.close()
        self.done += 1
        self.cycle_s.append(time.monotonic() - started)

    async def _receiving(self, participant_id: str, timeout: float = 20.0) -> None:
        """Until the SFU has frames of both of the participant's tracks."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frames = (await server_stats(self.http, self.base, participant_id))["frames_in"]
            if len(frames) == 2 and min(frames) >= 3:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the SFU got no frames of the published tracks")


async def server_stats(http: aiohttp.ClientSession, base: str, participant: str = "") -> dict[str, Any]:
    async with http.get(f"{base}/_soak/stats", params={"participant": participant} if participant else None) as r:
        return await r.json()


async def steady(measure: Sampler, cycle: int, timeout: float = SETTLE_SECONDS) -> dict[str, Any]:
    """A sample once the counts have stayed the same for a second (or after ``timeout``)."""
    deadline = time.monotonic() + timeout
    last, since = await measure(cycle), time.monotonic()
    while time.monotonic() - since < 1.0 and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = await measure(cycle)
        if any(now[k] != last[k] for k in COUNTS):
            last, since = now, time.monotonic()
    return last


async def settle(measure: Sampler, baseline: dict[str, Any], timeout: float = SETTLE_SECONDS) -> dict[str, Any]:
    """The first sample in which every count is back at the baseline (or the last one)."""
    deadline = time.monotonic() + timeout
    while True:
        now = await measure(-1)
        if all(now[k] <= baseline[k] for k in COUNTS) or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.25)


async def lanes(soak: Soak, numbers: range, concurrency: int, every: int, samples: list[dict[str, Any]],
                measure: Sampler) -> None:
    """Run the cycles ``numbers``, ``concurrency`` at a time, sampling every ``every`` cycles."""
    todo = list(numbers)

    async def lane() -> None:
        while todo:
            await soak.cycle(todo.pop(0))
            if soak.done % every == 0:
                samples.append(await measure(soak.done))

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def serve(port_file: Path) -> None:
    """The server of the soak (``--serve``): the real app, plus ``GET /_soak/stats``."""
    data_dir = Path(tempfile.mkdtemp(prefix="antechamber-soak-"))
    # one address joins 500 times: per-address/per-room limits off (0); busy flag off (leaks, not overload)
    settings = Settings(host="127.0.0.1", port=0, data_dir=data_dir, api_keys=(API_KEY,), log_format="json",
                        log_level="warning", group_max_participants=1000, knocks_per_ip_per_minute=1_000_000,
                        busy_cpu=0.0, busy_lag_ms=2000)
    known = {f.name for f in dataclasses.fields(Settings)}
    settings = settings.replace(**{name: 0 for name in UNLIMITED if name in known})
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(settings, load_or_create(data_dir, settings.api_keys))

    async def stats(request: web.Request) -> web.Response:
        body = sample(int(request.query.get("cycle", "0")))
        who = request.query.get("participant")
        if who:
            rooms = app[SFU].rooms.values()
            body["frames_in"] = [p.frames_in for r in rooms for p in r.pubs.values() if p.participant_id == who]
        body.update({"detail": detail()} if request.query.get("detail") else {})
        if request.query.get("trace") and tracemalloc.is_tracing():
            body["tracemalloc_growth"] = trace_growth()
        return web.json_response(body)

    app.router.add_get("/_soak/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port_file.write_text(str(site._server.sockets[0].getsockname()[1]))   # type: ignore[union-attr]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


_traced: list[Any] = []


def trace_growth() -> list[str]:
    """The 15 source lines whose memory grew most since the first call (which takes the snapshot)."""
    gc.collect()
    snap = tracemalloc.take_snapshot()
    if not _traced:
        _traced.append(snap)
        return []
    diff = snap.compare_to(_traced[0], "lineno")
    return [f"{d.size_diff / 1024:+.0f} KiB {d.count_diff:+d} blocks {d.traceback[0]}" for d in diff[:15]]


def start_server(trace: bool) -> tuple[subprocess.Popen, str]:
    port_file = Path(tempfile.mkdtemp(prefix="antechamber-soak-port-")) / "port"
    args = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port_file)] + (["--trace"] if trace else [])
    proc = subprocess.Popen(args, cwd=str(ROOT))
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the soak's server did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}"


async def run(cycles: int, concurrency: int, warmup: int, every: int, check_rss: bool = True,
              trace: bool = False) -> dict[str, Any]:
    proc, base = start_server(trace)
    try:
        # no keep-alive: pooled idle connections would show as the server's tasks and fds
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            return await _drive(http, base, cycles, concurrency, warmup, every, check_rss, trace)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _drive(http: aiohttp.ClientSession, base: str, cycles: int, concurrency: int, warmup: int, every: int,
                 check_rss: bool, trace: bool) -> dict[str, Any]:
    async def measure(cycle: int, **extra: str) -> dict[str, Any]:
        async with http.get(f"{base}/_soak/stats", params={"cycle": str(cycle), **extra}) as resp:
            return await resp.json()

    start = await measure(0)
    samples = [start]
    async with http.post(f"{base}/api/v1/rooms", json={"roomName": "Soak", "roomMode": "group"},
                         headers={"Authorization": f"Bearer {API_KEY}"}) as resp:
        assert resp.status == 201, await resp.text()
        room_id = (await resp.json())["roomId"]
    soak = Soak(base, http, room_id)

    def client_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # the test peers' answer loops end with ConnectionError when a leave races an offer
        soak.client_errors += 1

    asyncio.get_running_loop().set_exception_handler(client_error)
    wall = time.monotonic()
    await lanes(soak, range(warmup), concurrency, every, samples, measure)
    baseline = {**await steady(measure, soak.done), "baseline": True}   # the warm-up's cycles gone, none running
    baseline["detail"] = (await measure(soak.done, detail="1"))["detail"]
    if trace:
        await measure(soak.done, trace="1")                              # the server's first snapshot
    samples.append(baseline)
    await lanes(soak, range(warmup, cycles), concurrency, every, samples, measure)
    wall = time.monotonic() - wall
    final = await settle(measure, baseline)
    final["detail"] = (await measure(soak.done, detail="1"))["detail"]
    kind = lambda x: re.sub(r"^\d+ |\[\d+\]", "", x)   # noqa: E731 - fd numbers and inodes change from run to run
    final["left_over"] = {k: sorted((Counter(map(kind, final["detail"][k])) - Counter(map(kind, baseline["detail"][k])))
                                    .elements()) for k in ("fds", "tasks")}
    if trace:
        final["tracemalloc_growth"] = (await measure(soak.done, trace="1"))["tracemalloc_growth"]
    final.update(cycle=soak.done, final=True)
    samples.append(final)
    return report(samples, start, baseline, final, soak, cycles, concurrency, warmup, wall, check_rss)


def report(samples, start, baseline, final, soak: Soak, cycles, concurrency, warmup, wall,
           check_rss: bool) -> dict[str, Any]:
    growth = (final["rss_kib"] - baseline["rss_kib"]) / baseline["rss_kib"]
    checks = {f"{k}_back_to_baseline": final[k] <= baseline[k] for k in COUNTS}
    checks["executor_threads_within_cap"] = final["executor_threads"] <= EXECUTOR_CAP
    if check_rss:
        checks["rss_growth_after_warmup_below_10pct"] = growth < RSS_GROWTH_LIMIT
    checks["no_failed_cycles"] = not soak.failures
    times = sorted(soak.cycle_s)
    return {
        "cycles": cycles, "concurrency": concurrency, "warmup_cycles": warmup, "wall_s": round(wall, 1),
        "cycle_s": {"p50": round(times[len(times) // 2], 3), "p99": round(times[int(len(times) * 0.99)], 3),
                    "max": round(times[-1], 3)} if times else {},
        "start": start, "baseline": baseline, "final": final,
        "rss_growth_after_warmup": round(growth, 4), "rss_kib_from_start": final["rss_kib"] - start["rss_kib"],
        "checks": checks, "ok": all(checks.values()), "failures": soak.failures[:20],
        "failed_cycles": len(soak.failures), "client_errors": soak.client_errors, "samples": samples,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }


def plot(result: dict[str, Any], path: Path) -> bool:
    """RSS and open fds over the cycles (matplotlib, as the other benchmarks; skipped without it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = result["samples"]
    xs = [r["cycle"] for r in rows]
    fig, (rss, fds) = plt.subplots(1, 2, figsize=(12, 4.2))
    rss.plot(xs, [r["rss_kib"] / 1024 for r in rows], "o-", ms=3)
    rss.axvline(result["warmup_cycles"], color="grey", ls="--", label="end of warm-up")
    rss.axhline(result["baseline"]["rss_kib"] / 1024 * (1 + RSS_GROWTH_LIMIT), color="red", ls=":",
                label="+10 % of the warm-up's RSS")
    rss.set(xlabel="cycles done", ylabel="RSS (MiB)", title="Server process RSS")
    fds.plot(xs, [r["fds"] for r in rows], "o-", ms=3, label="open fds")
    fds.plot(xs, [r["threads"] for r in rows], "s-", ms=3, label="threads")
    fds.plot(xs, [r["peer_connections"] for r in rows], "^-", ms=3, label="peer connections")
    fds.set(xlabel="cycles done", ylabel="count", title="File descriptors, threads, peer connections")
    for ax in (rss, fds):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"{result['cycles']} join/publish/leave cycles, {result['concurrency']} at a time")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=50, help="cycles before the baseline is taken")
    parser.add_argument("--every", type=int, default=10, help="sample every this many cycles")
    parser.add_argument("--quick", action="store_true",
                        help="20 cycles, 4 of warm-up (smoke test): counts checked, RSS only reported")
    parser.add_argument("--serve", metavar="PORT_FILE", help=argparse.SUPPRESS)   # the child: the server
    parser.add_argument("--trace", action="store_true",
                        help="tracemalloc: the 15 source lines whose memory grew most after the warm-up")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "soak.json"))
    args = parser.parse_args()
    if args.quick:
        args.cycles, args.warmup, args.every = 20, 4, 4
    if args.serve:
        if args.trace:
            tracemalloc.start()
        uvloop.run(serve(Path(args.serve)))   # as `antechamber serve` runs
        return 0
    result = asyncio.run(run(args.cycles, args.concurrency, min(args.warmup, args.cycles), args.every,
                             check_rss=not args.quick, trace=args.trace))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    plotted = plot(result, out.with_suffix(".png"))
    b, f = result["baseline"], result["final"]
    print(f"{result['cycles']} cycles ({result['concurrency']} at a time) in {result['wall_s']} s, "
          f"{result['failed_cycles']} failed")
    for key in COUNTS:
        print(f"  {key:<17} start {result['start'][key]:>5}  baseline {b[key]:>5}  final {f[key]:>5}")
    print(f"  rss               baseline {b['rss_kib'] / 1024:.1f} MiB  final {f['rss_kib'] / 1024:.1f} MiB  "
          f"growth {100 * result['rss_growth_after_warmup']:.1f} %")
    print("".join(f"  left over ({k}): {x}\n" for k, extra in f.get("left_over", {}).items() for x in extra), end="")
    for line in f.get("tracemalloc_growth", []):
        print(f"  {line}")
    print(f"  checks: {'all passed' if result['ok'] else [k for k, v in result['checks'].items() if not v]}")
    print(f"  report: {out}" + (f", plot: {out.with_suffix('.png')}" if plotted else " (no matplotlib: no plot)"))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
