"""What one subscriber costs the SFU: RSS, idle CPU, tasks, timers, sockets, allocations,
and what a join costs on the server's event loop.

    python bench/subscriber_cost.py [--steps 50,100,200] [--out bench/results/subscriber_cost.json]

Per step a fresh server process (`--serve`: MediaService behind a small HTTP control API on
127.0.0.1, plain asyncio loop so timers can be counted) and a client process (`--client`):
1 publisher of ~1 Mbit/s pre-encoded VP8 (video only) and N aiortc subscribers that count RTP.
The server is profiled (cProfile) while the N subscribers join; then measured while the video
flows and, with the publisher paused (connection kept, no frames), idle CPU over a window.
A last step (N = first step) runs with tracemalloc and reports the top allocation sites per
subscriber. The per-subscriber retransmission history (media/forward/packet.py) is counted
separately (bytes held in it), since it is being replaced by a shared one per publication.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.subscriber_cost_client import JOIN_CONCURRENCY  # noqa: E402

IDLE_WINDOW = 10.0
PROFILE_IDLE = bool(os.environ.get("BENCH_PROFILE_IDLE"))
# cProfile entries summed into the join cost (cumulative time, per join)
JOIN_PARTS = {
    "certificate": ("generateCertificate",),
    "ssl_context": ("_create_ssl_context",),
    "pc_create": ("_new_pc",),
    "create_offer": ("createOffer",),
    "set_local_description": ("setLocalDescription",),
    "set_remote_description": ("setRemoteDescription",),
    "gather": ("gather",),
    "dtls_handshake": ("_do_handshake",),
    "sync_subscriptions": ("_sync_subscriptions",),
}


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _fds() -> dict[str, int]:
    out = {"total": 0, "socket": 0}
    for fd in os.listdir("/proc/self/fd"):
        out["total"] += 1
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                out["socket"] += 1
        except OSError:
            pass
    return out


def _count(names: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in names:
        out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _timer_name(handle: Any) -> str:
    cb = getattr(handle, "_callback", None)
    owner = getattr(cb, "__self__", None)
    return getattr(cb, "__qualname__", None) or f"{type(owner).__name__}.{getattr(cb, '__name__', '?')}"


# --- server -------------------------------------------------------------------------------


def run_server(port_file: Path, trace: bool) -> None:
    import cProfile
    import pstats
    import tracemalloc

    from aiohttp import web

    from media.ports import MediaConfig, SubscribeOffer
    from media.sfu import MediaService

    if trace:
        tracemalloc.start(1)
    service = MediaService(MediaConfig(loopback_candidates=True))
    queues: dict[str, asyncio.Queue] = {}
    state: dict[str, Any] = {}
    app = web.Application()

    def history_bytes() -> dict[str, int]:
        room = service.get_room("bench")
        entries = nbytes = subs = 0
        for pub in (room.pubs.values() if room is not None else ()):
            for fwd in pub.subscribers.values():
                subs += 1
                for e in getattr(fwd, "_history", None) or ():
                    if e is not None:
                        entries += 1
                        nbytes += len(e[1]) + 33 + 64  # payload + bytes header + tuple/int
        return {"subscriptions": subs, "entries": entries, "bytes": nbytes}

    async def measure(request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        snap = None
        if tracemalloc.is_tracing() and (await request.json()).get("snapshot"):
            snap = tracemalloc.take_snapshot()
            state.setdefault("snaps", []).append(snap)
        return web.json_response({
            "cpu": time.process_time(), "wall": time.monotonic(), "rss_kib": _rss_kib(),
            "tasks": len(asyncio.all_tasks()), "timers": len(getattr(loop, "_scheduled", ())),
            "fds": _fds(), "history": history_bytes(), "streams": service.stream_count(),
            "task_kinds": _count(getattr(t.get_coro(), "__qualname__", "?") for t in asyncio.all_tasks()),
            "timer_kinds": _count(_timer_name(h) for h in getattr(loop, "_scheduled", ())),
        })

    async def trace_diff(request: web.Request) -> web.Response:
        d = await request.json()
        snaps = state.get("snaps", [])
        if len(snaps) < 2:
            return web.json_response({"top": []})
        stats = snaps[-1].compare_to(snaps[0], "lineno")
        n = max(1, int(d["per"]))
        top = [{"where": f"{s.traceback[0].filename.split('site-packages/')[-1]}:{s.traceback[0].lineno}",
                "kib_per_sub": round(s.size_diff / 1024 / n, 2), "blocks_per_sub": round(s.count_diff / n, 2)}
               for s in stats[:25]]
        by_file: dict[str, int] = {}
        for s in snaps[-1].compare_to(snaps[0], "filename"):
            name = s.traceback[0].filename.split("site-packages/")[-1].split("/work/main/")[-1]
            by_file[name] = by_file.get(name, 0) + s.size_diff
        files = sorted(by_file.items(), key=lambda kv: -kv[1])[:15]
        return web.json_response({"top": top, "by_file_kib_per_sub": {k: round(v / 1024 / n, 2) for k, v in files}})

    async def profile(request: web.Request) -> web.Response:
        d = await request.json()
        if d["action"] == "start":
            state["prof"] = cProfile.Profile()
            state["prof_cpu"] = time.process_time()
            state["prof"].enable()
            return web.json_response({})
        prof = state.pop("prof")
        prof.disable()
        cpu = time.process_time() - state.pop("prof_cpu")
        n = max(1, int(d["joins"]))
        st = pstats.Stats(prof)
        parts = {k: 0.0 for k in JOIN_PARTS}
        top: list[tuple[float, str]] = []
        for (filename, line, func), (_cc, _nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
            for part, names in JOIN_PARTS.items():
                if func in names:
                    parts[part] += ct
            top.append((tt, f"{filename.split('site-packages/')[-1].split('/work/main/')[-1]}:{line}:{func}"))
        top.sort(reverse=True)
        return web.json_response({
            "cpu_ms_per_join": round(cpu * 1000 / n, 2),
            "parts_ms_per_join_cumulative": {k: round(v * 1000 / n, 3) for k, v in parts.items()},
            "top_self_ms_per_join": [{"fn": name, "ms": round(tt * 1000 / n, 3)} for tt, name in top[:20]],
        })

    async def join(request: web.Request) -> web.Response:
        d = await request.json()
        q: asyncio.Queue = asyncio.Queue()
        queues[d["id"]] = q
        service.open_room("bench").add_participant(
            d["id"], frozenset({"audio", "video", "screen"}),
            lambda e: q.put_nowait(e) if isinstance(e, SubscribeOffer) else None)
        return web.json_response({})

    async def publish(request: web.Request) -> web.Response:
        d = await request.json()
        return web.json_response({"sdp": await service.open_room("bench").publish(d["id"], d["sdp"], d["sources"])})

    async def offer(request: web.Request) -> web.Response:
        d = await request.json()
        e = await queues[d["id"]].get()
        return web.json_response({"sdp": e.sdp, "tracks": {m: i.kind for m, i in e.tracks.items()}})

    async def answer(request: web.Request) -> web.Response:
        d = await request.json()
        await service.open_room("bench").subscribe_answer(d["id"], d["sdp"])
        return web.json_response({})

    for path, handler in (("/join", join), ("/publish", publish), ("/offer", offer), ("/answer", answer),
                          ("/measure", measure), ("/profile", profile), ("/trace", trace_diff)):
        app.router.add_post(path, handler)

    async def start() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_file.write_text(str(site._server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(start())


# --- orchestration ------------------------------------------------------------------------


def run_step(n: int, clip: Path, workdir: Path, trace: bool) -> dict[str, Any]:
    import urllib.request

    port_file = workdir / "cost.port"
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port-file", str(port_file)]
                              + (["--trace"] if trace else []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = None
    try:
        t0 = time.monotonic()
        while not port_file.exists() or not port_file.read_text():
            if server.poll() is not None or time.monotonic() - t0 > 30:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port_file.read_text()}"

        def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
            req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            return json.loads(urllib.request.urlopen(req, timeout=120).read())

        def window(seconds: float) -> tuple[dict[str, Any], float]:
            a = call("/measure", {})
            time.sleep(seconds)
            b = call("/measure", {})
            return b, (b["cpu"] - a["cpu"]) / (b["wall"] - a["wall"])

        empty, empty_cpu = window(3.0)
        client = subprocess.Popen([sys.executable, __file__, "--client", "--url", url, "--clip", str(clip),
                                   "--subscribers", str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)

        def hear() -> dict[str, Any]:
            assert client is not None and client.stdout is not None
            line = client.stdout.readline()
            if not line:
                raise RuntimeError("client ended")
            return json.loads(line)

        def tell(word: str) -> None:
            assert client is not None and client.stdin is not None
            client.stdin.write(word + "\n")
            client.stdin.flush()

        hear()
        time.sleep(1.0)
        base = call("/measure", {"snapshot": True})
        call("/profile", {"action": "start"})
        tell("go")
        joined = hear()
        join_profile = call("/profile", {"action": "stop", "joins": n})
        time.sleep(3.0)  # histories fill (256 packets at ~110 packets/s)
        flowing, flowing_cpu = window(5.0)
        tell("pause")
        hear()
        time.sleep(2.0)
        idle, idle_cpu = window(IDLE_WINDOW)
        idle_profile = None
        if PROFILE_IDLE:  # a second idle window under cProfile (inflates CPU): where idle time goes
            call("/profile", {"action": "start"})
            time.sleep(IDLE_WINDOW)
            idle_profile = call("/profile", {"action": "stop", "joins": n})
        after = call("/measure", {"snapshot": True})
        allocations = call("/trace", {"per": n}) if trace else None
        tell("quit")
        client.wait(timeout=60)
        d_rss = flowing["rss_kib"] - base["rss_kib"]
        hist_kib = flowing["history"]["bytes"] / 1024
        row = {
            "subscribers": n, "receiving": joined["receiving"], "tracemalloc": trace,
            "join_wall_s": joined["joined_s"], "join_concurrency": JOIN_CONCURRENCY,
            "rss_kib": {"empty": empty["rss_kib"], "publisher_only": base["rss_kib"], "flowing": flowing["rss_kib"],
                        "idle": idle["rss_kib"]},
            "rss_kib_per_sub": round(d_rss / n, 1),
            "history_kib_per_sub": round(hist_kib / n, 1),
            "rss_kib_per_sub_without_history": round((d_rss - hist_kib) / n, 1),
            "tasks_per_sub": round((idle["tasks"] - base["tasks"]) / n, 2),
            "timers_per_sub": round((idle["timers"] - base["timers"]) / n, 2),
            "sockets_per_sub": round((idle["fds"]["socket"] - base["fds"]["socket"]) / n, 2),
            "fds_per_sub": round((idle["fds"]["total"] - base["fds"]["total"]) / n, 2),
            "idle_cpu_ms_per_s_per_sub": round((idle_cpu - empty_cpu) * 1000 / n, 4),
            "flowing_cpu_cores": round(flowing_cpu, 4), "idle_cpu_cores": round(idle_cpu, 4),
            "empty_cpu_cores": round(empty_cpu, 4),
            "join": join_profile, "counts": {"base": base, "idle": idle, "after": after},
            "machine_load_1min": round(os.getloadavg()[0], 2),
        }
        if allocations is not None:
            row["allocations"] = allocations
        if idle_profile is not None:
            row["idle_profile_ms_per_sub_per_window"] = idle_profile
        return row
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        server.terminate()
        server.wait(timeout=10)
        port_file.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--port-file")
    parser.add_argument("--client", action="store_true")
    parser.add_argument("--url")
    parser.add_argument("--clip")
    parser.add_argument("--subscribers", type=int, default=1)
    parser.add_argument("--steps", default="50,100,200")
    parser.add_argument("--no-trace-step", action="store_true")
    parser.add_argument("--label", default="current")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "subscriber_cost.json"))
    args = parser.parse_args()
    if args.serve:
        run_server(Path(args.port_file), args.trace)
        return
    if args.client:
        from bench.subscriber_cost_client import client_main

        asyncio.run(client_main(args.url, Path(args.clip), args.subscribers))
        return
    import tempfile

    from bench.forwarding import encode_clip
    from bench.forwarding_client import _write_clip

    steps = [int(s) for s in args.steps.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        clip = workdir / "clip.bin"
        _write_clip(encode_clip(640, 480), clip)
        rows = []
        for n in steps + ([] if args.no_trace_step else [steps[0]]):
            row = run_step(n, clip, workdir, trace=len(rows) >= len(steps))
            print(json.dumps({k: v for k, v in row.items() if k not in ("counts", "join", "allocations")}), flush=True)
            rows.append(row)
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    report[args.label] = {"steps": rows, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
