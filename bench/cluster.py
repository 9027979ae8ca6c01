"""Cluster benchmark: workers' capacity, knock latency across nodes, the cost of a relayed message.

    python bench/cluster.py [--quick] [--redis-url redis://127.0.0.1:6379/0] [--out bench/results/cluster.json]

Every server is a real ``python -m server serve`` process on one Redis (a unique key prefix,
dropped at the end):

a. **capacity**: ``serve --redis-url …`` (one process) against ``serve --workers 2 --redis-url …``
   on the same port: rooms of one publisher (bench/forwarding.py's ~1 Mbit/s VP8 clip plus audio)
   and S subscribers over the real websocket protocol (bench/cluster_media.py, one client process);
   steps of more rooms until two steps in a row lose more than 1 % of the video. Capacity = the
   most video streams forwarded with ≤ 1 % loss; the ratio is workers' / one process'. The server's CPU is the process tree's
   (supervisor and workers) over the window; the load generator's is reported next to it;
b. **knock → host** when the guest's websocket is on another node than the meeting's owner
   (relayed) against the same on the owner: two nodes, a host on node-0 (which owns the meeting),
   guests knocking one after another alternately through node-1 and node-0;
c. **relayed signaling message**: a ``chat`` from a sender on node-1 (relayed) or on node-0
   (direct) to a receiver on node-0, the owner: send → the receiver's ``chat``, and the sender's
   round trip (send → its ``ok``).

Writes bench/results/cluster.json (and cluster.png when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.forwarding import encode_clip  # noqa: E402
from bench.forwarding_client import FPS, _write_clip  # noqa: E402
from bench.knock import API_KEY, create_room, free_port, summary  # noqa: E402
from signaling.client import SignalingClient  # noqa: E402

MEDIA_CLIENT = Path(__file__).resolve().parent / "cluster_media.py"
ENV = {"ANTECHAMBER_KNOCKS_PER_IP_PER_MINUTE": "10000000", "ANTECHAMBER_GROUP_MAX_PARTICIPANTS": "100000",
       "PYTHONPATH": str(ROOT),
       # every client comes from 127.0.0.1: the limits per address and per room are off
       **{f"ANTECHAMBER_{name}": "0" for name in (
           "PENDING_KNOCKS_PER_IP", "MIN_KNOCK_INTERVAL_SECONDS", "KNOCKS_PER_ROOM_PER_MINUTE", "JOINS_PER_IP_PER_MINUTE",
           "JOINS_PER_ROOM_PER_MINUTE", "WS_UNAUTHENTICATED_PER_IP", "REST_RATE_LIMIT_PER_MINUTE")}}


# --- server processes ----------------------------------------------------------------------------


class Node:
    """One ``serve`` command (a single process, or a supervisor with its workers)."""

    def __init__(self, data_dir: Path, redis_url: str, *args: str) -> None:
        self.node_id = args[args.index("--node-id") + 1] if "--node-id" in args else None
        self.port = free_port()
        self.url, self.ws = f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}/ws"
        cmd = [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", str(data_dir), "--api-key", API_KEY, "--log-format", "json", "--log-level", "warning",
               "--redis-url", redis_url, *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, **ENV),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready(self, nodes: int = 1, timeout: float = 60) -> "Node":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if len(self.cluster_nodes()) >= nodes:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server not ready")

    def cluster_nodes(self) -> list[dict[str, Any]]:
        req = urllib.request.Request(self.url + "/api/v1/cluster/nodes", headers={"Authorization": f"Bearer {API_KEY}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return [n for n in json.loads(resp.read())["nodes"] if n.get("state") == "ready"]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the process and its descendants, from /proc."""
        return sum(_cpu(pid) for pid in _tree(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(p for p, pp in parents.items() if pp == pid)
    return out


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- a. capacity -----------------------------------------------------------------------------------


async def _rooms(node: Node, count: int) -> list[dict[str, str]]:
    async with aiohttp.ClientSession() as http:
        made = [await create_room(http, node.url, roomMode="group") for _ in range(count)]
    return [{"roomId": rid, "key": key} for rid, key in made]


def capacity_step(node: Node, rooms: int, subscribers: int, clip: Path, tmp: Path, window: float,
                  batch: int, paced: bool = True) -> dict[str, Any]:
    spec = tmp / f"rooms-{uuid.uuid4().hex[:6]}.json"
    errors = spec.with_suffix(".err")
    spec.write_text(json.dumps(asyncio.run(_rooms(node, rooms))))
    client = subprocess.Popen([sys.executable, str(MEDIA_CLIENT), "--ws", node.ws, "--rooms", str(spec),
                               "--clip", str(clip), "--subscribers", str(subscribers), "--window", str(window),
                               "--batch", str(batch), *(["--api-key", API_KEY] if paced else [])],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=errors.open("w"), text=True)
    marks: dict[str, tuple[float, float, float]] = {}
    placement: dict[str, int] = {}
    result: dict[str, Any] = {"error": "no result"}
    assert client.stdout is not None
    for line in client.stdout:
        if line.startswith("WINDOW"):
            marks[line.split()[1]] = (time.monotonic(), node.cpu_seconds(), _cpu(client.pid))
            if line.split()[1] == "start":
                placement = {n["nodeId"]: len(n.get("meetings", [])) for n in node.cluster_nodes()}
        elif line.startswith("{"):
            result = json.loads(line)
    client.wait(60)
    if "error" in result:
        result["stderr_tail"] = errors.read_text(errors="replace")[-1500:]
    if "start" in marks and "end" in marks:
        wall = marks["end"][0] - marks["start"][0]
        result["server_cpu_cores"] = round((marks["end"][1] - marks["start"][1]) / wall, 3)
        result["load_generator_cpu_cores"] = round((marks["end"][2] - marks["start"][2]) / wall, 3)
    result["meetings_per_node"] = placement
    result["machine_load_1min"] = round(os.getloadavg()[0], 2)
    return result


def capacity(mode: str, redis_url: str, tmp: Path, steps: list[int], subscribers: int, clip: Path,
             window: float) -> list[dict[str, Any]]:
    extra = ["--workers", "2"] if mode == "workers2" else []
    node = Node(tmp / mode, redis_url, "--udp-port-range", "43000-43999", *extra)
    rows: list[dict[str, Any]] = []
    try:
        node.ready(nodes=2 if extra else 1)
        failed = 0
        for rooms in steps:
            row = {"mode": mode, **capacity_step(node, rooms, subscribers, clip, tmp, window, 2, paced=bool(extra))}
            rows.append(row)
            print(json.dumps(row), flush=True)
            failed = 0 if _ok(row) else failed + 1
            if failed == 2 or "error" in row:     # one failing step may be a noisy neighbour's doing
                break
    finally:
        node.stop()
    return rows


def _ok(row: dict[str, Any]) -> bool:
    """No more than 1 % video loss, and the publishers kept their frame rate (a starved load
    generator sends less, which no sequence gap shows)."""
    return ("error" not in row and (row.get("video_packet_loss") or 0) <= 0.01
            and (row.get("video_frame_loss") or 0) <= 0.01 and (row.get("publisher_fps") or 0) >= 0.95 * FPS)


def _capacity_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if _ok(r)]
    best = max(ok, key=lambda r: r["video_streams"], default=None)
    return {"video_streams": best["video_streams"] if best else 0,
            "limit_reached": any(not _ok(r) for r in rows),
            "server_cpu_cores_at_max": best.get("server_cpu_cores") if best else None,
            "load_generator_cpu_cores_at_max": best.get("load_generator_cpu_cores") if best else None,
            "server_cpu_pct_per_stream_at_max":
                round(100 * best["server_cpu_cores"] / best["video_streams"], 3)
                if best and best.get("server_cpu_cores") else None}


# --- b. knock -> host, c. relayed chat ------------------------------------------------------------------


async def _owner(via: Node, room_id: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for n in via.cluster_nodes():
            if room_id in n.get("meetings", []):
                return n["nodeId"]
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no owner for {room_id}")


async def _on_the_owner(http: aiohttp.ClientSession, nodes: list[Node], rid: str, key: str, name: str
                        ) -> tuple[SignalingClient, Node, Node]:
    """A first participant whose websocket is on the meeting's owner: (it, the owner, the other node).
    Placement picks the least loaded node, so the owner may not be the node first reached: then a
    second client joins on the owner before the first leaves (the meeting stays where it is)."""
    first = SignalingClient(nodes[0].ws, http=http)
    await first.connect()
    await first.join(rid, name, key)
    owner_id = await _owner(nodes[0], rid)
    owner = nodes[int(owner_id.rsplit("-", 1)[1])]
    other = nodes[1] if owner is nodes[0] else nodes[0]
    if owner is nodes[0]:
        return first, owner, other
    second = SignalingClient(owner.ws, http=http)
    await second.connect()
    await second.join(rid, name, key)
    await first.close()
    return second, owner, other


async def knock_and_chat(nodes: list[Node], guests: int, messages: int) -> dict[str, Any]:
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        rid, key = await create_room(http, nodes[1].url, isLocked=True, roomMode="group")
        seen: dict[str, float] = {}
        host, owner, relay = await _on_the_owner(http, nodes, rid, key, "host")
        host.listener = lambda m: (seen.setdefault(m["change"]["displayName"], time.perf_counter())
                                   if m.get("type") == "knocks" and (m.get("change") or {}).get("state") == "waiting"
                                   else None)
        knock: dict[str, list[float]] = {"relayed": [], "direct": []}
        clients = []
        for i in range(2 * guests):
            way = "relayed" if i % 2 == 0 else "direct"
            g = SignalingClient((relay if way == "relayed" else owner).ws, http=http)
            await g.connect()
            name = f"guest{i}"
            t0 = time.perf_counter()
            await g.send("join", roomName=rid, displayName=name)
            while name not in seen:
                await asyncio.sleep(0)
                if time.perf_counter() - t0 > 10:
                    raise RuntimeError("knock not seen")
            knock[way].append((seen[name] - t0) * 1000)
            clients.append(g)
        for c in clients:
            await c.close()
        await host.close()
        chat = await _chat(http, nodes, messages)
    return {"knock_to_host": {way: summary(ms) for way, ms in knock.items()}, "knock_owner": owner_name(owner),
            "chat": chat}


async def _chat(http: aiohttp.ClientSession, nodes: list[Node], messages: int) -> dict[str, Any]:
    rid, key = await create_room(http, nodes[1].url, roomMode="group")
    got: dict[str, float] = {}
    receiver, owner, relay = await _on_the_owner(http, nodes, rid, key, "receiver")
    receiver.listener = lambda m: got.setdefault(m["text"], time.perf_counter()) if m.get("type") == "chat" else None
    senders = {}
    for way, node in (("relayed", relay), ("direct", owner)):
        s = SignalingClient(node.ws, http=http)
        await s.connect()
        await s.join(rid, f"sender-{way}", key)
        senders[way] = s
    one_way: dict[str, list[float]] = {"relayed": [], "direct": []}
    round_trip: dict[str, list[float]] = {"relayed": [], "direct": []}
    for i in range(2 * messages):
        way = "relayed" if i % 2 == 0 else "direct"
        text = f"m{i}"
        t0 = time.perf_counter()
        await senders[way].request("chat", text=text, timeout=10)
        round_trip[way].append((time.perf_counter() - t0) * 1000)
        while text not in got:
            await asyncio.sleep(0)
            if time.perf_counter() - t0 > 10:
                raise RuntimeError("chat not received")
        one_way[way].append((got[text] - t0) * 1000)
        for c in (receiver, *senders.values()):
            c.inbox.clear()
            c.history.clear()
            c.raw_frames.clear()
    for c in (receiver, *senders.values()):
        await c.close()

    def added(series: dict[str, list[float]]) -> dict[str, float]:
        r, d = summary(series["relayed"]), summary(series["direct"])
        return {"median_ms": round(r["p50_ms"] - d["p50_ms"], 3), "p99_ms": round(r["p99_ms"] - d["p99_ms"], 3)}

    return {"owner": owner_name(owner), "to_a_receiver_on_the_owner": {w: summary(ms) for w, ms in one_way.items()},
            "sender_round_trip": {w: summary(ms) for w, ms in round_trip.items()},
            "added_by_the_relay": {"one_way": added(one_way), "round_trip": added(round_trip)}}


def owner_name(node: Node) -> str:
    return node.node_id


def latency(redis_url: str, tmp: Path, guests: int, messages: int) -> dict[str, Any]:
    nodes = [Node(tmp / f"node{i}", redis_url, "--node-id", f"node-{i}",
                  "--udp-port-range", f"{44000 + 200 * i}-{44199 + 200 * i}") for i in range(2)]
    try:
        for n in nodes:
            n.ready(nodes=2)
        return asyncio.run(knock_and_chat(nodes, guests, messages))
    finally:
        for n in nodes:
            n.stop()


# --- report --------------------------------------------------------------------------------------------


def drop_prefix(redis_url: str, prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(redis_url)
    try:
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            r.delete(*keys)
    finally:
        r.close()


def plot(report: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (loss, cpu) = plt.subplots(1, 2, figsize=(11, 4))
    for mode, rows in report["capacity"]["steps"].items():
        rows = [r for r in rows if "error" not in r]
        xs = [r["video_streams"] for r in rows]
        loss.plot(xs, [100 * max(r["video_packet_loss"] or 0, r.get("video_frame_loss") or 0) for r in rows], "o-",
                  label=mode)
        cpu.plot(xs, [100 * (r.get("server_cpu_cores") or 0) for r in rows], "o-", label=f"{mode}: servers")
        cpu.plot(xs, [100 * (r.get("load_generator_cpu_cores") or 0) for r in rows], "x--",
                 label=f"{mode}: load generator")
    loss.axhline(1, color="grey", lw=0.8, ls=":")
    loss.set(xlabel="forwarded video streams", ylabel="video loss (%, packets or frames)",
             title="one process vs --workers 2")
    cpu.set(xlabel="forwarded video streams", ylabel="CPU (% of a core)", title="CPU over the window")
    for ax in (loss, cpu):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small steps and samples (under 2 minutes)")
    ap.add_argument("--redis-url", default=os.environ.get("ANTECHAMBER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--subscribers", type=int, default=8, help="subscribers per room (capacity run)")
    ap.add_argument("--steps", help="comma-separated room counts for the capacity run")
    ap.add_argument("--modes", default="one_process,workers2", help=argparse.SUPPRESS)
    ap.add_argument("--no-latency", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "cluster.json"))
    ap.add_argument("--plot-only", action="store_true", help="redraw the plot of an existing report")
    args = ap.parse_args()
    if args.plot_only:
        plot(json.loads(Path(args.out).read_text()), Path(args.out).with_suffix(".png"))
        return 0
    steps = [int(x) for x in args.steps.split(",")] if args.steps else ([3, 6] if args.quick else [2, 4, 6, 8, 10, 12, 14, 16, 20])
    window = 5.0 if args.quick else 10.0
    guests, messages = (50, 100) if args.quick else (200, 500)
    prefix = f"bench{uuid.uuid4().hex[:8]}:"
    sep = "&" if "?" in args.redis_url else "?"
    redis_url = f"{args.redis_url}{sep}prefix={prefix}"
    started = time.monotonic()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip = tmp / "clip.vp8frames"
        _write_clip(encode_clip(), clip)
        try:
            lat = latency(redis_url, tmp, guests, messages) if not args.no_latency else {} if not args.no_latency else {}
            print(json.dumps(lat, indent=2), flush=True)
            cap = {mode: capacity(mode, redis_url, tmp, steps, args.subscribers, clip, window)
                   for mode in args.modes.split(",")}
        finally:
            drop_prefix(args.redis_url, prefix)
    one, two = _capacity_of(cap.get("one_process", [])), _capacity_of(cap.get("workers2", []))
    ratio = round(two["video_streams"] / one["video_streams"], 2) if one["video_streams"] else None
    report = {
        "benchmark": "cluster", "quick": args.quick, "duration_s": round(time.monotonic() - started, 1),
        "capacity": {"steps": cap, "subscribers_per_room": args.subscribers, "window_s": window,
                     "max_video_streams_without_loss": {"one_process": one, "workers2": two},
                     "ratio": ratio, "target_ratio": 1.7,
                     "ratio_is_a_lower_bound": not two["limit_reached"]},
        **lat,
        "targets": {"knock_to_host_relayed_p99_ms": 30, "workers_capacity_ratio": 1.7},
        "notes": [
            "All processes (servers, Redis, the load generator) share one machine; "
            f"{os.cpu_count()} CPUs. load_generator_cpu_cores is the media client's CPU over the window: "
            "whatever it takes is not available to the servers.",
            "Capacity steps: rooms of 1 publisher (~1 Mbit/s VP8 + Opus-sized audio) and S subscribers; "
            "video_streams = rooms x S. video_frame_loss: video frames (marker bits) received per stream against the "
            "publishers' frames sent in the window (the SFU may drop whole frames, which leaves no sequence gap). "
            "A step fails with > 1 % video packet or frame loss, or when its publishers sent under 95 % "
            "of 30 fps (the load generator starved); two failing steps in a row end the series; capacity = "
            "the largest step that did not fail. When no step "
            "reached it (limit_reached false), the capacity is only known to be at least the largest step.",
            "With workers, rooms arrive in batches of one per node: each batch waits until the registry lists its meetings, "
            "so placement sees the load of the meetings placed before it (heartbeats every 2 s); placed all at "
            "once, every meeting of a burst goes to the same worker (stale loads).",
            "one_process runs with --redis-url too (a one-node cluster), so only the worker count differs.",
            "knock_to_host: a guest sending join -> the host (on the owner) receiving the knocks update naming it; "
            "relayed = the guest's websocket on node-1, direct = on node-0, alternating.",
            "chat: relayed = sender on node-1, receiver on node-0 (the owner); direct = both on node-0.",
        ],
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "clip_fps": FPS},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    plotted = plot(report, out.with_suffix(".png"))
    print(json.dumps({k: report.get(k) for k in ("capacity", "knock_to_host", "chat")}, indent=2))
    print(f"wrote {out}" + (f" and {out.with_suffix('.png')}" if plotted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
