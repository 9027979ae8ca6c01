"""A meeting that moves between nodes, over real websockets: two apps in this process sharing one
store (the real Redis), the meeting's snapshot taken on the first and restored on the second
(signaling/live/snapshot.py; the nodes form a cluster on that Redis, a drain hands the meeting
over), ``hand_over`` telling clients ``reconnect``, and signaling/client.py reconnecting and
resuming by itself (docs/protocol.md "Moving between nodes")."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import msgpack
import pytest

from server.app import CLUSTER, SFU
from server.http.appkeys import RECORDINGS
from signaling.client import Reconnect, SignalingClient
from tests.helpers.media_peers import (
    COLOURS,
    PeerClient,
    SolidColourTrack,
    answer_over_signaling,
    colour_close,
    publish_over_signaling,
)
from tests.helpers.redis_server import drop_prefix
from tests.helpers.signaling import clients, host_key, hub, make_room, serve, until, ws_url

pytestmark = pytest.mark.timeout(90)

FAST = Reconnect(initial=0.05, max_delay=0.5, give_up_after=20)


@pytest.fixture
async def shared(settings_factory, redis_url):
    """Settings for nodes sharing one store on the real Redis (a prefix of this test's own)."""
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    sep = "&" if "?" in redis_url else "?"
    yield settings_factory(redis_url=f"{redis_url}{sep}prefix={prefix}", reconnect_grace_seconds=20)
    await drop_prefix(redis_url, prefix)


@contextlib.asynccontextmanager
async def two_nodes(settings):
    """Two cluster nodes; node two is draining until a move, so the meeting starts on node one
    (placement otherwise picks by load, and two nodes in one process measure the same CPU)."""
    async with serve(settings) as one, serve(settings) as two:
        two.server.app[CLUSTER].registry.set_state("draining")
        yield one, two


def wire(snap: dict) -> dict:
    """What the mirror stores and reads back."""
    return msgpack.unpackb(msgpack.packb(snap, use_bin_type=True), raw=False)


async def move(one, two, rid: str, reason: str = "draining") -> None:
    """Node one drains as on SIGTERM (server/live/cluster.py ``NodeCluster.drain``): its meetings'
    mirrors are flushed, everyone is told ``reconnect``, the leases are given back; the next join
    (through either node: one, draining, places it on two) claims the meeting on node two, which
    restores it from the mirror."""
    app = one.server.app
    assert reason == "draining" and hub(one).room(rid) is not None
    two.server.app[CLUSTER].registry.set_state("ready")
    await app[CLUSTER].drain(app[RECORDINGS].shutdown)


async def meeting_of_four(open_client, rid: str, room: dict):
    """Hana (host), Gus (admitted), Ann waiting, Ben held with a message, in a locked room."""
    host = await open_client()
    assert (await host.join(rid, "Hana", host_key(room)))["type"] == "joined"
    gus = await open_client()
    status = await gus.join(rid, "Gus")
    await host.request("admit", knockId=status["knockId"])
    await gus.wait_for("joined")
    ann, ben = await open_client(), await open_client()
    ann_knock = (await ann.join(rid, "Ann"))["knockId"]
    ben_knock = (await ben.join(rid, "Ben"))["knockId"]
    await host.request("hold", knockId=ben_knock, message="One minute, please")
    await ben.wait_for("knock_status", lambda m: m["state"] == "held")
    return host, gus, ann, ben, [ann_knock, ben_knock]


def check_queue(knocks: list[dict], knock_ids: list[str]) -> None:
    assert [k["knockId"] for k in knocks] == knock_ids
    assert [k["state"] for k in knocks] == ["waiting", "held"]
    assert knocks[1]["message"] == "One minute, please"


async def test_a_meeting_restored_on_a_fresh_node_resumes_everyone_in_place(shared, auth):
    async with two_nodes(shared) as (one, two):
        room = await make_room(one, auth, isLocked=True)
        rid = room["roomId"]
        async with clients(one) as cs:
            host, gus, ann, ben, knock_ids = await meeting_of_four(cs.open, rid, room)
            before = {c: (c.participant_id, c.resume_token) for c in (host, gus, ann, ben)}
            session = hub(one).room(rid).meeting.room_session_id
            snap = wire(hub(one).snapshot(rid))
            for c in (host, gus, ann, ben):     # node one is gone for them (kill -9: no leave)
                await c.abort()
            hub(two).restore_room(await hub(two).directory.resolve(rid), snap)

            async with clients(two) as cs2:
                h2 = await cs2.open()
                joined = await h2.join(rid, "Hana", resume_token=before[host][1])
                assert joined["type"] == "joined" and joined["resumed"] is True
                assert joined["participantId"] == before[host][0] and joined["role"] == "host"
                assert joined["meeting"]["roomSessionId"] == session and joined["room"]["isLocked"] is True
                check_queue(joined["knocks"], knock_ids)

                g2 = await cs2.open()
                joined = await g2.join(rid, "Gus", resume_token=before[gus][1])
                assert joined["resumed"] is True and joined["participantId"] == before[gus][0]
                assert joined["role"] == "guest"
                assert not [m for m in g2.history if m["type"] == "knock_status"]

                b2 = await cs2.open()
                status = await b2.join(rid, "Ben", resume_token=before[ben][1])
                assert status["type"] == "knock_status" and status["resumed"] is True
                assert status["knockId"] == knock_ids[1] and status["state"] == "held"
                assert status["message"] == "One minute, please"
                a2 = await cs2.open()
                status = await a2.join(rid, "Ann", resume_token=before[ann][1])
                assert status["knockId"] == knock_ids[0] and status["state"] == "waiting"

                # a stranger knocks behind them; only the two admitted before are in
                eve = await cs2.open()
                assert (await eve.join(rid, "Eve"))["state"] == "waiting"
                queue = await h2.wait_for("knocks", lambda m: len(m["knocks"]) == 3)
                assert [k["knockId"] for k in queue["knocks"]][:2] == knock_ids
                assert set(hub(two).room(rid).participants) == {before[host][0], before[gus][0]}
                # the queue works on the new node: admitting Ann lets her in
                await h2.request("admit", knockId=knock_ids[0])
                assert (await a2.wait_for("joined"))["participantId"] == snap["knocks"][0]["owner"]["participantId"]


async def test_hand_over_sends_reconnect_and_the_client_resumes_on_the_next_node(shared, auth):
    async with two_nodes(shared) as (one, two):
        room = await make_room(one, auth, isLocked=True)
        rid = room["roomId"]
        resumed: dict[str, list[dict]] = {}
        made: list[SignalingClient] = []

        async def open_client() -> SignalingClient:
            name = f"c{len(made)}"
            c = SignalingClient([ws_url(one), ws_url(two)], reconnect=FAST,
                                on_resumed=lambda reply, n=name: resumed.setdefault(n, []).append(reply))
            made.append(c)
            await c.connect()
            return c

        try:
            host, gus, ann, ben, knock_ids = await meeting_of_four(open_client, rid, room)
            ids = {c: c.participant_id for c in (host, gus)}
            session = hub(one).room(rid).meeting.room_session_id
            left_before = len([m for m in host.history if m["type"] == "participant_left"])
            started = asyncio.get_running_loop().time()
            await move(one, two, rid)
            for c in made:
                assert (await c.wait_for("reconnect"))["reason"] == "draining"
            await until(lambda: all(c.reconnects == 1 for c in made), timeout=15, what="all resumed")
            took = asyncio.get_running_loop().time() - started
            print(f"hand-over: 4 clients resumed on node two in {took * 1000:.0f} ms")
            assert took < 5
            assert hub(one).room(rid) is None and hub(two).room(rid) is not None   # the meeting is on two
            replies = [resumed[f"c{i}"][0] for i in range(4)]
            assert [r["type"] for r in replies] == ["joined", "joined", "knock_status", "knock_status"]
            assert replies[0]["participantId"] == ids[host] and replies[0]["resumed"] is True
            assert replies[0]["meeting"]["roomSessionId"] == session
            assert replies[1]["participantId"] == ids[gus] and replies[1]["resumed"] is True
            assert [r["knockId"] for r in replies[2:]] == knock_ids
            assert replies[3]["state"] == "held" and replies[3]["message"] == "One minute, please"
            assert hub(one).room(rid) is None
            assert len([m for m in host.history if m["type"] == "participant_left"]) == left_before
            # the meeting goes on, on node two
            await host.request("admit", knockId=knock_ids[0])
            assert (await ann.wait_for("joined"))["meeting"]["roomSessionId"] == session
            await gus.request("chat", text="still here")
            await host.wait_for("chat", lambda m: m["text"] == "still here")
            assert not host.closed.is_set()
        finally:
            for c in made:
                await c.close()


async def test_video_flows_again_on_the_new_nodes_sfu(shared, auth):
    async with two_nodes(shared) as (one, two):
        room = await make_room(one, auth)
        rid = room["roomId"]
        peers: dict[str, PeerClient] = {}
        made: list[SignalingClient] = []
        try:
            sigs = {}
            for name, key in (("host", host_key(room)), ("gus", None)):
                c = SignalingClient([ws_url(one), ws_url(two)], reconnect=FAST)
                made.append(c)
                await c.connect()
                assert (await c.join(rid, name, key))["type"] == "joined"
                sigs[name] = c
            host, gus = sigs["host"], sigs["gus"]
            pid = gus.participant_id
            ids = {host.participant_id, pid}
            peers["host"], peers["gus"] = PeerClient("host"), PeerClient("gus")
            answer_over_signaling(host, peers["host"])
            answer_over_signaling(gus, peers["gus"])
            await publish_over_signaling(gus, peers["gus"], {"camera": SolidColourTrack(COLOURS["green"])})
            hp = peers["host"]
            await hp.wait_for(lambda: hp.frames_from(pid, "video") >= 3, timeout=30, what="video on node one")

            await move(one, two, rid)
            for c in made:
                await c.wait_for("reconnect")
            for p in list(peers.values()):      # the old SFU's peer connections are gone for good
                await p.close()
            await until(lambda: all(c.reconnects == 1 for c in made), timeout=15, what="resumed on node two")
            # resumed in place, not re-joined as newcomers (a join racing the claim used to open an
            # empty meeting with fresh ids: the video then never came "from pid")
            assert gus.participant_id == pid and set(hub(two).room(rid).participants) == ids
            peers["host"], peers["gus"] = PeerClient("host on two"), PeerClient("gus on two")
            answer_over_signaling(host, peers["host"])
            answer_over_signaling(gus, peers["gus"])
            await publish_over_signaling(gus, peers["gus"], {"camera": SolidColourTrack(COLOURS["blue"])})
            hp = peers["host"]
            await hp.wait_for(lambda: (r := hp.video_from(pid)) is not None and r.frames >= 3
                              and colour_close(r.mean_rgb, COLOURS["blue"]), timeout=30, what="video on node two")
            assert gus.participant_id == pid
            await hub(one).idle()
            assert one.server.app[SFU].get_room(rid) is None       # released by the hand-over
            assert two.server.app[SFU].get_room(rid).has_participant(pid)
        finally:
            for p in peers.values():
                await p.close()
            for c in made:
                await c.close()
