"""A node on ``--redis-url`` through a Redis outage (issue 11 "Faults: Redis outage"): a real
redis-server of the test's own, a real server process, Redis hung (SIGSTOP) and gone (SIGKILL),
then back on the same port.

While Redis is away: /healthz stays 200; /readyz turns 503 within 5 s; REST calls that need the
store answer 503 ``{code: "unavailable"}`` fast; a websocket ``join`` gets ``error unavailable``;
participants already in the meeting go on talking (chat). Redis back: ready again within 10 s.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest

from signaling.client import SignalingClient, SignalingErrorReply
from tests.helpers.redis_server import _reachable, free_port
from tests.helpers.server_process import ServerProcess

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")]

KEY = "outage-test-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


class OwnRedis:
    """A redis-server on a fixed port in a tmp dir, that the test can hang, kill and restart."""

    def __init__(self, tmp) -> None:
        self.port, self.dir = free_port(), tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "OwnRedis":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not _reachable("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        return self

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


def parse_qs_key(url: str) -> str:
    return parse_qs(urlparse(url).query)["roomKey"][0]


def call(method: str, url: str, body=None, timeout: float = 15.0) -> tuple[int, object, float]:
    """(status, JSON body, seconds taken); HTTP errors are answers."""
    data = json.dumps(body).encode() if body is not None else None
    t0 = time.monotonic()
    req = urllib.request.Request(url, data=data, method=method, headers=AUTH)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null"), time.monotonic() - t0
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null"), time.monotonic() - t0


def wait_status(url: str, status: int, within: float) -> float:
    """Poll ``url`` until it answers ``status``; the seconds it took (fails after ``within``)."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < within:
        try:
            last = call("GET", url, timeout=within)[0]
        except OSError as exc:
            last = exc
        if last == status:
            return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} within {within}s (last: {last})")


def assert_no_bug(srv: ServerProcess) -> None:
    """The outage was met as an outage: no unhandled error, no failed job, no internal_error, no
    task that died unseen (writes that fail soft may log their exception)."""
    out = srv.output()
    for bug in ("unhandled error", "background job failed", "internal_error", "Task exception was never retrieved"):
        assert bug not in out, bug


@pytest.fixture
def node(tmp_path):
    redis = OwnRedis(tmp_path).start()
    srv = ServerProcess(tmp_path / "data", api_key=KEY, extra_args=["--redis-url", redis.url + "?prefix=o:"])
    srv.start()
    try:
        yield srv, redis
    finally:
        srv.stop()
        if redis.proc is not None:
            redis.signal(signal.SIGCONT)
        redis.kill()


async def _meeting(srv: ServerProcess):
    """A room and two participants chatting in it."""
    status, room, _ = await asyncio.to_thread(call, "POST", srv.url + "/api/v1/rooms", {"roomName": "Outage"})
    assert status == 201, room
    key = parse_qs_key(room["access"]["anonymous"]["moderator"]["url"])
    ws = srv.url.replace("http", "ws") + "/ws"
    a, b = SignalingClient(ws), SignalingClient(ws)
    for c, name in ((a, "Ann"), (b, "Bob")):
        await c.connect()
        assert (await c.join(room["roomId"], name, key))["type"] == "joined"
    return room, key, ws, a, b


async def _check_outage(srv: ServerProcess, room: dict, key: str, ws: str, a, b, figures: dict) -> None:
    """Redis is away now: what each edge answers, and how fast."""
    status, body, took = await asyncio.to_thread(call, "GET", srv.url + "/healthz")
    assert status == 200 and took < 1.0
    figures["readyz_503_s"] = await asyncio.to_thread(wait_status, srv.url + "/readyz", 503, 5.0)
    for method, path, payload in (("GET", f"/api/v1/rooms/{room['roomId']}", None),
                                  ("POST", "/api/v1/rooms", {"roomName": "During"}),
                                  ("GET", "/api/v1/rooms", None)):
        status, body, took = await asyncio.to_thread(call, method, srv.url + path, payload)
        assert status == 503, (method, path, status, body)
        assert body["code"] == "unavailable" and body["message"], body
        assert took < 5.0, (method, path, took)
        figures.setdefault("rest_503_max_s", 0.0)
        figures["rest_503_max_s"] = max(figures["rest_503_max_s"], round(took, 2))
    # participants already in: signaling goes on (chat touches no store)
    t0 = time.monotonic()
    await a.send("chat", text="still here?")
    await b.wait_for("chat", lambda m: m["text"] == "still here?", timeout=5)
    figures["chat_during_outage_s"] = round(time.monotonic() - t0, 3)
    # a new join: error unavailable, fast
    c = SignalingClient(ws)
    await c.connect()
    t0 = time.monotonic()
    with pytest.raises(SignalingErrorReply) as err:
        await c.join(room["roomId"], "Cy", key, timeout=10)
    assert err.value.code == "unavailable", err.value.reply
    figures["join_unavailable_s"] = round(time.monotonic() - t0, 2)
    assert figures["join_unavailable_s"] < 5.0
    await c.close()
    # a host's lock needs the store: unavailable, the meeting still goes on
    with pytest.raises(SignalingErrorReply) as err:
        await a.request("lock", locked=True, timeout=10)
    assert err.value.code == "unavailable", err.value.reply
    await b.send("chat", text="yes")
    await a.wait_for("chat", lambda m: m["text"] == "yes", timeout=5)


async def test_redis_hung_then_back(node):
    srv, redis = node
    room, key, ws, a, b = await _meeting(srv)
    figures: dict = {}
    try:
        redis.signal(signal.SIGSTOP)
        await _check_outage(srv, room, key, ws, a, b, figures)
        redis.signal(signal.SIGCONT)
        figures["ready_again_s"] = await asyncio.to_thread(wait_status, srv.url + "/readyz", 200, 10.0)
        status, again, _ = await asyncio.to_thread(call, "GET", f"{srv.url}/api/v1/rooms/{room['roomId']}")
        assert status == 200 and again["roomId"] == room["roomId"]
        c = SignalingClient(ws)
        await c.connect()
        assert (await c.join(room["roomId"], "Cy", key))["type"] == "joined"
        await c.close()
    finally:
        await a.close()
        await b.close()
    assert_no_bug(srv)
    print("redis hung:", figures)


async def test_redis_killed_then_restarted(node):
    srv, redis = node
    room, key, ws, a, b = await _meeting(srv)
    figures: dict = {}
    try:
        redis.kill()
        await _check_outage(srv, room, key, ws, a, b, figures)
        redis.start()           # same port, empty (no persistence): the room is gone, the node works
        figures["ready_again_s"] = await asyncio.to_thread(wait_status, srv.url + "/readyz", 200, 10.0)
        status, created, _ = await asyncio.to_thread(call, "POST", srv.url + "/api/v1/rooms", {"roomName": "After"})
        assert status == 201, created
        await a.send("chat", text="after")
        await b.wait_for("chat", lambda m: m["text"] == "after", timeout=5)
    finally:
        await a.close()
        await b.close()
    assert_no_bug(srv)
    print("redis killed:", figures)
