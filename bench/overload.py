"""Overload benchmark (issue 17 "Graceful overload"): a real server pinned to one core, subscribers
added in steps until the node says busy; per step the server's loop lag, packets/s, CPU and busy
flag (from /metrics), the held streams' frame rate, joins refused with server_busy, and sessions lost.

    python bench/overload.py [--step 10] [--max 200] [--hog] [--budget auto|PPS] [--out FILE]

The server runs `python -m server serve` under `taskset -c 1`; this process (the clients: one
publisher sending pre-encoded VP8 padded to ~3 packets a frame, subscribers counting encoded frames,
no decoding) runs on core 0. `--hog` adds a busy-looping process on core 1, so the server gets about
half the core and saturates before the clients do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signaling.client import SignalingClient, SignalingErrorReply  # noqa: E402
from tests.helpers.media_peers import (  # noqa: E402
    PeerClient,
    PreEncodedTrack,
    answer_over_signaling,
    encode_vp8,
    publish_over_signaling,
)

KEY = "bench-overload-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metric(text: str, name: str) -> float | None:
    m = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


async def _fps(peers: list[PeerClient], publisher: str, seconds: float = 3.0) -> list[float]:
    before = [p.frames_from(publisher, "video") for p in peers]
    began = time.monotonic()
    await asyncio.sleep(seconds)
    span = time.monotonic() - began
    return [(p.frames_from(publisher, "video") - b) / span for p, b in zip(peers, before)]


async def run(args: argparse.Namespace) -> dict:
    os.sched_setaffinity(0, {0})
    if args.client_consent == "tolerant":     # the clients' own consent must not fail for their own lag
        from media.aiortc_compat import install_lag_tolerant_consent
        install_lag_tolerant_consent()
    port = _free_port()
    data = tempfile.mkdtemp(prefix="overload-")
    cmd = ["taskset", "-c", "1", sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", data,
           "--api-key", KEY, "--public-url", f"http://127.0.0.1:{port}", "--log-level", "info",
           "--max-forward-pps", args.budget]
    hog = subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", "while True: pass"]) if args.hog else None
    env = {**os.environ, "ANTECHAMBER_GROUP_MAX_PARTICIPANTS": "2000"}
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(Path(data) / "server.log", "w"))
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {KEY}"}
    steps: list[dict] = []
    peers: list[PeerClient] = []
    sigs: list[SignalingClient] = []
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(base + "/healthz") as r:
                        if r.status < 500:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            async with http.post(base + "/api/v1/rooms", json={"roomMode": "group"}, headers=auth) as r:
                room = await r.json()
            rid = room["roomId"]
            key = room["access"]["anonymous"]["moderator"]["url"].split("roomKey=")[1].split("&")[0]
            host = SignalingClient(base.replace("http", "ws") + "/ws")
            await host.connect()
            await host.join(rid, "Pub", key)
            hp = PeerClient(host.participant_id, decode=False)
            answer_over_signaling(host, hp)
            frames = [f + (os.urandom(2400) if i else b"") for i, f in enumerate(encode_vp8((200, 30, 30), 60))]
            await publish_over_signaling(host, hp, {"camera": PreEncodedTrack("video", frames, 30, 90000)})
            refused = 0
            while len(peers) < args.max:
                began, admitted, busy_refusals, other_errors = time.monotonic(), 0, 0, {}
                for _ in range(args.step):
                    sig = SignalingClient(base.replace("http", "ws") + "/ws")
                    await sig.connect()
                    try:
                        await sig.join(rid, f"S{len(peers)}", timeout=30)
                    except SignalingErrorReply as exc:
                        busy_refusals += exc.code == "server_busy"
                        other_errors[exc.code] = other_errors.get(exc.code, 0) + (exc.code != "server_busy")
                        await sig.close()
                        continue
                    p = PeerClient(sig.participant_id, decode=False)
                    answer_over_signaling(sig, p)
                    peers.append(p)
                    sigs.append(sig)
                    admitted += 1
                join_s = time.monotonic() - began
                await asyncio.sleep(2.0)      # let the step's subscribers connect
                fps = await _fps(peers, host.participant_id)
                async with http.get(base + "/metrics", headers=auth) as r:
                    text = await r.text()
                lost = sum(1 for p in peers if p.subscribe_pc.connectionState in ("failed", "closed"))
                step = {"subscribers": len(peers), "admitted": admitted, "server_busy": busy_refusals, "other_errors": other_errors,
                        "join_s": round(join_s, 2), "fps_min": round(min(fps), 1) if fps else None,
                        "fps_median": round(sorted(fps)[len(fps) // 2], 1) if fps else None,
                        "below_28fps": sum(f < 28 for f in fps), "lost_sessions": lost,
                        "lag_p99_s": _metric(text, "antechamber_event_loop_lag_p99_seconds"),
                        "forwarded_pps": _metric(text, "antechamber_forwarded_packets_per_second"),
                        "cpu": _metric(text, "antechamber_process_cpu_fraction"),
                        "busy": _metric(text, "antechamber_forwarding_busy"),
                        "load1": os.getloadavg()[0]}
                print(json.dumps(step), flush=True)
                steps.append(step)
                refused += busy_refusals
                if busy_refusals == args.step and len(steps) >= 2 and steps[-2]["server_busy"] == args.step:
                    break        # refused twice in a row: past capacity, held streams measured
            log = (Path(data) / "server.log").read_text()
            return {"budget": args.budget, "hog": args.hog, "client_consent": args.client_consent, "steps": steps,
                    "refused_total": refused, "server_ice_failed": log.count("ICE failed"),
                    "server_consent_late_not_counted": log.count("consent check late"),
                    "server_consent_expired": log.count("ICE consent expired")}
    finally:
        for p in peers:
            await p.close()
        for s in sigs:
            await s.close()
        server.terminate()
        server.wait(10)
        if hog is not None:
            hog.terminate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--max", type=int, default=200)
    parser.add_argument("--budget", default="auto")
    parser.add_argument("--hog", action="store_true")
    parser.add_argument("--client-consent", choices=["stock", "tolerant"], default="stock")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "overload.json"))
    args = parser.parse_args()
    report = asyncio.run(run(args))
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "steps"}))


if __name__ == "__main__":
    main()
