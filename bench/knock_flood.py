"""Knock flood: one address opens new websockets and knocks as fast as it can; what does the host see?

Starts ``python -m server serve`` (SQLite store) on a free port with the default limits (docs/protocol.md
"Rate limits and cooldowns"), a host joins a locked room, then for ``--seconds`` (30; ``--quick``: 5)
``--attackers`` concurrent loops from 127.0.0.1 each open a new websocket, send ``join`` (a knock),
and on the answer either keep the socket (a knock that was let in: it cancels and knocks again at
once, over and over) or drop it and start over. Meanwhile the host pings every 20 ms.

Two scenarios: the server's defaults, and the same without the join limits (most of the flood is
refused at ``join`` by them first; this one shows the knock limits alone). Reported for each
(bench/results/knock_flood.json):

- the most pending knocks the host's ``knocks`` list ever held (all are from one address): target <= 1;
- the most ``knocks`` notifications the host got in any one-second window: target <= 3;
- the host's ping round trips (p50/p99/max): target p99 < 200 ms;
- the server's RSS before and at the end of the flood: target growth < 50 MB;
- what the attacker got: knocks accepted, refusals by code, sockets refused or closed by the server.

    python bench/knock_flood.py [--seconds 30] [--attackers 20] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.knock import create_room, free_port, pct, rss_kib, start_server, stop_server  # noqa: E402
from signaling.client import SignalingClient  # noqa: E402


class Attack:
    def __init__(self, http: aiohttp.ClientSession, ws: str, room_id: str, until: float):
        self.http, self.ws, self.room_id, self.until = http, ws, room_id, until
        self.replies: Counter[str] = Counter()     # knock_status states and error codes
        self.sockets = 0
        self.closed_by_server = Counter()          # close codes

    async def one_socket(self, n: int) -> None:
        self.sockets += 1
        try:
            ws = await self.http.ws_connect(self.ws, max_msg_size=0)
        except (aiohttp.ClientError, OSError):
            self.replies["connect_failed"] += 1
            return
        try:
            await ws.send_json({"type": "join", "id": 1, "roomName": self.room_id, "displayName": f"flood{n}"})
            while time.monotonic() < self.until:
                msg = await ws.receive(timeout=max(0.1, self.until - time.monotonic()))
                if msg.type != aiohttp.WSMsgType.TEXT:
                    self.closed_by_server[str(ws.close_code)] += 1
                    return
                m = json.loads(msg.data)
                if m.get("type") == "error":
                    self.replies[m["code"]] += 1
                    if m["code"] in ("too_many_connections", "join_timeout"):
                        continue        # the server closes it: the next frame is the close
                    return              # refused: drop the socket, open another
                if m.get("type") == "knock_status" and m.get("id") is not None:
                    self.replies[m["state"]] += 1
                    # let in: knock again at once, as fast as it is answered
                    await ws.send_json({"type": "cancel_knock", "id": 2})
                elif m.get("type") == "ok" and m.get("id") == 2:
                    await ws.send_json({"type": "join", "id": 1, "roomName": self.room_id,
                                        "displayName": f"flood{n}"})
        except (asyncio.TimeoutError, aiohttp.ClientError, ConnectionError):
            return
        finally:
            await ws.close()

    async def loop(self, index: int) -> None:
        n = 0
        while time.monotonic() < self.until:
            n += 1
            await self.one_socket(index * 1_000_000 + n)


async def flood(http: aiohttp.ClientSession, base: str, ws: str, seconds: float, attackers: int, pid: int) -> dict:
    rid, key = await create_room(http, base, isLocked=True)
    host = SignalingClient(ws, http=http)
    await host.connect()
    await host.join(rid, "Host", key)
    notes: list[float] = []
    most_pending = [0]

    def listen(m: dict) -> None:
        if m.get("type") == "knocks":
            notes.append(time.monotonic())
            most_pending[0] = max(most_pending[0], sum(1 for k in m["knocks"] if k["state"] in ("waiting", "held")))
    host.listener = listen
    await asyncio.sleep(1.0)         # settle before the baseline (a measurement pause)
    rss_before = rss_kib(pid)
    until = time.monotonic() + seconds
    attack = Attack(http, ws, rid, until)
    tasks = [asyncio.create_task(attack.loop(i)) for i in range(attackers)]
    rtts: list[float] = []
    rss_peak = rss_before
    while time.monotonic() < until:
        t0 = time.perf_counter()
        await host.request("ping", timeout=10)
        rtts.append((time.perf_counter() - t0) * 1000)
        host.inbox.clear()
        host.history.clear()
        host.raw_frames.clear()
        if len(rtts) % 25 == 0:
            rss_peak = max(rss_peak, rss_kib(pid))
        await asyncio.sleep(0.02)
    await asyncio.gather(*tasks, return_exceptions=True)
    rss_after = rss_kib(pid)
    await host.close()
    per_second = max((sum(1 for t in notes if s <= t < s + 1.0) for s in notes), default=0)
    return {
        "seconds": seconds, "attackers": attackers, "sockets_opened": attack.sockets,
        "attacker_replies": dict(attack.replies), "closed_by_server": dict(attack.closed_by_server),
        "most_pending_knocks_seen_by_host": most_pending[0],
        "host_knocks_notifications": len(notes), "host_knocks_notifications_max_per_second": per_second,
        "host_ping": {"n": len(rtts), "p50_ms": round(pct(rtts, 50), 2), "p99_ms": round(pct(rtts, 99), 2),
                      "max_ms": round(max(rtts), 2)},
        "rss_before_kib": rss_before, "rss_peak_kib": max(rss_peak, rss_after), "rss_after_kib": rss_after,
        "rss_growth_mb": round((max(rss_peak, rss_after) - rss_before) / 1024, 1),
    }


# the defaults, and the knock limits alone (the join limits, which refuse most of the flood first, off)
SCENARIOS = {"defaults": {}, "without_join_limits": {"ANTECHAMBER_JOINS_PER_IP_PER_MINUTE": "0",
                                                     "ANTECHAMBER_JOINS_PER_ROOM_PER_MINUTE": "0"}}
TARGETS = {"most_pending_knocks": 1, "notifications_per_second": 3, "host_ping_p99_ms": 200, "rss_growth_mb": 50}


async def run_scenario(args, limits: dict[str, str]) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(Path(tmp), port, limits=limits)
        try:
            base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                result = await flood(http, base, ws, args.seconds, args.attackers, proc.pid)
        finally:
            stop_server(proc)
    result["met"] = {"most_pending_knocks": result["most_pending_knocks_seen_by_host"] <= 1,
                     "notifications_per_second": result["host_knocks_notifications_max_per_second"] <= 3,
                     "host_ping_p99_ms": result["host_ping"]["p99_ms"] < 200,
                     "rss_growth_mb": result["rss_growth_mb"] < 50}
    return result


async def main_async(args) -> dict:
    scenarios = {name: {"environment": limits, **await run_scenario(args, limits)} for name, limits in SCENARIOS.items()}
    return {"benchmark": "knock_flood", "quick": args.quick, "scenarios": scenarios, "targets": TARGETS,
            "met": all(all(s["met"].values()) for s in scenarios.values()),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--attackers", type=int, default=20, help="concurrent socket-opening loops")
    ap.add_argument("--quick", action="store_true", help="a smoke test: 5 s")
    ap.add_argument("--out", default=None, help="default bench/results/knock_flood.json (quick: not written)")
    args = ap.parse_args()
    if args.quick:
        args.seconds = min(args.seconds, 5.0)
    report = asyncio.run(main_async(args))
    out = args.out or (None if args.quick else str(ROOT / "bench" / "results" / "knock_flood.json"))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
