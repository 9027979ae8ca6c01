"""Signaling from any node and REST from any node, on two in-process cluster nodes sharing a
real Redis (tests/helpers/cluster_nodes.py): a websocket on the node that does not own the meeting
is relayed to the owner, in order; REST on that node reaches the owner's hub; an owner that cannot
be reached answers 503 ``unavailable``."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from signaling.client import SignalingClient
from tests.helpers.cluster_nodes import AUTH, Node, cluster_nodes
from tests.helpers.signaling import host_key, until

pytestmark = pytest.mark.timeout(90)


async def _room(node: Node, **body) -> dict:
    resp = await node.client.post("/api/v1/rooms", json=body, headers=AUTH)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def _client(node: Node, opened: list[SignalingClient], use_msgpack: bool = False) -> SignalingClient:
    c = SignalingClient(node.ws_url(), use_msgpack=use_msgpack)
    await c.connect()
    opened.append(c)
    return c


async def _admitted_across(n1: Node, n2: Node, opened: list, guest_msgpack: bool = False):
    """A locked room; host on n1 (which owns it), guest knocks through n2 and is admitted."""
    room = await _room(n1, isLocked=True)
    rid = room["roomId"]
    assert await n1.cluster.ownership.claim(rid) is not None    # placement would weigh the CPU noise
    host = await _client(n1, opened)
    assert (await host.join(rid, "Hana", host_key(room)))["type"] == "joined"
    assert n1.cluster.ownership.held(rid) is not None
    guest = await _client(n2, opened, use_msgpack=guest_msgpack)
    status = await guest.join(rid, "Gus")
    assert status["type"] == "knock_status" and status["state"] == "waiting", status
    mine = lambda m: [k for k in m["knocks"] if k["displayName"] == "Gus" and k["state"] == "waiting"]  # noqa: E731
    knocks = await host.wait_for("knocks", mine)
    await host.request("admit", knockId=mine(knocks)[0]["knockId"])
    joined = await guest.wait_for("joined")
    return rid, host, guest, joined


@pytest.fixture
async def opened():
    made: list[SignalingClient] = []
    yield made
    for c in made:
        try:
            await c.close()
        except Exception:
            pass


@pytest.mark.parametrize("guest_msgpack", [False, True], ids=["json", "msgpack"])
async def test_knock_admit_and_chat_across_nodes(redis_url, tmp_path, opened, guest_msgpack):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        rid, host, guest, joined = await _admitted_across(n1, n2, opened, guest_msgpack)
        assert joined["participantId"] in {p["participantId"] for p in joined["participants"]}
        # the guest lives on the owner (n1) with a relay connection; n2 only relays
        assert n2.hub.room(rid) is None and n1.hub.room(rid) is not None
        assert n2.cluster.gateway.stats()["relayed_out"] == 1 and n1.cluster.gateway.stats()["relayed_in"] == 1
        # the guest's frames were encoded by the owner with the guest socket's codec
        assert isinstance(guest.raw_frames[-1], bytes if guest_msgpack else str)
        await host.wait_for("participant_joined")
        # chat both ways, 100 messages each, in order
        for i in range(100):
            await guest.send("chat", text=f"g{i}")
            await host.send("chat", text=f"h{i}")
        for who, other, tag in ((host, guest, "g"), (guest, host, "h")):
            seen: list[str] = []
            while len(seen) < 100:
                m = await who.wait_for("chat", lambda m: m.get("text", "").startswith(tag), timeout=10)
                seen.append(m["text"])
            assert seen == [f"{tag}{i}" for i in range(100)]


async def test_rest_on_the_other_node_reaches_the_owner(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        room = await _room(n1)
        rid = room["roomId"]
        assert await n1.cluster.ownership.claim(rid) is not None
        host = await _client(n1, opened)
        assert (await host.join(rid, "Hana", host_key(room)))["type"] == "joined"
        guest = await _client(n1, opened)
        gid = (await guest.join(rid, "Gus"))["participantId"]
        # n2 sees the meeting (registry view) and acts on it through the owner
        await until(lambda: n2.cluster.live.has_meeting(rid), 10, "n2 sees the meeting")
        assert await n2.cluster.live.participant_count(rid) == 2
        assert await n2.cluster.live.participant_name(rid, gid) == "Gus"
        resp = await n2.client.delete(f"/api/v1/meetings/{rid}/participants/{gid}", headers=AUTH)
        assert resp.status == 200, await resp.text()
        ended = await guest.wait_for("ended")
        assert ended["reason"] == "kicked"
        resp = await n2.client.delete(f"/api/v1/meetings/{rid}/participants/{gid}", headers=AUTH)
        assert resp.status == 404, await resp.text()
        # a lock through n2 reaches the live room on n1
        resp = await n2.client.put(f"/api/v1/rooms/{rid}/lock", json={"isLocked": True}, headers=AUTH)
        assert resp.status == 200, await resp.text()
        assert (await host.wait_for("room_updated", lambda m: m.get("room", {}).get("isLocked")))
        # the owner's bus goes away: n2 answers 503 with a JSON error body, at once
        await n1.cluster.bus.close()
        started = time.monotonic()
        resp = await n2.client.delete(f"/api/v1/meetings/{rid}/participants/p_nobody", headers=AUTH)
        assert resp.status == 503
        body = await resp.json()
        assert body["code"] == "unavailable" and body["message"]
        assert time.monotonic() - started < 2


async def test_socket_gone_on_the_edge_keeps_the_place_for_the_grace(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        rid, host, guest, joined = await _admitted_across(n1, n2, opened)
        await host.wait_for("participant_joined")
        await guest.abort()
        # the owner saw the relayed socket go: the guest is away (reconnecting), not gone
        await host.wait_for("participant_updated", lambda m: m.get("participant", {}).get("connection") == "reconnecting")
        back = await _client(n2, opened)
        resumed = await back.join(rid, "Gus", resume_token=joined["resumeToken"])
        assert resumed["type"] == "joined" and resumed.get("resumed") and resumed["participantId"] == joined["participantId"]
        assert not host.drain("participant_left")


async def test_relayed_latency(redis_url, tmp_path, opened):
    """Round trips of a ping: direct on the owner vs relayed through the other node."""
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        rid, host, guest, _ = await _admitted_across(n1, n2, opened)

        async def rtts(c: SignalingClient, n: int = 200) -> list[float]:
            out = []
            for _ in range(n):
                t = time.perf_counter()
                await c.request("ping")
                out.append((time.perf_counter() - t) * 1000)
            return out

        await rtts(host, 20)
        await rtts(guest, 20)
        direct, relayed = await rtts(host), await rtts(guest)

        def fig(xs: list[float]) -> str:
            xs = sorted(xs)
            return f"median {statistics.median(xs):.2f} ms p99 {xs[int(len(xs) * 0.99) - 1]:.2f} ms"

        print(f"\nping round trip direct: {fig(direct)}; relayed: {fig(relayed)}; "
              f"added median {statistics.median(relayed) - statistics.median(direct):.2f} ms")
        assert statistics.median(relayed) < 50
