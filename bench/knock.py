"""Knock benchmark: admission latency and memory per idle session, against one server process.

Starts ``python -m server serve`` (uvloop, SQLite store) on a free port, then:

1. two hosts join a locked group room; 200 guests knock one after another (the
   queue grows to 200): time from a guest sending ``join`` to each host
   receiving the ``knocks`` update naming it;
2. a host admits them one by one: time from sending ``admit`` to the guest
   receiving ``joined``;
3. a burst: 200 more guests knock at once; time until both hosts saw all;
4. 1,000 idle sessions joined to unlocked group rooms: server RSS delta / 1,000.

Clients run in this process (one event loop), so latencies include client-side
decoding. Writes bench/results/knock.json.

    python bench/knock.py [--guests 200] [--idle 1000]

Targets (issue 3): p99 < 10 ms for knock->host and admit->joined; < 20 KiB per idle session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from signaling.client import SignalingClient  # noqa: E402

API_KEY = "bench-api-key-0123456789abcdef"
# every guest comes from 127.0.0.1 here: the limits per address and per room are off (bench/knock_flood.py
# measures them)
NO_ADDRESS_LIMITS = {f"ANTECHAMBER_{name}": "0" for name in (
    "PENDING_KNOCKS_PER_IP", "MIN_KNOCK_INTERVAL_SECONDS", "KNOCKS_PER_ROOM_PER_MINUTE", "JOINS_PER_IP_PER_MINUTE",
    "JOINS_PER_ROOM_PER_MINUTE", "WS_UNAUTHENTICATED_PER_IP", "REST_RATE_LIMIT_PER_MINUTE")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_server(data_dir: Path, port: int, limits: dict[str, str] | None = None) -> subprocess.Popen:
    """The server; ``limits`` (environment variables) replace this benchmark's (all off)."""
    limits = dict(ANTECHAMBER_KNOCKS_PER_IP_PER_MINUTE="10000000", **NO_ADDRESS_LIMITS) if limits is None else limits
    env = dict(os.environ, ANTECHAMBER_GROUP_MAX_PARTICIPANTS="100000", PYTHONPATH=str(ROOT), **limits)
    cmd = [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--api-key", API_KEY, "--log-format", "json", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 3), "p90_ms": round(pct(ms, 90), 3),
            "p99_ms": round(pct(ms, 99), 3), "max_ms": round(max(ms), 3), "mean_ms": round(statistics.mean(ms), 3)}


async def create_room(http: aiohttp.ClientSession, base: str, **body) -> tuple[str, str]:
    async with http.post(f"{base}/api/v1/rooms", json=body, headers={"Authorization": f"Bearer {API_KEY}"}) as r:
        assert r.status == 201, await r.text()
        room = await r.json()
    url = room["access"]["anonymous"]["moderator"]["url"]
    return room["roomId"], parse_qs(urlparse(url).query)["roomKey"][0]


async def knock_phase(http, base: str, ws: str, guests: int) -> dict:
    rid, key = await create_room(http, base, isLocked=True, roomMode="group")
    seen: dict[str, list[float]] = {}     # display name -> times the hosts saw its knock
    hosts = []
    for i in range(2):
        h = SignalingClient(ws, http=http)
        await h.connect()
        await h.join(rid, f"host{i}", key)

        def listen(m, seen=seen):
            ch = m.get("change")
            if m.get("type") == "knocks" and ch and ch.get("state") == "waiting":
                seen.setdefault(ch["displayName"], []).append(time.perf_counter())
        h.listener = listen
        hosts.append(h)
    knock_ms: list[float] = []
    clients: list[tuple[SignalingClient, str]] = []
    for i in range(guests):
        g = SignalingClient(ws, http=http)
        await g.connect()
        name = f"guest{i}"
        t0 = time.perf_counter()
        st = await g.join(rid, name)
        while len(seen.get(name, ())) < 2:
            await asyncio.sleep(0)
            if time.perf_counter() - t0 > 10:
                raise RuntimeError("knock not seen")
        knock_ms.extend((t - t0) * 1000 for t in seen[name])
        clients.append((g, st["knockId"]))
    # admit one by one
    admit_ms: list[float] = []
    for g, knock_id in clients:
        got: list[float] = []
        g.listener = lambda m, got=got: got.append(time.perf_counter()) if m.get("type") == "joined" else None
        t0 = time.perf_counter()
        await hosts[0].send("admit", knockId=knock_id)
        while not got:
            await asyncio.sleep(0)
            if time.perf_counter() - t0 > 10:
                raise RuntimeError("joined not seen")
        admit_ms.append((got[0] - t0) * 1000)
        g.inbox.clear()
    for h in hosts:
        h.inbox.clear()
    # burst: many knock at once into a fresh locked room
    rid2, key2 = await create_room(http, base, isLocked=True, roomMode="group")
    seen2: dict[str, int] = {}
    bhosts = []
    done = asyncio.Event()
    for i in range(2):
        h = SignalingClient(ws, http=http)
        await h.connect()
        await h.join(rid2, f"bhost{i}", key2)

        def listen2(m):
            if m.get("type") == "knocks" and m.get("change", {}).get("state") == "waiting":
                n = m["change"]["displayName"]
                seen2[n] = seen2.get(n, 0) + 1
                if len(seen2) == guests and all(v == 2 for v in seen2.values()):
                    done.set()
        h.listener = listen2
        bhosts.append(h)
    burst = [SignalingClient(ws, http=http) for _ in range(guests)]
    await asyncio.gather(*(b.connect() for b in burst))
    t0 = time.perf_counter()
    await asyncio.gather(*(b.send("join", roomName=rid2, displayName=f"b{i}") for i, b in enumerate(burst)))
    await asyncio.wait_for(done.wait(), 30)
    burst_ms = (time.perf_counter() - t0) * 1000
    for c in [*hosts, *bhosts, *(g for g, _ in clients), *burst]:
        await c.close()
    return {"knock_to_host": summary(knock_ms), "admit_to_joined": summary(admit_ms),
            "burst": {"guests": guests, "all_seen_by_both_hosts_ms": round(burst_ms, 1)}}


async def idle_phase(http, base: str, ws: str, count: int, pid: int) -> dict:
    per_room = 200
    rooms = [await create_room(http, base, roomMode="group") for _ in range((count + per_room - 1) // per_room)]
    # warm up: one session through the whole path so first-use allocations are not counted
    w = SignalingClient(ws, http=http)
    await w.connect()
    await w.join(rooms[0][0], "warmup")
    await w.close()
    await asyncio.sleep(1.0)   # let the server settle (this is a measurement pause, not a wait for an event)
    before = rss_kib(pid)
    sessions = []
    for i in range(count):
        c = SignalingClient(ws, http=http)
        await c.connect()
        await c.join(rooms[i // per_room][0], f"idle{i}", timeout=30)
        sessions.append(c)
    for c in sessions:
        c.inbox.clear()
        c.history.clear()
        c.raw_frames.clear()
    await asyncio.sleep(2.0)   # settle, as above
    after = rss_kib(pid)
    for c in sessions:
        await c.close()
    return {"sessions": count, "rss_before_kib": before, "rss_after_kib": after,
            "kib_per_session": round((after - before) / count, 2)}


async def main_async(args) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(Path(tmp), port)
        try:
            base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
            conn = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=conn) as http:
                knock = await knock_phase(http, base, ws, args.guests)
                idle = await idle_phase(http, base, ws, args.idle, proc.pid)
        finally:
            stop_server(proc)
    return {"benchmark": "knock", "guests": args.guests, "hosts": 2, **knock, "idle_sessions": idle,
            "targets": {"p99_ms": 10, "kib_per_idle_session": 20},
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--guests", type=int, default=200)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "knock.json"))
    args = ap.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    import gc
    gc.freeze()            # the load generator's own GC pauses should not count against the server
    report = asyncio.run(main_async(args))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
