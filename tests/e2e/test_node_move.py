"""Chromium follows a meeting that moves to another node (docs/protocol.md "Moving between nodes").

Two apps share one store on the real Redis, in this process on a loop of their own (a thread: the
Playwright sync API owns the main one), behind a TCP proxy standing for the load balancer: the
pages load from it and their websockets go through it. The test points the proxy at node two,
restores the meeting there from node one's snapshot and hands it over on node one: the pages get
``reconnect``, reconnect through the proxy by themselves, resume under the same participant ids
and decode video from node two's SFU.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
import uuid
from pathlib import Path

import pytest
from aiohttp import web

from server.app import CLUSTER, HUB, SFU, create_app
from server.config import Settings
from server.credentials import load_or_create
from server.http.appkeys import RECORDINGS
from tests.helpers.cluster_redis import TcpProxy
from tests.helpers.redis_server import drop_prefix

from .conftest import TIMEOUT_MS
from .flows import in_meeting, join, participant_id, wait_true
from .test_media import _FRAMES_NOW

pytestmark = pytest.mark.e2e

API_KEY = "e2e-move-0123456789abcdef"


def _frames_over(minimum: int) -> str:
    """A page function: true once the page decoded more than ``minimum`` video frames."""
    return ("async () => { const m = window.antechamber.media; if (!m || !m.sub) return false;"
            f" return (await ({_FRAMES_NOW.strip()})()) > {int(minimum)}; }}")


class Nodes:
    """Two apps and the proxy, on their own event loop in a thread."""

    def __init__(self, redis_url: str, data_dir: Path) -> None:
        self.redis_url, self.data_dir = redis_url, data_dir
        self.prefix = f"t{uuid.uuid4().hex[:12]}:"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.apps: list[web.Application] = []
        self.runners: list[web.AppRunner] = []
        self.ports: list[int] = []
        self.proxy: TcpProxy | None = None

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        self.proxy = TcpProxy("127.0.0.1", 1)
        await self.proxy.start()
        sep = "&" if "?" in self.redis_url else "?"
        settings = Settings(data_dir=self.data_dir, api_keys=(API_KEY,), public_url=self.base_url,
                            redis_url=f"{self.redis_url}{sep}prefix={self.prefix}", reconnect_grace_seconds=20)
        credentials = load_or_create(settings.data_dir, settings.api_keys)
        for _ in range(2):
            app = create_app(settings, credentials)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.apps.append(app)
            self.runners.append(runner)
            self.ports.append(site._server.sockets[0].getsockname()[1])
        self.proxy.target = ("127.0.0.1", self.ports[0])

    @property
    def base_url(self) -> str:
        assert self.proxy is not None
        return f"http://127.0.0.1:{self.proxy.port}"

    async def move(self, rid: str) -> tuple[int, int]:
        """The meeting's node drains as on SIGTERM and the load balancer now sends to the other:
        the browser's reconnect claims the meeting there, which restores it from the mirror.
        (Placement chose the first node, whichever the proxy reached.) Returns (from, to)."""
        assert self.proxy is not None
        old = next(i for i, app in enumerate(self.apps) if app[HUB].room(rid) is not None)
        new = 1 - old
        self.proxy.target = ("127.0.0.1", self.ports[new])
        await self.apps[old][CLUSTER].drain(self.apps[old][RECORDINGS].shutdown)
        return old, new

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.cleanup()
        if self.proxy is not None:
            await self.proxy.cut()
        await drop_prefix(self.redis_url, self.prefix)

    def close(self) -> None:
        try:
            self.run(self.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    def create_room(self, **body) -> dict:
        req = urllib.request.Request(self.base_url + "/api/v1/rooms", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {API_KEY}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())


@pytest.fixture
def nodes(redis_url, tmp_path):
    n = Nodes(redis_url, tmp_path / "data")
    n.run(n.start())
    yield n
    n.close()


@pytest.fixture
def server():
    """conftest's ``new_page`` needs no server process here: the nodes are in this process."""
    return None


def test_the_browser_follows_its_meeting_to_another_node(nodes, new_page):
    room = nodes.create_room(roomName="Moving")
    rid = room["roomId"]
    host = new_page(room["access"]["anonymous"]["moderator"]["url"])
    join(host, "Hana Host")
    in_meeting(host, tiles=1)
    guest = new_page(room["access"]["anonymous"]["speaker"]["url"])
    join(guest, "Gus Guest")
    in_meeting(guest, tiles=2)
    in_meeting(host, tiles=2)
    hid, gid = participant_id(host), participant_id(guest)
    for page in (host, guest):
        wait_true(page, _frames_over(10), what="video frames decoded")
        page.evaluate("() => { window.moved = [];"
                      " window.antechamber.signaling.on('reconnect', (f) => window.moved.push(f.reason)); }")

    old, new = nodes.run(nodes.move(rid))
    for page, pid in ((host, hid), (guest, gid)):
        page.wait_for_function("() => window.moved.length === 1", timeout=TIMEOUT_MS)
        assert page.evaluate("window.moved[0]") == "draining"
        page.wait_for_function(
            "(pid) => { const s = window.antechamber.state; return s.phase === 'meeting' && s.me.participantId === pid"
            " && window.antechamber.signaling.isOpen; }", arg=pid, timeout=TIMEOUT_MS)
        in_meeting(page, tiles=2)
    assert nodes.run(_media_moved(nodes, rid, {hid, gid}, old, new))
    for page in (host, guest):       # the new peer connections decode video from the new node's SFU
        wait_true(page, _frames_over(10), what="video frames decoded")
    assert nodes.apps[old][HUB].room(rid) is None
    assert host.errors == [] and guest.errors == []


async def _media_moved(nodes: Nodes, rid: str, pids: set[str], old: int, new: int) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while loop.time() < deadline:
        room = nodes.apps[new][SFU].get_room(rid)
        if room is not None and all(room.has_participant(p) for p in pids):
            return nodes.apps[old][SFU].get_room(rid) is None
        await asyncio.sleep(0.05)
    return False


def test_media_reset_renegotiates_on_the_same_socket(nodes, new_page):
    """``media_reset`` (hub.reset_media): the SFU forgot the guest's peer connections; the page
    makes new ones with the same camera on the same websocket, and the host sees it again."""
    room = nodes.create_room(roomName="Reset")
    rid = room["roomId"]
    host = new_page(room["access"]["anonymous"]["moderator"]["url"])
    join(host, "Hana Host")
    in_meeting(host, tiles=1)
    guest = new_page(room["access"]["anonymous"]["speaker"]["url"])
    join(guest, "Gus Guest")
    in_meeting(guest, tiles=2)
    gid = participant_id(guest)
    for page in (host, guest):
        wait_true(page, _frames_over(10), what="video frames decoded")
    guest.evaluate("() => { window.oldMedia = window.antechamber.media; window.oldSocket ="
                   " window.antechamber.signaling.ws; }")
    host.evaluate("() => { window.subscribeOffers = 0;"
                  " window.antechamber.signaling.on('subscribe_offer', () => { window.subscribeOffers += 1; }); }")

    assert nodes.run(_reset(nodes, rid, gid))
    guest.wait_for_function(
        "() => { const m = window.antechamber.media; return m && m !== window.oldMedia && window.oldMedia.closed"
        " && m.pub && m.pub.remoteDescription !== null; }", timeout=TIMEOUT_MS)
    assert guest.evaluate("window.antechamber.signaling.ws === window.oldSocket")     # no reconnect
    host.wait_for_function("() => window.subscribeOffers >= 2", timeout=TIMEOUT_MS)  # gone, then back
    wait_true(guest, _frames_over(10), what="video frames decoded")            # its new subscriber pc
    before = host.evaluate(_FRAMES_NOW)       # the host decodes the guest's new publication
    wait_true(host, _frames_over(before + 10), what="video frames decoded")
    assert host.errors == [] and guest.errors == []


async def _reset(nodes: Nodes, rid: str, pid: str) -> bool:
    app = next(a for a in nodes.apps if a[HUB].room(rid) is not None)    # the meeting's node
    hub = app[HUB]
    if not hub.reset_media(rid, pid):
        return False
    await hub.idle()
    return app[SFU].get_room(rid).has_participant(pid)
