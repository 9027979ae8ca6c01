"""The owner of a meeting dies (``kill -9`` as far as the cluster sees it: tests/helpers/cluster_nodes.py
``crash``) while a participant's websocket sits on another node: that node keeps the socket open
and re-joins the meeting for it (server/live/rejoin.py) on the node that claims the meeting from its
mirror; the client gets ``media_reset`` and stays the same participant, a knocker keeps its knock,
and media flows again on the new SFU. Real Redis, in-process nodes, real websockets and aiortc.
Each move is timed (printed)."""

from __future__ import annotations

import asyncio
import time

import pytest

from signaling.client import SignalingClient
from tests.helpers.cluster_nodes import AUTH, Node, cluster_nodes, crash
from tests.helpers.media_peers import (COLOURS, PeerClient, SolidColourTrack, answer_over_signaling, colour_close,
                                       publish_over_signaling)
from tests.helpers.signaling import host_key, until

pytestmark = pytest.mark.timeout(120)

MOVE_TIMEOUT = 20.0     # the edge tries for ~15 s; generous on 2 shared cores


async def _room(node: Node, **body) -> dict:
    resp = await node.client.post("/api/v1/rooms", json=body, headers=AUTH)
    assert resp.status == 201, await resp.text()
    return await resp.json()


@pytest.fixture
async def opened():
    made: list[SignalingClient] = []
    yield made
    for c in made:
        try:
            await c.close()
        except Exception:
            pass


async def _client(node: Node, opened: list, **options) -> SignalingClient:
    c = SignalingClient(node.ws_url(), **options)
    await c.connect()
    opened.append(c)
    return c


async def _owned_by(owner: Node, opened: list, **room) -> tuple[str, dict, SignalingClient, dict]:
    """A room whose meeting ``owner`` owns, with its host there."""
    info = await _room(owner, **room)
    rid = info["roomId"]
    assert await owner.cluster.ownership.claim(rid) is not None
    host = await _client(owner, opened)
    joined = await host.join(rid, "Hana", host_key(info))
    assert joined["type"] == "joined"
    return rid, info, host, joined


async def _mirrored(node: Node, rid: str, what) -> None:
    """Wait until the owner's mirror of ``rid`` shows ``what(snapshot)``."""
    async def ok() -> bool:
        snap = await node.mirror.load(rid)
        return snap is not None and what(snap)
    deadline = time.monotonic() + 10
    while not await ok():
        assert time.monotonic() < deadline, "mirror not written"
        await asyncio.sleep(0.02)


async def test_guest_on_the_edge_moves_to_the_node_that_takes_the_meeting_over(redis_url, tmp_path, opened):
    """n1 owns the meeting, the guest's socket is on n2 (draining: no new meetings) and n3 takes
    the meeting over: n2 re-joins for the guest through the relay to n3."""
    async with cluster_nodes(redis_url, tmp_path, count=3) as (n1, n2, n3):
        rid, _, host, host_joined = await _owned_by(n1, opened)
        guest = await _client(n2, opened)
        joined = await guest.join(rid, "Gus")
        pid = joined["participantId"]
        await host.wait_for("participant_joined")
        await _mirrored(n1, rid, lambda s: len(s["participants"]) == 2)
        n2.cluster.registry.set_state("draining")      # so the meeting goes to n3
        deadline = time.monotonic() + 10
        while (await n2.cluster.registry.node("n2")).state != "draining":
            assert time.monotonic() < deadline, "n2 not draining"
            await asyncio.sleep(0.02)

        guest.drain()
        started = time.monotonic()
        await crash(n1)
        await host.abort()
        await guest.send("chat", text="anyone?")      # reaches nobody: n2 learns n1 is gone
        reset = await guest.wait_for("media_reset", timeout=MOVE_TIMEOUT)
        moved = time.monotonic() - started
        print(f"\nguest moved (relayed to n3) {moved:.2f} s after the owner died")
        assert not guest.closed.is_set()
        assert guest.participant_id == pid
        assert pid in {p["participantId"] for p in reset["participants"]}
        assert "resumeToken" not in reset and "id" not in reset
        assert n3.cluster.ownership.held(rid) is not None and n3.hub.room(rid) is not None
        assert n2.hub.room(rid) is None and n2.cluster.gateway.stats()["relayed_out"] == 1
        assert not guest.drain("joined") and not guest.drain("reconnect")

        # the host comes back through n3 with its token: same meeting, and both talk again
        back = await _client(n3, opened)
        resumed = await back.join(rid, "Hana", host_key(await _room_info(n3, rid)),
                                  resume_token=host_joined["resumeToken"])
        assert resumed.get("resumed") and resumed["participantId"] == host_joined["participantId"]
        assert resumed["meeting"]["roomSessionId"] == host_joined["meeting"]["roomSessionId"]
        assert (await guest.request("ping"))["type"] == "pong"
        await guest.send("chat", text="here again")
        assert (await back.wait_for("chat", lambda m: m["text"] == "here again", timeout=10))


async def _room_info(node: Node, rid: str) -> dict:
    resp = await node.client.get(f"/api/v1/rooms/{rid}", headers=AUTH)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_the_edge_takes_the_meeting_over_itself_when_it_is_the_only_node_left(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        rid, _, host, _ = await _owned_by(n1, opened)
        guest = await _client(n2, opened, use_msgpack=True)
        pid = (await guest.join(rid, "Gus"))["participantId"]
        await _mirrored(n1, rid, lambda s: len(s["participants"]) == 2)

        started = time.monotonic()
        await crash(n1)
        await host.abort()
        # nothing sent: n2 finds out by itself (registry key or lease gone)
        reset = await guest.wait_for("media_reset", timeout=MOVE_TIMEOUT)
        moved = time.monotonic() - started
        print(f"\nguest moved (to the edge itself, idle socket) {moved:.2f} s after the owner died")
        assert guest.participant_id == pid and not guest.closed.is_set()
        assert n2.cluster.ownership.held(rid) is not None
        room = n2.hub.room(rid)
        assert room is not None and room.find(pid) is not None and room.find(pid).connection is not None
        assert n2.cluster.gateway.stats()["relayed_out"] == 0       # local on n2 now
        assert (await guest.request("ping"))["type"] == "pong"
        # the host never came back: it leaves when its grace (5 s here) runs out
        left = await guest.wait_for("participant_left", timeout=15)
        assert left["participantId"] != pid
        assert reset["participants"]


async def test_a_knocker_on_the_edge_keeps_its_knock_place_and_hold_message(redis_url, tmp_path, opened):
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        rid, info, host, host_joined = await _owned_by(n1, opened, isLocked=True)
        first, second = await _client(n2, opened), await _client(n2, opened)
        s1 = await first.join(rid, "Kim")
        s2 = await second.join(rid, "Lou")
        assert s1["type"] == s2["type"] == "knock_status"
        await host.request("hold", knockId=s2["knockId"], message="one moment please")
        held = await second.wait_for("knock_status", lambda m: m.get("message") == "one moment please")
        await _mirrored(n1, rid, lambda s: any(k.get("message") for k in s.get("knocks", [])))

        first.drain(), second.drain()
        started = time.monotonic()
        await crash(n1)
        await host.abort()
        await first.send("ping")
        await second.send("ping")
        await until(lambda: n2.cluster.ownership.held(rid) is not None, MOVE_TIMEOUT, "n2 took the meeting over")
        await until(lambda: not n2.cluster.gateway.rejoins.moves, MOVE_TIMEOUT, "both knockers moved")
        print(f"\nknockers moved {time.monotonic() - started:.2f} s after the owner died; per move: "
              + ", ".join(f"{m.seconds:.2f} s" for m in n2.cluster.gateway.rejoins.done))
        for c, status in ((first, s1), (second, held)):
            again = await c.wait_for("knock_status", lambda m: m.get("knockId") == status["knockId"],
                                     timeout=MOVE_TIMEOUT)
            assert again["state"] == status["state"] and again.get("message") == status.get("message")
            assert "id" not in again
            assert not c.drain("media_reset") and not c.drain("joined") and not c.closed.is_set()

        # the host resumes on n2: the queue is in the same order with the hold message
        back = await _client(n2, opened)
        resumed = await back.join(rid, "Hana", host_key(info), resume_token=host_joined["resumeToken"])
        assert resumed.get("resumed")
        queue = [k for k in resumed["knocks"] if k["state"] in ("waiting", "held")]
        assert [k["knockId"] for k in queue] == [s1["knockId"], s2["knockId"]]
        assert queue[1].get("message") == "one moment please"
        # nobody got in by the move; the host admits the held one, over the socket that never closed
        assert len(resumed["participants"]) == 1
        await back.request("admit", knockId=s2["knockId"])
        assert (await second.wait_for("joined", timeout=10))["type"] == "joined"


async def test_video_is_decoded_again_after_media_reset_on_the_new_sfu(redis_url, tmp_path, opened):
    """Two guests relayed through n2 (owner n1): after n1 dies, both get media_reset, publish again
    on new peer connections with n2's SFU, and each decodes the other's video again."""
    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        info = await _room(n1)
        rid = info["roomId"]
        assert await n1.cluster.ownership.claim(rid) is not None
        sigs = [await _client(n2, opened), await _client(n2, opened)]
        for c, name in zip(sigs, ("Ann", "Bob")):
            assert (await c.join(rid, name))["type"] == "joined"
        ids = [c.participant_id for c in sigs]
        colours = (COLOURS["green"], COLOURS["blue"])

        async def media(tag: str) -> list[PeerClient]:
            peers = [PeerClient(f"ann {tag}"), PeerClient(f"bob {tag}")]
            for c, p in zip(sigs, peers):
                answer_over_signaling(c, p)
            for c, p, rgb in zip(sigs, peers, colours):
                await publish_over_signaling(c, p, {"camera": SolidColourTrack(rgb)})
            for p, other, rgb in ((peers[0], ids[1], colours[1]), (peers[1], ids[0], colours[0])):
                await p.wait_for(lambda p=p, o=other, c=rgb: (r := p.video_from(o)) is not None and r.frames >= 3
                                 and colour_close(r.mean_rgb, c), timeout=30, what=f"video {tag}")
            return peers

        peers = await media("on n1")
        await _mirrored(n1, rid, lambda s: len(s["participants"]) == 2)
        try:
            started = time.monotonic()
            await crash(n1)
            for c in sigs:
                await c.send("chat", text="hello?")
            for c in sigs:
                await c.wait_for("media_reset", timeout=MOVE_TIMEOUT)
            reset_at = time.monotonic()
            for p in peers:                 # the old SFU's peer connections are gone for good
                await p.close()
            peers = await media("on n2")
            print(f"\nmedia_reset {reset_at - started:.2f} s after the owner died; video decoded again "
                  f"{time.monotonic() - started:.2f} s after")
            assert [c.participant_id for c in sigs] == ids
            assert not any(c.closed.is_set() for c in sigs)
        finally:
            for p in peers:
                await p.close()
