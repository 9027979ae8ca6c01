"""The node registry on the real Redis (server/cluster/registry.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from server.cluster.registry import NodeRegistry
from tests.helpers.cluster_redis import TcpProxy, cluster_namespace, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

INTERVAL, TTL = 0.3, 1.2


@pytest.fixture
async def ns(redis_url):
    async with cluster_namespace(redis_url) as namespace:
        yield namespace


def registry(ns, node_id: str, load: dict | None = None, via: str | None = None) -> NodeRegistry:
    load = load if load is not None else {"participants": 0, "streams": 0, "meetings": []}
    return NodeRegistry(ns.client(via), ns.prefix, node_id, f"http://10.0.0.{len(node_id)}:8080",
                        lambda: load, interval=INTERVAL, ttl=TTL)


async def ids(reg: NodeRegistry) -> list[str]:
    return [n.node_id for n in await reg.nodes()]


async def test_two_nodes_listed_with_their_load_and_a_crashed_one_disappears(ns):
    load_a = {"participants": 3, "streams": 6, "meetings": ["r1", "r2"]}
    a, b = registry(ns, "node-a", load_a), registry(ns, "node-b")
    await a.start()
    await b.start()
    try:
        assert await ids(a) == ["node-a", "node-b"] == await ids(b)
        info = await b.node("node-a")
        assert (info.participants, info.streams, info.meetings, info.state) == (3, 6, ["r1", "r2"], "ready")
        assert info.url == a.url and info.started_at <= info.heartbeat_at <= time.time() + 1
        # the load is read at every heartbeat
        load_a["participants"] = 4
        await wait_for(lambda: _participants(b, "node-a", 4), timeout=5)

        await b.close(leave=False)                  # a crash: no more heartbeats, nothing deleted
        stopped = time.monotonic()
        took = await wait_for(lambda: _listed(a, ["node-a"]), timeout=10)
        assert time.monotonic() - stopped < TTL + 1.0, f"gone after {took:.2f} s"
        # nodes() pruned the set
        assert await ns.client().smembers(ns.prefix + "nodes") == {b"node-a"}
        assert await a.node("node-b") is None
    finally:
        await a.close()
        await b.close()


async def _participants(reg: NodeRegistry, node_id: str, n: int) -> bool:
    info = await reg.node(node_id)
    return info is not None and info.participants == n


async def _listed(reg: NodeRegistry, expected: list[str]) -> bool:
    return await ids(reg) == expected


async def test_close_leaves_the_registry_at_once(ns):
    a, b = registry(ns, "node-a"), registry(ns, "node-b")
    await a.start()
    await b.start()
    await b.close()
    assert await ids(a) == ["node-a"]
    assert await ns.client().exists(ns.prefix + "node:node-b") == 0
    assert await ns.client().smembers(ns.prefix + "nodes") == {b"node-a"}
    await a.close()
    assert await ns.client().exists(ns.prefix + "nodes", ns.prefix + "node:node-a") == 0


async def test_state_change_is_written_at_once(ns):
    a = registry(ns, "node-a")
    a.interval = 30.0                               # only the state change can trigger a write
    await a.start()
    try:
        a.set_state("draining")
        await wait_for(lambda: _state(a, "draining"), timeout=5)
        with pytest.raises(ValueError):
            a.set_state("gone")
    finally:
        await a.close()


async def _state(reg: NodeRegistry, state: str) -> bool:
    info = await reg.node(reg.node_id)
    return info is not None and info.state == state


async def test_cpu_is_measured_from_process_time(ns):
    a = registry(ns, "node-a")
    await a.start()
    try:
        await wait_for(lambda: _cpu_at_most(a, 0.5), timeout=10)   # an idle loop
        # keep a core busy (yielding to the loop) until two heartbeats were written meanwhile,
        # reading what they carry; on shared cores this process gets what the others leave it,
        # so the figure is compared with the share it measurably got
        seen: dict[float, float] = {}
        cpu0, wall0, wall_start, next_read = time.process_time(), time.monotonic(), time.time(), 0.0
        while len(seen) < 2 and time.monotonic() - wall0 < 20:
            sum(range(10_000))
            if time.monotonic() >= next_read:
                info = await a.node(a.node_id)
                if info.heartbeat_at > wall_start + INTERVAL / 2:   # covers mostly busy time
                    seen[info.heartbeat_at] = info.cpu
                next_read = time.monotonic() + INTERVAL / 4
            await asyncio.sleep(0)
        share = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        assert len(seen) == 2 and max(seen.values()) >= share / 2 > 0, (share, seen)
    finally:
        await a.close()


async def _cpu_at_most(reg: NodeRegistry, cpu: float) -> bool:
    info = await reg.node(reg.node_id)
    return info is not None and info.heartbeat_at > reg.started_at and info.cpu <= cpu


async def test_heartbeat_survives_redis_outage_and_a_failing_load(ns, redis_url):
    proxy = await TcpProxy.to_redis(redis_url)
    calls = {"n": 0}

    def load() -> dict:
        calls["n"] += 1
        if calls["n"] % 2:
            raise RuntimeError("load probe broke")
        return {"participants": 1, "streams": 0, "meetings": []}

    a = NodeRegistry(ns.client(proxy.url()), ns.prefix, "node-a", "http://a", load, interval=INTERVAL, ttl=TTL)
    watcher = registry(ns, "watcher")
    try:
        await a.start()
        await wait_for(lambda: _listed(watcher, ["node-a"]), timeout=5)
        await proxy.cut()
        await wait_for(lambda: _listed(watcher, []), timeout=10)   # expired while unreachable
        before = calls["n"]
        await wait_for(lambda: calls["n"] >= before + 3, timeout=10)  # still beating (and failing)
        assert not a._task.done()
        await proxy.restore()
        await wait_for(lambda: _listed(watcher, ["node-a"]), timeout=10)
        assert not a._task.done()
    finally:
        await a.close()
        await proxy.cut()
