"""A publish m-line nobody records is forwarded without aiortc assembling its frames
(media/aiortc_compat/lean_receive.py), and the publisher still gets what its congestion and
loss control live on: receiver reports, REMB and NACKs. A recorder gets whole frames as before."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket

from media.aiortc_compat import on_remb
from media.aiortc_compat.lean_receive import ESTIMATOR, CompiledEstimator

from tests.helpers.media_peers import alice_sends_bob_blue

pytestmark = pytest.mark.timeout(90)
_JB = "_RTCRtpReceiver__jitter_buffer"


class Frames:
    """A recorder-like sink: the frames it is given."""

    def __init__(self) -> None:
        self.frames: list = []

    def on_publication_added(self, info) -> None:
        pass

    def on_frame(self, publication_id, frame) -> None:
        self.frames.append((publication_id, frame))

    def on_publication_removed(self, publication_id) -> None:
        pass


def held(receiver) -> int:
    return sum(p is not None for p in getattr(receiver, _JB)._packets)


def drop_one_video_packet(client) -> dict:
    """Alice's link loses one video packet (her transport never sends it); returns what was lost."""
    sender = next(t.sender for t in client.publish_pc.getTransceivers() if t.kind == "video")
    transport = sender.transport
    send, lost = transport._send_rtp, {}

    async def lossy(data: bytes) -> None:
        if not lost and int.from_bytes(data[8:12], "big") == sender._ssrc:
            lost["seq"] = int.from_bytes(data[2:4], "big")
            return
        await send(data)

    transport._send_rtp = lossy
    return lost


def nacks_seen(client) -> list[int]:
    """The sequence numbers the SFU's NACKs to alice's video sender named."""
    sender = next(t.sender for t in client.publish_pc.getTransceivers() if t.kind == "video")
    named: list[int] = []
    handle = sender._handle_rtcp_packet

    async def spy(packet) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            named.extend(packet.lost)
        await handle(packet)

    sender._handle_rtcp_packet = spy
    return named


async def until(client, check, timeout: float, what: str) -> None:
    """Poll the async `check` each time more video reaches `client` (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, f"timed out after {timeout}s waiting for {what}"
        n = client.video_from("alice").frames
        await client.wait_for(lambda: client.video_from("alice").frames > n, timeout=10, what="more video")


async def test_forwarding_without_frames_keeps_reports_and_nacks_and_a_recorder_gets_frames(sfu, clients):
    room, alice, bob = await alice_sends_bob_blue(sfu, clients, "lean")

    part = room._get("alice")
    slot = next(s for s in part._slots.values() if s.publication is not None and s.publication.kind == "video")
    pub = slot.publication
    assert held(slot.receiver) == 0            # nothing buffered for reassembly: no recorder
    assert pub.frames_in >= 30                 # counted from the packets' marker bits

    # what the publisher's control loops live on: receiver reports (aiortc's statistics kept) ...
    stats = await part.publish_pc.getStats()
    inbound = [s for s in stats.values() if s.type == "inbound-rtp" and s.kind == "video"]
    assert inbound and inbound[0].packetsReceived > 30

    async def reported() -> bool:
        st = await alice.publish_pc.getStats()
        return any(s.type == "remote-inbound-rtp" and s.kind == "video" for s in st.values())

    await until(bob, reported, 20, "a receiver report from the SFU at alice's video sender")

    # ... its REMB: the SFU's estimate of alice's link (aiortc's estimator, in C where built)
    estimator = getattr(slot.receiver, ESTIMATOR)
    assert isinstance(estimator, CompiledEstimator or RemoteBitrateEstimator)
    rembs: list[int] = []
    on_remb(next(t.sender for t in alice.publish_pc.getTransceivers() if t.kind == "video"), rembs.append)

    async def estimated() -> bool:
        return bool(rembs)

    await until(bob, estimated, 20, "a REMB from the SFU at alice's video sender")
    assert 10_000 < rembs[-1] < 30_000_000

    # ... and NACKs: a packet lost on alice's link is asked for again
    named = nacks_seen(alice)
    lost = drop_one_video_packet(alice)
    await bob.wait_for(lambda: "seq" in lost and lost["seq"] in named, timeout=20,
                       what="the SFU's NACK for the lost packet")
    assert held(slot.receiver) == 0

    # a recorder: aiortc assembles frames again, starting from a keyframe it asks for
    sink = Frames()
    handle = room.attach_sink(sink)
    await bob.wait_for(lambda: sum(1 for pid, f in sink.frames if pid == pub.id) >= 30
                       and any(f.keyframe for pid, f in sink.frames if pid == pub.id), timeout=20,
                       what="30 video frames and a keyframe at the recorder")
    video = [f for pid, f in sink.frames if pid == pub.id]
    assert all(b.timestamp > a.timestamp for a, b in zip(video, video[1:]))   # whole frames, in order
    handle.detach()
    count = len(sink.frames)
    await bob.wait_for(lambda: held(slot.receiver) == 0, timeout=10, what="the lean path again")
    frames = bob.video_from("alice").frames
    await bob.wait_for(lambda: bob.video_from("alice").frames >= frames + 30, timeout=20, what="video goes on")
    assert len(sink.frames) == count           # a detached sink gets nothing
    assert getattr(slot.receiver, ESTIMATOR) is estimator    # aiortc's own path fed the same estimator
