"""Signaling from any node and REST from any node, on two in-process cluster nodes sharing a
real Redis (tests/helpers/cluster_nodes.py): a websocket on the node that does not own the meeting
is relayed to the owner, in order; REST on that node reaches the owner's hub; an owner that cannot
be reached answers 503 ``unavailable``."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from signaling.client import SignalingClient, SignalingErrorReply
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
        role = f"/api/v1/meetings/{rid}/participants/{gid}/role"
        resp = await n2.client.put(role, json={"action": "upgrade"}, headers=AUTH)
        assert resp.status == 200, await resp.text()
        assert (await guest.wait_for("permissions"))["role"] == "host"
        resp = await n2.client.put(role, json={"action": "upgrade"}, headers=AUTH)
        assert resp.status == 409 and (await resp.json())["code"] == "participant_role_conflict"
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

        async def knock_to_host(node: Node, n: int = 40) -> list[float]:
            """A guest's join on ``node`` until the host (on n1) sees its knock."""
            out = []
            for i in range(n):
                c = await _client(node, opened)
                name = f"K{node.node_id}{i}"
                t = time.perf_counter()
                await c.send("join", roomName=rid, displayName=name)
                await host.wait_for("knocks", lambda m: (m.get("change") or {}).get("displayName") == name)
                out.append((time.perf_counter() - t) * 1000)
                await c.close()
                opened.remove(c)
            return out

        knock_direct, knock_relayed = await knock_to_host(n1), await knock_to_host(n2)
        print(f"\nping round trip direct: {fig(direct)}; relayed: {fig(relayed)}; "
              f"added median {statistics.median(relayed) - statistics.median(direct):.2f} ms")
        print(f"knock -> host direct: {fig(knock_direct)}; guest on the other node: {fig(knock_relayed)}")
        assert statistics.median(relayed) < 50


async def test_a_new_meeting_is_placed_on_the_ready_node_and_relayed(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        n1.cluster.registry.set_state("draining")     # n1 takes no new meeting
        await until_async(lambda: _state_of(n2, "n1", "draining"), "n2 sees n1 draining")
        room = await _room(n1)
        rid = room["roomId"]
        host = await _client(n1, opened)
        joined = await host.join(rid, "Hana", host_key(room))
        assert joined["type"] == "joined"
        # placed on n2, which claimed the meeting when the relayed join reached it
        assert n2.cluster.ownership.held(rid) is not None and n1.cluster.ownership.held(rid) is None
        assert n2.hub.room(rid) is not None and n1.hub.room(rid) is None
        assert (await host.request("ping"))["type"] == "pong"


async def test_joins_racing_on_two_nodes_meet_in_one_meeting(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        room = await _room(n1)
        rid = room["roomId"]
        a, b = await _client(n1, opened), await _client(n2, opened)
        ja, jb = await asyncio.gather(a.join(rid, "Ann", host_key(room)), b.join(rid, "Bob", host_key(room)))
        assert ja["type"] == jb["type"] == "joined"
        owners = [n.node_id for n in (n1, n2) if n.cluster.ownership.held(rid) is not None]
        assert len(owners) == 1
        first, second = (a, jb) if ja["participants"] and len(ja["participants"]) == 1 else (b, ja)
        seen = await first.wait_for("participant_joined")
        assert seen["participant"]["participantId"] == second["participantId"]


async def test_owner_gone_tells_relayed_clients_to_reconnect(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        rid, host, guest, _ = await _admitted_across(n1, n2, opened)
        # n1 is deaf but keeps its lease: n2's re-join for the guest cannot succeed, so after its
        # window (shortened here) the guest is told to reconnect (tests/integration/test_cluster_owner_loss.py)
        n2.cluster.gateway.rejoins.seconds = 1.0
        await n1.cluster.bus.close()        # n1's inbox has no subscriber any more
        await guest.send("chat", text="anyone?")
        msg = await guest.wait_for("reconnect", timeout=10)
        assert msg["reason"] == "owner_lost"
        await guest.wait_closed(10)
        assert n2.cluster.gateway.stats()["relayed_out"] == 0


async def test_split_brain_guard_hands_the_meeting_over(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        rid, host, guest, _ = await _admitted_across(n1, n2, opened)
        await host.wait_for("participant_joined")
        lease = n1.cluster.ownership.held(rid)
        lease.mark_lost()            # as if n1 had been paused past the lease's ttl
        await host.send("chat", text="stale owner speaking")
        for c in (host, guest):
            msg = await c.wait_for("reconnect", timeout=10)
            assert msg["reason"] == "moved"
            await c.wait_closed(10)
        assert not [m for c in (host, guest) for m in c.history if m.get("type") == "chat"]
        assert n1.hub.room(rid) is None


async def _state_of(node: Node, node_id: str, state: str) -> bool:
    info = await node.cluster.registry.node(node_id)
    return info is not None and info.state == state


async def until_async(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_a_relayed_socket_joins_again_after_a_refusal_even_another_room(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        room_a, room_b = await _room(n1), await _room(n1)
        assert await n1.cluster.ownership.claim(room_a["roomId"]) is not None
        assert await n2.cluster.ownership.claim(room_b["roomId"]) is not None
        c = await _client(n2, opened)
        with pytest.raises(SignalingErrorReply) as err:
            await c.join(room_a["roomId"], "Gus", "not-a-key")       # relayed to n1, refused there
        assert err.value.code == "invalid_key"
        assert n2.cluster.gateway.stats()["relayed_out"] == 1
        # a join for the room n2 owns: n1 does not own it, so the socket is routed afresh (local on n2)
        joined = await c.join(room_b["roomId"], "Gus", host_key(room_b))
        assert joined["type"] == "joined"
        assert n2.hub.room(room_b["roomId"]) is not None
        assert n2.cluster.gateway.stats()["relayed_out"] == 0
        await until(lambda: n1.cluster.gateway.stats()["relayed_in"] == 0, 5, "n1 forgot the session")


async def test_owner_losing_the_lease_moves_idle_relayed_sessions(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        rid, host, guest, joined = await _admitted_across(n1, n2, opened)
        await n1.cluster.ownership.release(rid)     # n1 no longer owns the meeting; nothing is sent
        # n2 sees the lease gone and re-joins for the guest (server/live/rejoin.py) wherever the
        # meeting is claimed now (from n1's mirror or its live room): same socket, same participant
        await guest.wait_for("media_reset", timeout=10)
        assert guest.participant_id == joined["participantId"] and not guest.closed.is_set()
        assert (await guest.request("ping"))["type"] == "pong"


async def test_edge_gone_puts_its_participants_under_the_grace(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        rid, host, guest, joined = await _admitted_across(n1, n2, opened)
        await host.wait_for("participant_joined")
        await n2.cluster.bus.close()            # n2's inbox has no subscriber any more
        await host.send("chat", text="still there?")   # the owner's frame to n2 reaches nobody
        updated = await host.wait_for(
            "participant_updated", lambda m: m["participant"]["participantId"] == joined["participantId"]
            and m["participant"].get("connection") == "reconnecting", timeout=10)
        assert updated
        assert n1.cluster.gateway.stats()["relayed_in"] == 0


async def test_a_placed_node_that_does_not_answer_is_skipped(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        n1.cluster.registry.set_state("draining")     # placement would choose n2...
        await until_async(lambda: _state_of(n2, "n1", "draining"), "n2 sees n1 draining")
        await n2.cluster.bus.close()                   # ...which is still registered but deaf
        room = await _room(n1)
        host = await _client(n1, opened)
        assert (await host.join(room["roomId"], "Hana", host_key(room)))["type"] == "joined"
        assert n1.cluster.ownership.held(room["roomId"]) is not None
