"""SFU features with real aiortc peers over loopback: mute, screen share,
H.264, active speaker, no codec on the server, no leaks."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest
from aiortc import RTCPeerConnection

import aiortc.rtcrtpreceiver as aiortc_receiver
import aiortc.rtcrtpsender as aiortc_sender
from media.ports import ActiveSpeaker, MediaConfig, PublicationsChanged
from media.sfu import MediaService
from tests.helpers.media_peers import (
    COLOURS,
    PeerClient,
    PreEncodedTrack,
    SolidColourTrack,
    ToneTrack,
    colour_close,
    encode_vp8,
    join_room,
    publish,
)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def sfu():
    service = MediaService(MediaConfig(loopback_candidates=True))
    yield service
    await service.close()


async def eventually(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll a condition that has no event to wait on (task/thread counts)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_mute_stops_forwarding_and_unmute_resumes(sfu, clients):
    room = sfu.open_room("mute")
    changes: list[PublicationsChanged] = []
    room.listener = lambda e: changes.append(e) if isinstance(e, PublicationsChanged) else None
    alice, bob = clients("alice"), clients("bob")
    await join_room(room, alice)
    await join_room(room, bob)
    await publish(room, alice, {"microphone": ToneTrack(), "camera": SolidColourTrack(COLOURS["green"])})
    await bob.wait_for(lambda: bob.frames_from("alice", "video") >= 5, timeout=20, what="video")

    assert room.set_muted("alice", "camera", True) is True
    assert room.set_muted("alice", "camera", True) is False  # idempotent
    assert any(i.source == "camera" and i.muted for i in changes[-1].publications)
    muted_video = bob.frames_from("alice", "video")
    audio_then = bob.frames_from("alice", "audio")
    # audio keeps flowing for a second while video stays frozen (a frame or two may be in flight)
    await bob.wait_for(lambda: bob.frames_from("alice", "audio") >= audio_then + 50, timeout=10, what="audio")
    assert bob.frames_from("alice", "video") <= muted_video + 2

    assert room.set_muted("alice", "camera", False) is True
    frozen = bob.frames_from("alice", "video")
    unmuted_at = time.monotonic()
    await bob.wait_for(lambda: bob.frames_from("alice", "video") >= frozen + 3, timeout=5, what="video after unmute")
    assert time.monotonic() - unmuted_at < 2.0
    assert colour_close(bob.video_from("alice").mean_rgb, COLOURS["green"])

    # muting audio stops audio
    room.set_muted("alice", "microphone", True)
    audio_muted = bob.frames_from("alice", "audio")
    video_then = bob.frames_from("alice", "video")
    await bob.wait_for(lambda: bob.frames_from("alice", "video") >= video_then + 20, timeout=10, what="video")
    assert bob.frames_from("alice", "audio") <= audio_muted + 5


async def test_screen_share_is_a_second_labelled_video_track(sfu, clients):
    room = sfu.open_room("screen")
    alice, bob = clients("alice"), clients("bob")
    await join_room(room, alice)
    await join_room(room, bob)
    await publish(room, alice, {"camera": SolidColourTrack(COLOURS["red"]),
                                "screen": SolidColourTrack(COLOURS["yellow"], 640, 360)})
    for source, colour in (("camera", "red"), ("screen", "yellow")):
        await bob.wait_for(
            lambda s=source, c=colour: (r := bob.video_from("alice", s)) is not None
            and r.frames >= 3 and colour_close(r.mean_rgb, COLOURS[c]),
            timeout=20, what=f"{source} in {colour}",
        )
    assert bob.video_from("alice", "screen").size == (640, 360)
    assert bob.video_from("alice", "camera").size == (320, 240)


async def test_screen_share_needs_permission(sfu, clients):
    from media.ports import NotAllowed

    room = sfu.open_room("perm")
    alice = clients("alice")
    await join_room(room, alice, allowed=frozenset({"audio", "video"}))
    sdp, sources = await alice.publish_offer({"screen": SolidColourTrack(COLOURS["red"])})
    with pytest.raises(NotAllowed):
        await room.publish("alice", sdp, sources)
    assert room.publications() == ()


async def test_h264_end_to_end(sfu, clients):
    room = sfu.open_room("h264")
    alice, bob = clients("alice"), clients("bob")
    await join_room(room, alice)
    await join_room(room, bob)
    await publish(room, alice, {"camera": SolidColourTrack(COLOURS["blue"])}, video_codec="H264")
    (info,) = room.publications()
    assert info.codec == "video/H264"
    await bob.wait_for(
        lambda: (r := bob.video_from("alice")) is not None and r.frames >= 5 and colour_close(r.mean_rgb, COLOURS["blue"]),
        timeout=20, what="decoded H.264",
    )
    (t,) = [t for t in bob.subscribe_pc.getTransceivers() if t.kind == "video"]
    assert t._codecs[0].mimeType == "video/H264"
    assert t._codecs[0].parameters.get("packetization-mode") == "1"


async def test_active_speaker_from_audio_levels(sfu, clients):
    room = sfu.open_room("speaker")
    events: list[tuple[float, str]] = []
    room.listener = lambda e: events.append((time.monotonic(), e.participant_id)) if isinstance(e, ActiveSpeaker) else None
    alice, bob = clients("alice"), clients("bob")
    await join_room(room, alice)
    await join_room(room, bob)
    await publish(room, alice, {"microphone": ToneTrack(amplitude=0.0)})
    await publish(room, bob, {"microphone": ToneTrack(amplitude=0.6)})
    await alice.wait_for(lambda: alice.frames_from("bob", "audio") >= 100, timeout=20, what="2 s of audio")
    assert events and events[-1][1] == "bob"
    assert all(pid != "alice" for _, pid in events)
    times = [t for t, _ in events]
    assert all(b - a >= 0.24 for a, b in zip(times, times[1:])), "more than 4 active speaker events per second"


async def test_no_decoder_or_encoder_on_the_server(clients, monkeypatch):
    """Pre-encoded publishers and counting (non-decoding) subscribers: any codec
    object created in this process would be the server's."""
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    vp8 = encode_vp8(COLOURS["red"], count=30)
    created: list[str] = []
    real_decoder, real_encoder = aiortc_receiver.get_decoder, aiortc_sender.get_encoder
    monkeypatch.setattr(aiortc_receiver, "get_decoder", lambda codec: created.append(f"decoder {codec.mimeType}") or real_decoder(codec))
    monkeypatch.setattr(aiortc_sender, "get_encoder", lambda codec: created.append(f"encoder {codec.mimeType}") or real_encoder(codec))
    threads_before = {t.name for t in threading.enumerate()}

    room = sfu.open_room("nocodec")
    alice, bob, carol = clients("alice", decode=False), clients("bob", decode=False), clients("carol", decode=False)
    for c in (alice, bob, carol):
        await join_room(room, c)
    await publish(room, alice, {
        "microphone": PreEncodedTrack("audio", [bytes([0xF8]) + bytes(60)], 50, 48000),
        "camera": PreEncodedTrack("video", vp8, 30, 90000),
    })
    for c in (bob, carol):
        await c.wait_for(lambda c=c: c.frames_from("alice", "video") >= 30 and c.frames_from("alice", "audio") >= 50,
                         timeout=20, what="forwarded frames")
        (video,) = [r for r in c.received.values() if r.info.kind == "video"]
        assert video.keyframes >= 1
    assert created == []
    new_threads = {t.name for t in threading.enumerate()} - threads_before
    assert not [n for n in new_threads if "decoder" in n or "encoder" in n]
    await sfu.close()


async def test_join_publish_leave_cycles_do_not_leak(sfu, clients):
    vp8 = encode_vp8(COLOURS["green"], count=30)
    room = sfu.open_room("cycles")
    host = clients("host", decode=False)
    await join_room(room, host)
    await publish(room, host, {"camera": PreEncodedTrack("video", vp8, 30, 90000)})

    async def cycle(i: int) -> None:
        guest = PeerClient(f"guest{i}", decode=False)
        await join_room(room, guest)
        await publish(room, guest, {"camera": PreEncodedTrack("video", vp8, 30, 90000),
                                    "microphone": PreEncodedTrack("audio", [bytes([0xF8]) + bytes(60)], 50, 48000)})
        await guest.wait_for(lambda: guest.frames_from("host", "video") >= 1, timeout=15, what="host video")
        await host.wait_for(lambda: host.frames_from(guest.name, "video") >= 1, timeout=15, what="guest video")
        await room.remove_participant(guest.name)
        await guest.close()
        await host.wait_for(lambda: guest.name not in host.subscribed_publishers(), timeout=5, what="guest gone")

    def pcs() -> int:
        gc.collect()
        return sum(isinstance(o, RTCPeerConnection) for o in gc.get_objects())

    await cycle(0)  # warm up lazily created things (host's subscribe connection)
    tasks0, threads0, pcs0 = len(asyncio.all_tasks()), threading.active_count(), pcs()
    for i in range(1, 21):
        await cycle(i)
    await eventually(lambda: len(asyncio.all_tasks()) <= tasks0, 10, f"task count back to {tasks0}")
    assert threading.active_count() <= threads0
    assert pcs() <= pcs0
    assert len(room.participants) == 1 and len(room.publications()) == 1
    (pub,) = room.pubs.values()
    assert list(pub.subscribers) == []
