"""The SFU behind the real server: aiortc peers driven by Python signaling clients over /ws."""

from __future__ import annotations

import json
import time

import pytest

from signaling.client import SignalingErrorReply
from tests.helpers.media_peers import (
    COLOURS,
    PeerClient,
    SolidColourTrack,
    ToneTrack,
    answer_over_signaling,
    colour_close,
    publish_over_signaling,
)
from tests.helpers.signaling import clients, host_key, make_room, viewer_key

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


@pytest.fixture
async def peers():
    made: list[PeerClient] = []

    def make(name: str) -> PeerClient:
        p = PeerClient(name)
        made.append(p)
        return p

    yield make
    for p in made:
        await p.close()


async def test_two_participants_see_each_other_over_the_websocket(client, auth, peers):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        guest = await cs.joined(rid, "Gus")
        hp, gp = peers(host.participant_id), peers(guest.participant_id)
        for sig, peer in ((host, hp), (guest, gp)):
            answer_over_signaling(sig, peer)
        await publish_over_signaling(host, hp, {"microphone": ToneTrack(), "camera": SolidColourTrack(COLOURS["red"])})
        await publish_over_signaling(guest, gp, {"microphone": ToneTrack(amplitude=0.0),
                                                 "camera": SolidColourTrack(COLOURS["blue"])})
        for peer, other, colour in ((hp, guest, "blue"), (gp, host, "red")):
            await peer.wait_for(
                lambda p=peer, o=other, c=colour: (r := p.video_from(o.participant_id)) is not None
                and r.frames >= 5 and colour_close(r.mean_rgb, COLOURS[c]),
                timeout=30, what=f"{colour} video over signaling")
        # the subscribe offer labels tracks for layout
        info = next(iter(t for t in gp.current_tracks().values() if t.kind == "video"))
        assert (info.participant_id, info.source) == (host.participant_id, "camera")
        # the host's tone makes them the active speaker
        speaker = await guest.wait_for("active_speaker", timeout=10)
        assert speaker["participantId"] == host.participant_id

        # a host mute stops the guest's camera for the host
        await host.request("mute", participantId=guest.participant_id, kind="video")
        frozen = hp.frames_from(guest.participant_id, "video")
        audio = hp.frames_from(guest.participant_id, "audio")
        await hp.wait_for(lambda: hp.frames_from(guest.participant_id, "audio") >= audio + 50, timeout=10)
        assert hp.frames_from(guest.participant_id, "video") <= frozen + 2

        # leaving removes the guest's tracks from the host within a second
        left_at = time.monotonic()
        await guest.send("leave")
        await hp.wait_for(lambda: guest.participant_id not in hp.subscribed_publishers(), timeout=5,
                          what="guest's tracks gone")
        assert time.monotonic() - left_at < 1.5


async def test_viewers_only_subscribe_and_bad_media_requests_get_errors(client, auth, peers):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        viewer = await cs.joined(rid, "Vera", viewer_key(client, rid))
        hp, vp = peers(host.participant_id), peers(viewer.participant_id)
        answer_over_signaling(viewer, vp)
        answer_over_signaling(host, hp)
        sdp, sources = await vp.publish_offer({"camera": SolidColourTrack(COLOURS["green"])})
        with pytest.raises(SignalingErrorReply) as exc:
            await viewer.request("publish", sdp=sdp, sources=sources)
        assert exc.value.code == "forbidden"
        with pytest.raises(SignalingErrorReply) as exc:
            await host.request("publish", sdp="this is not SDP", sources={})
        assert exc.value.code == "bad_description"
        with pytest.raises(SignalingErrorReply) as exc:
            await host.request("ice", pc="sideways", candidate={})
        assert exc.value.code == "invalid_field"
        await publish_over_signaling(host, hp, {"camera": SolidColourTrack(COLOURS["yellow"])})
        await vp.wait_for(lambda: (r := vp.video_from(host.participant_id)) is not None and r.frames >= 3
                          and colour_close(r.mean_rgb, COLOURS["yellow"]), timeout=30, what="viewer sees host")


async def test_a_participant_whose_media_connection_drops_is_removed(client, auth, peers):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        guest = await cs.joined(rid, "Gus")
        hp, gp = peers(host.participant_id), peers(guest.participant_id)
        answer_over_signaling(host, hp)
        answer_over_signaling(guest, gp)
        await publish_over_signaling(guest, gp, {"camera": SolidColourTrack(COLOURS["green"])})
        await hp.wait_for(lambda: hp.frames_from(guest.participant_id, "video") >= 3, timeout=30, what="video")
        # the guest's media connection goes away while its websocket stays open
        await gp.publish_pc.close()
        ended = await guest.wait_for("ended", timeout=10)
        assert ended["reason"] == "disconnected"
        left = await host.wait_for("participant_left", lambda m: m["participantId"] == guest.participant_id,
                                   timeout=10)
        assert left["reason"] == "disconnected"
        await hp.wait_for(lambda: guest.participant_id not in hp.subscribed_publishers(), timeout=5,
                          what="guest's tracks gone")


async def test_configured_ice_servers_reach_the_client_in_joined(settings_factory, auth):
    from tests.helpers.signaling import serve

    # nothing is published here, so the (unreachable) servers are never contacted
    ice = ("stun:stun.invalid:3478", "turn:alice:s3cret@turn.invalid:3478?transport=udp")
    async with serve(settings_factory(ice_servers=ice)) as client:
        room = await make_room(client, auth)
        async with clients(client) as cs:
            c = await cs.open()
            joined = await c.join(room["roomId"], "Gus")
            # the TURN URL with a long-lived password is the SFU's only (browsers: --turn-secret)
            assert joined["iceServers"] == [{"urls": ["stun:stun.invalid:3478"]}]
            assert "s3cret" not in json.dumps(joined)
    async with serve(settings_factory()) as client:  # none configured: no key at all
        room = await make_room(client, auth)
        async with clients(client) as cs:
            c = await cs.open()
            assert "iceServers" not in await c.join(room["roomId"], "Gus")


async def test_resumed_participant_publishes_again_on_new_connections(client, auth, peers):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        hp = peers(host.participant_id)
        answer_over_signaling(host, hp)
        guest = await cs.open()
        joined = await guest.join(rid, "Gus")
        pid, token = joined["participantId"], joined["resumeToken"]
        first = peers(pid)
        answer_over_signaling(guest, first)
        await publish_over_signaling(guest, first, {"camera": SolidColourTrack(COLOURS["red"])})
        await hp.wait_for(lambda: (r := hp.video_from(pid)) is not None and r.frames >= 3, timeout=30, what="video")

        await guest.ws.close()  # the websocket drops (no leave): media goes, the place stays
        await hp.wait_for(lambda: pid not in hp.subscribed_publishers(), timeout=5, what="old media gone")
        await first.close()

        again = await cs.open()
        resumed = await again.request("join", roomName=rid, displayName="Gus", resumeToken=token)
        assert resumed["type"] == "joined" and resumed.get("resumed") is True and resumed["participantId"] == pid
        second = peers(pid)
        answer_over_signaling(again, second)
        await publish_over_signaling(again, second, {"camera": SolidColourTrack(COLOURS["blue"])})
        await hp.wait_for(lambda: (r := hp.video_from(pid)) is not None and r.frames >= 3
                          and colour_close(r.mean_rgb, COLOURS["blue"]), timeout=30, what="resumed video")


async def test_publish_permissions_follow_role_changes(client, auth, peers):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        viewer = await cs.joined(rid, "Vera", viewer_key(client, rid))
        vp = peers(viewer.participant_id)
        sdp, sources = await vp.publish_offer({"camera": SolidColourTrack(COLOURS["green"])})
        with pytest.raises(SignalingErrorReply) as exc:
            await viewer.request("publish", sdp=sdp, sources=sources)
        assert exc.value.code == "forbidden"
        await host.request("promote", participantId=viewer.participant_id)
        perms = await viewer.wait_for("permissions", timeout=5)
        assert perms["permissions"]["canPublishVideo"] is True
        reply = await viewer.request("publish", sdp=sdp, sources=sources, timeout=10)
        assert reply["type"] == "publish_answer"
