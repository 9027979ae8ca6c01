"""A publish-only connection (join's `subscribe: false`: a camera feed, a bot): it publishes to
everyone and is offered nothing, so the server keeps no subscribe connection for it. Real server,
real aiortc peers over the websocket."""

from __future__ import annotations

import pytest

from server.app import SFU
from signaling.client import SignalingErrorReply
from tests.helpers.media_peers import COLOURS, SolidColourTrack, answer_over_signaling, colour_close, publish_over_signaling
from tests.helpers.signaling import clients as signaling_clients
from tests.helpers.signaling import host_key, make_room

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


async def test_a_publish_only_camera_is_seen_by_everyone_and_offered_nothing(client, auth, clients):
    """`clients`: aiortc peers by name (tests/integration/conftest.py)."""
    room = await make_room(client, auth, roomMode="group")
    rid = room["roomId"]
    async with signaling_clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        hp = clients(host.participant_id)
        answer_over_signaling(host, hp)
        await publish_over_signaling(host, hp, {"camera": SolidColourTrack(COLOURS["red"])})

        cam = await cs.open()
        with pytest.raises(SignalingErrorReply) as exc:      # checked at the edge: a boolean or nothing
            await cam.request("join", roomName=rid, displayName="Cam", key=host_key(room), subscribe="no")
        assert exc.value.code == "invalid_field"
        assert (await cam.join(rid, "Lobby camera", host_key(room), subscribe=False))["type"] == "joined"
        cp = clients(cam.participant_id)
        await publish_over_signaling(cam, cp, {"camera": SolidColourTrack(COLOURS["blue"])})
        await hp.wait_for(lambda: (r := hp.video_from(cam.participant_id)) is not None and r.frames >= 5
                          and colour_close(r.mean_rgb, COLOURS["blue"]), timeout=30, what="the camera's video")

        # someone who joins later gets both, while the camera was offered nothing at all
        guest = await cs.joined(rid, "Gus")
        gp = clients(guest.participant_id)
        answer_over_signaling(guest, gp)
        for publisher, colour in ((host, "red"), (cam, "blue")):
            await gp.wait_for(lambda p=publisher, c=colour: (r := gp.video_from(p.participant_id)) is not None
                              and r.frames >= 5 and colour_close(r.mean_rgb, COLOURS[c]), timeout=30, what=colour)
        assert not [m for m in cam.inbox if m.get("type") == "subscribe_offer"]
        media = client.server.app[SFU].get_room(rid)._get(cam.participant_id)
        assert media.subscribe_pc is None and not media.subscriptions
        with pytest.raises(SignalingErrorReply) as exc:
            await cam.request("subscribe_answer", sdp="v=0\r\n")
        assert exc.value.code == "wrong_state"
