"""`serve --workers N` and one identity for the cluster, with real processes and the real Redis
(docs/architecture.md "Workers on one machine", "Cluster identity")."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from signaling.client import SignalingClient
from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack
from tests.helpers.redis_server import drop_prefix
from tests.helpers.server_process import ServerProcess
from tests.helpers.signaling import host_key

pytestmark = pytest.mark.timeout(120)

KEY = "workers-test-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
UDP = (43200, 43399)  # two workers: 43200-43299 and 43300-43399


def _call(method: str, url: str, body: dict | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def _nodes_answering(url: str, want: int = 2, within: float = 60.0) -> dict[str, int]:
    """GET /healthz on fresh connections until ``want`` distinct nodes answered (a worker still
    starting is not listening yet) or ``within`` seconds passed: {node: answers}."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + within
    while len(seen) < want and time.monotonic() < deadline:
        _, body = _call("GET", url + "/healthz")
        seen[body["node"]] = seen.get(body["node"], 0) + 1
    return seen


def _log_events(srv: ServerProcess, event: str) -> list[dict]:
    out = []
    for line in srv.output().splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == event:
                out.append(record)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_gone(pids: list[int], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if _alive(p)]}"
        time.sleep(0.05)


@pytest.fixture
def prefixed_redis(redis_url):
    prefix = f"w{uuid.uuid4().hex[:10]}:"
    sep = "&" if "?" in redis_url else "?"
    yield f"{redis_url}{sep}prefix={prefix}"
    asyncio.run(drop_prefix(redis_url, prefix))


async def _published_ports(url: str, name: str, keep: list) -> list[int]:
    """Create a room, join it as its host through ``url`` and publish: the answer's host candidate
    ports. The meeting stays on (its clients go to ``keep``), so the next room is placed elsewhere."""
    _, room = _call("POST", url + "/api/v1/rooms", {"roomName": name}, AUTH)
    peer = PeerClient(name)
    sig = SignalingClient(url.replace("http", "ws") + "/ws")
    keep.append((sig, peer))
    await sig.connect()
    joined = await sig.join(room["roomId"], name, host_key(room), timeout=15)
    assert joined["type"] == "joined", joined
    sdp, sources = await peer.publish_offer({"camera": SolidColourTrack(COLOURS["red"])})
    reply = await sig.request("publish", sdp=sdp, sources=sources, timeout=20)
    assert reply["type"] == "publish_answer", reply
    return [int(p) for p in re.findall(r"a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", reply["sdp"])]


async def _until(check, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def _meetings_listed(url: str) -> int:
    _, body = _call("GET", url + "/api/v1/cluster/nodes", headers=AUTH)
    return sum(len(n["meetings"]) for n in body["nodes"])


async def test_two_workers_share_the_port_each_on_its_udp_range_and_stop_together(tmp_path, prefixed_redis):
    srv = ServerProcess(tmp_path / "data", api_key=KEY, extra_args=[
        "--workers", "2", "--redis-url", prefixed_redis, "--udp-port-range", f"{UDP[0]}-{UDP[1]}"])
    srv.start(timeout=60)
    try:
        seen = _nodes_answering(srv.url)
        assert len(seen) == 2, seen
        started = _log_events(srv, "worker started")
        assert {r["node"] for r in started} == set(seen)
        assert sorted(r["udp_ports"] for r in started) == ["43200-43299", "43300-43399"]
        pids = [r["pid"] for r in started]

        # each new meeting is placed on the least loaded worker (once the registry shows the last
        # one): both workers end up owning a meeting, each with its media in its own range
        halves = {(43200, 43299): 0, (43300, 43399): 0}
        keep: list = []
        try:
            for attempt in range(6):
                ports = await _published_ports(srv.url, f"Range {attempt}", keep)
                assert ports, "no host candidate in the answer"
                owner = [h for h in halves if all(h[0] <= p <= h[1] for p in ports)]
                assert len(owner) == 1, f"candidates {ports} not within one worker's range"
                halves[owner[0]] += 1
                if all(halves.values()):
                    break
                await _until(lambda: _meetings_listed(srv.url) == attempt + 1, "the registry shows the meeting")
        finally:
            for sig, peer in keep:
                await sig.close()
                await peer.close()
        assert all(halves.values()), halves  # both workers answered media, each within its range
    finally:
        code = srv.stop(signal.SIGTERM, timeout=45)
    assert code == 0, srv.output()[-3000:]
    _wait_gone(pids)
    assert len(_log_events(srv, "worker exited")) == 2


def test_workers_without_a_redis_url_start_a_private_redis_server(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    data = tmp_path / "data"
    srv = ServerProcess(data, api_key=KEY, extra_args=["--workers", "2"])
    srv.start(timeout=60)
    try:
        assert (data / "redis" / "redis.sock").is_socket()
        redis_pid = _log_events(srv, "private redis started")[0]["pid"]
        assert len(_nodes_answering(srv.url)) == 2
        status, room = _call("POST", srv.url + "/api/v1/rooms", {"roomName": "Private"}, AUTH)
        assert status == 201
        for _ in range(10):  # whichever worker answers knows the room
            status, again = _call("GET", f"{srv.url}/api/v1/rooms/{room['roomId']}", headers=AUTH)
            assert status == 200 and again["access"] == room["access"]
    finally:
        code = srv.stop(signal.SIGTERM, timeout=45)
    assert code == 0, srv.output()[-3000:]
    _wait_gone([redis_pid])
    assert (data / "redis" / "appendonlydir").is_dir()  # the store's data stays in the data directory


def test_workers_without_redis_at_all_is_a_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "server", "serve", "--workers", "2", "--data-dir",
                           str(tmp_path / "data")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": str(tmp_path)}, cwd=str(Path(__file__).resolve().parents[2]))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--workers needs --redis-url" in lines[0], proc.stderr


async def test_a_room_link_made_on_one_node_is_accepted_by_another(tmp_path, prefixed_redis):
    args = ["--redis-url", prefixed_redis, "--public-url", "https://meet.example.org"]  # links equal on both
    a = ServerProcess(tmp_path / "a", extra_args=args).start(timeout=60)
    b = None
    try:
        b = ServerProcess(tmp_path / "b", extra_args=args).start(timeout=60)
        keys = re.findall(r"\b(ak_[A-Za-z0-9_-]{20,})\b", a.output())
        assert keys, a.output()
        assert "Generated an API key" not in b.output()  # created once, for the cluster
        auth = {"Authorization": f"Bearer {keys[0]}"}
        status, room = _call("POST", a.url + "/api/v1/rooms", {"roomName": "Across"}, auth)
        assert status == 201
        status, again = _call("GET", f"{b.url}/api/v1/rooms/{room['roomId']}", headers=auth)
        assert status == 200 and again["access"] == room["access"]  # same keys derived on B
        async with SignalingClient(b.url.replace("http", "ws") + "/ws") as sig:
            joined = await sig.join(room["roomId"], "Hana", host_key(room), timeout=15)
        assert joined["type"] == "joined" and joined["role"] == "host", joined
    finally:
        a.stop()
        if b:
            b.stop()


def test_a_killed_worker_is_logged_and_restarted_under_a_new_node_id(tmp_path, prefixed_redis):
    srv = ServerProcess(tmp_path / "data", api_key=KEY, extra_args=[
        "--workers", "2", "--redis-url", prefixed_redis, "--node-id", "box"])
    srv.start(timeout=60)
    try:
        assert set(_nodes_answering(srv.url)) == {"box-w0", "box-w1"}
        victim = next(r for r in _log_events(srv, "worker started") if r["node"] == "box-w0")
        os.kill(victim["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            try:  # a connection queued on the killed worker is reset: ask again
                if "box-w0.1" in _nodes_answering(srv.url, want=3, within=1.0):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, srv.output()[-3000:]
        exited = _log_events(srv, "worker exited; restarting it")
        assert [(r["node"], r["code"], r["level"]) for r in exited] == [("box-w0", -9, "error")]
    finally:
        assert srv.stop(signal.SIGTERM, timeout=45) == 0, srv.output()[-3000:]


def test_a_worker_configuration_error_stops_the_supervisor_with_exit_2(tmp_path, prefixed_redis):
    proc = subprocess.run([sys.executable, "-m", "server", "serve", "--workers", "2", "--redis-url", prefixed_redis,
                           "--data-dir", str(tmp_path / "data"), "--secret-file", str(tmp_path / "missing"),
                           "--log-format", "json"],
                          capture_output=True, text=True, timeout=90, cwd=str(Path(__file__).resolve().parents[2]))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not restarted" in proc.stderr and "antechamber: secret_file" in proc.stderr
