"""Subscribe transceivers carry no receive-side state (media/aiortc_compat/idle.py), and the
subscribers still connect and receive."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from media import aiortc_compat as compat
from tests.helpers.media_peers import COLOURS, SolidColourTrack, ToneTrack, alice_sends_bob_blue

pytestmark = pytest.mark.timeout(60)
_R = "_RTCRtpReceiver__"


async def test_subscribe_receivers_are_light_and_media_flows(sfu, clients):
    room, alice, bob = await alice_sends_bob_blue(sfu, clients, "light", frames=5, timeout=20)
    await bob.wait_for(lambda: bob.frames_from("alice", "audio") >= 10, timeout=10, what="audio from alice")

    subscribe = room._get("bob").subscribe_pc.getTransceivers()
    assert sorted(t.kind for t in subscribe) == ["audio", "video"]
    for t in subscribe:
        assert isinstance(t.receiver, compat.SendOnlyReceiver)
        assert getattr(t.receiver, _R + "kind") == t.kind
        assert getattr(t.receiver, _R + "remote_bitrate_estimator") is None
        assert getattr(t.receiver, _R + "nack_generator") is None
        assert not getattr(t.receiver, _R + "started")
    # the publish side keeps aiortc's full receiver (REMB estimator, NACKs)
    video_in = next(t for t in room._get("alice").publish_pc.getTransceivers() if t.kind == "video")
    assert not isinstance(video_in.receiver, compat.SendOnlyReceiver)
    assert getattr(video_in.receiver, _R + "remote_bitrate_estimator") is not None


async def test_only_the_one_call_gets_the_light_receiver():
    import aiortc.rtcpeerconnection as pcm

    pc = RTCPeerConnection()
    try:
        t = compat.add_send_only_transceiver(pc, SolidColourTrack(COLOURS["red"]))
        assert t.direction == "sendonly" and isinstance(t.receiver, compat.SendOnlyReceiver)
        assert pcm.RTCRtpReceiver is RTCRtpReceiver
        other = pc.addTransceiver("video", direction="recvonly")
        assert type(other.receiver) is RTCRtpReceiver
        second = compat.add_send_only_transceiver(pc, ToneTrack())
        assert getattr(second.receiver, _R + "kind") == "audio"
        for name in ("decoder_queue", "decoder_error"):  # unused, so shared; a full receiver keeps its own
            assert getattr(t.receiver, _R + name) is getattr(second.receiver, _R + name)
            assert getattr(other.receiver, _R + name) is not getattr(t.receiver, _R + name)
        with pytest.raises(RuntimeError):
            await t.receiver.receive(None)
    finally:
        await pc.close()


def test_host_addresses_are_remembered_for_the_ttl(monkeypatch):
    import aioice.ice

    from media.aiortc_compat import addresses

    calls = []

    def counting(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        calls.append((use_ipv4, use_ipv6))
        return ["192.0.2.7"]

    monkeypatch.setattr(addresses, "_original", counting)
    compat.remember_host_addresses(ttl=60)
    compat.fresh_host_addresses()
    assert aioice.ice.get_host_addresses is addresses._remembered
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["192.0.2.7"]
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["192.0.2.7"]
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["192.0.2.7"]
    assert calls == [(True, True), (True, False)]
    compat.remember_host_addresses(ttl=0)  # expired at once: looked up again
    aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True)
    assert len(calls) == 3
    compat.remember_host_addresses()
    compat.fresh_host_addresses()
