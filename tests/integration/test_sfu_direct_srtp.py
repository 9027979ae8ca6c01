"""SRTP and SRTCP are handled as they arrive (media/aiortc_compat/direct.py), on both of a
participant's connections, and media still flows with aiortc's counters kept."""

from __future__ import annotations

import pytest

from media import aiortc_compat as compat
from tests.helpers.media_peers import alice_sends_bob_blue

pytestmark = pytest.mark.timeout(60)
_D = "_RTCDtlsTransport__"


def direct_of(pc):
    (dtls,) = {t.receiver.transport for t in pc.getTransceivers()}    # one bundled transport
    receiver = compat.direct_receiver(dtls.transport.iceGatherer._connection)
    assert receiver is not None and receiver.dtls is dtls
    return receiver, dtls


async def test_media_and_feedback_take_the_direct_path(sfu, clients):
    room, alice, bob = await alice_sends_bob_blue(sfu, clients, "direct")
    await bob.wait_for(lambda: bob.frames_from("alice", "audio") >= 50, timeout=10, what="audio from alice")

    publish_in, dtls = direct_of(room._get("alice").publish_pc)
    received = getattr(dtls, _D + "rx_packets")
    # every SRTP packet once the keys exist: the DTLS handshake's few datagrams took aioice's queue
    assert publish_in.packets > 50            # >= 30 video frames and 50 audio ones were forwarded
    assert received - publish_in.packets < 20, (received, publish_in.packets)
    assert publish_in.suspended == 0          # aiortc's handling ends in place
    stats = await room._get("alice").publish_pc.getStats()
    transport = [s for s in stats.values() if s.type == "transport"]
    assert transport and transport[0].packetsReceived == received

    # a tapped receiver is handed each packet by a plain call: aiortc's coroutine is never made
    calls = []
    for t in room._get("alice").publish_pc.getTransceivers():
        handle = t.receiver._handle_rtp_packet

        async def counted(packet, arrival_time_ms, handle=handle):
            calls.append(packet)
            await handle(packet, arrival_time_ms)

        t.receiver._handle_rtp_packet = counted
    frames = bob.video_from("alice").frames
    await bob.wait_for(lambda: bob.video_from("alice").frames >= frames + 30, timeout=20, what="more video")
    assert calls == []

    # the subscriber's RTCP (receiver reports, REMB) on the subscribe connection comes the same way
    subscribe_in, _ = direct_of(room._get("bob").subscribe_pc)
    await bob.wait_for(lambda: subscribe_in.packets >= 2, timeout=20, what="bob's RTCP handled directly")
