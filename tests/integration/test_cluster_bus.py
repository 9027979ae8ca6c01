"""The node bus on a real Redis: ordered delivery per sender, requests and replies, errors,
a gone node (PUBLISH reaching nobody) and a timeout."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from server.cluster.bus import NodeBus
from server.cluster.errors import RemoteError, Unreachable
from server.cluster.redis_client import connect
from tests.helpers.cluster_redis import TcpProxy
from tests.helpers.redis_server import drop_prefix

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def buses(redis_url):
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    url = f"{redis_url}?prefix={prefix}"
    made: list[NodeBus] = []
    clients = []

    async def make(node_id: str, via: str | None = None) -> NodeBus:
        redis, cluster_prefix = connect(f"{via}?prefix={prefix}" if via else url)
        clients.append(redis)
        bus = NodeBus(redis, cluster_prefix, node_id)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()
    for redis in clients:
        await redis.aclose()
    await drop_prefix(redis_url, prefix)


async def test_messages_arrive_in_order_with_the_sender(buses):
    a, b = await buses("a"), await buses("b")
    got: list[tuple[str, int]] = []
    done = asyncio.Event()

    async def on_n(msg):
        got.append((msg["from"], msg["n"]))
        if msg["n"] % 7 == 0:
            await asyncio.sleep(0)      # a handler that yields keeps the order all the same
        if len(got) == 1000:
            done.set()

    b.on("n", on_n)
    await a.start()
    await b.start()
    for n in range(500):
        a.post("b", {"k": "n", "n": n})
    for n in range(500, 1000):      # awaited sends interleaved with posts keep the order too
        if n % 100 == 0:
            assert await a.send("b", {"k": "n", "n": n})
        else:
            a.post("b", {"k": "n", "n": n})
    await asyncio.wait_for(done.wait(), 10)
    assert got == [("a", n) for n in range(1000)]


async def test_request_reply_error_and_timeout(buses):
    a, b = await buses("a"), await buses("b")

    async def add(msg):
        return {"sum": msg["x"] + msg["y"], "from": msg["from"]}

    async def fail(msg):
        raise LookupError("no")

    class Coded(Exception):
        code, message = "room_full", "the room is full"

    async def coded(msg):
        raise Coded()

    async def slow(msg):
        await asyncio.sleep(5)

    b.on("add", add)
    b.on("fail", fail)
    b.on("coded", coded)
    b.on("slow", slow)
    await a.start()
    await b.start()
    assert await a.request("b", {"k": "add", "x": 2, "y": 3}) == {"sum": 5, "from": "a"}
    with pytest.raises(RemoteError) as err:
        await a.request("b", {"k": "fail"})
    assert err.value.code == "internal_error"
    with pytest.raises(RemoteError) as err:
        await a.request("b", {"k": "coded"})
    assert (err.value.code, err.value.message) == ("room_full", "the room is full")
    with pytest.raises(RemoteError) as err:
        await a.request("b", {"k": "nothing"})
    assert err.value.code == "unknown_kind"
    # a slow request handler does not hold the inbox: another request is answered meanwhile
    slow_call = asyncio.ensure_future(a.request("b", {"k": "slow"}, timeout=0.3))
    assert (await a.request("b", {"k": "add", "x": 1, "y": 1}))["sum"] == 2
    started = time.monotonic()
    with pytest.raises(Unreachable):
        await slow_call
    assert time.monotonic() - started < 2


async def test_a_gone_node_is_unreachable_at_once(buses):
    a, b = await buses("a"), await buses("b")
    gone: list[str] = []
    a.on_gone(gone.append)
    await a.start()
    await b.start()
    b.on("add", lambda msg: asyncio.sleep(0, {"ok": True}))
    assert await a.send("b", {"k": "add"}) is True
    await b.close()
    assert await a.send("b", {"k": "add"}) is False
    started = time.monotonic()
    with pytest.raises(Unreachable):
        await a.request("b", {"k": "add"}, timeout=5)
    assert time.monotonic() - started < 1, "no subscriber: Unreachable at once, not after the timeout"
    a.post("b", {"k": "add"})
    deadline = time.monotonic() + 5
    while not gone and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert gone == ["b"]
    assert await a.send("nobody", {"k": "x"}) is False


async def test_the_inbox_comes_back_after_a_redis_outage(buses, redis_url):
    proxy = await TcpProxy.to_redis(redis_url)
    try:
        a, b = await buses("a"), await buses("b", via=proxy.url())
        got: list[int] = []
        b.on("n", lambda msg: asyncio.sleep(0, got.append(msg["n"])))
        await a.start()
        await b.start()
        assert await a.send("b", {"k": "n", "n": 1})
        delivered_by = time.monotonic() + 10
        while 1 not in got:             # delivered before the cut (pub/sub loses what is in flight)
            assert time.monotonic() < delivered_by
            await asyncio.sleep(0.01)
        await proxy.cut()
        assert await b.send("a", {"k": "n", "n": 0}) is False      # Redis away: False, never raises
        deadline = time.monotonic() + 10
        while await a.send("b", {"k": "n", "n": 2}):                # Redis dropped b's subscription
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await proxy.restore()
        while not await a.send("b", {"k": "n", "n": 3}):            # b subscribed again by itself
            assert time.monotonic() < deadline + 10
            await asyncio.sleep(0.05)
        while 3 not in got:
            assert time.monotonic() < deadline + 15
            await asyncio.sleep(0.01)
        assert got[0] == 1
    finally:
        await proxy.cut()
