"""aiortc test clients for the SFU: publish synthetic solid-colour video and a
tone, decode what they receive (or, in `decode=False` mode, only count
encoded frames), and answer the server's subscribe offers.

Transport-agnostic: `publish_offer()` / `publish_answer()` /
`handle_subscribe_offer()` take and return SDP strings, so the same client is
driven directly against a `MediaRoom` (see `join_room`) or over signaling.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack, VideoStreamTrack

from media.aiortc_compat import send_preencoded, tap_receiver
from media.forward.keyframes import is_keyframe
from media.ice import prepare_gathering, rtc_configuration
from media.ports import EncodedFrame, SubscribeOffer

COLOURS = {"red": (230, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30)}


class SolidColourTrack(VideoStreamTrack):
    def __init__(self, rgb: tuple[int, int, int], width: int = 320, height: int = 240) -> None:
        super().__init__()
        self._image = np.zeros((height, width, 3), dtype=np.uint8)
        self._image[:, :] = rgb

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self._image, format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


class ToneTrack(AudioStreamTrack):
    """48 kHz mono sine (amplitude 0 = silence), 20 ms frames, paced in real time."""

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.5) -> None:
        super().__init__()
        self._frequency = frequency
        self._amplitude = amplitude
        self._n = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        rate, samples = 48000, 960
        if self._n:
            wait = self._start + (self._n * samples / rate) - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        else:
            self._start = time.time()
        t = (np.arange(samples) + self._n * samples) / rate
        pcm = (self._amplitude * 32767 * np.sin(2 * math.pi * self._frequency * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.pts = self._n * samples
        frame.sample_rate = rate
        frame.time_base = fractions.Fraction(1, rate)
        self._n += 1
        return frame


def encode_vp8(rgb: tuple[int, int, int], count: int = 30, width: int = 160, height: int = 120) -> list[bytes]:
    """Pre-encode `count` VP8 frames of a solid colour; frame 0 is the keyframe."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.bit_rate = 300_000
    codec.time_base = fractions.Fraction(1, 30)
    codec.options = {"deadline": "realtime", "lag-in-frames": "0", "cpu-used": "8"}
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, :] = rgb
    out: list[bytes] = []
    for i in range(count):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out.extend(bytes(p) for p in codec.encode(frame))
    out.extend(bytes(p) for p in codec.encode(None))
    return out[:count]


class PreEncodedTrack(MediaStreamTrack):
    """Replays pre-encoded frames (EncodedFrame objects, no encoder); restarts at
    the keyframe when the receiver asks for one."""

    def __init__(self, kind: str, frames: list[bytes], rate: float, clock_rate: int) -> None:
        super().__init__()
        self.kind = kind
        self._frames = frames
        self._interval = 1.0 / rate
        self._step = int(clock_rate / rate)
        self._i = 0
        self._n = 0
        self._start: Optional[float] = None

    def keyframe_requested(self) -> None:
        self._i = 0

    async def recv(self) -> EncodedFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            wait = self._start + self._n * self._interval - now
            if wait > 0:
                await asyncio.sleep(wait)
        data = self._frames[self._i % len(self._frames)]
        frame = EncodedFrame(data, self._n * self._step, self._i == 0, time.monotonic())
        self._i = (self._i + 1) % len(self._frames)
        self._n += 1
        return frame


@dataclass
class Received:
    info: Any  # PublicationInfo
    mid: str
    frames: int = 0
    keyframes: int = 0
    first_frame_at: Optional[float] = None
    last_frame_at: Optional[float] = None
    mean_rgb: Optional[tuple[float, float, float]] = None
    size: Optional[tuple[int, int]] = None


@dataclass
class PeerClient:
    name: str
    decode: bool = True
    received: dict[str, Received] = field(default_factory=dict)  # publication id -> what arrived
    offers: list[Mapping[str, Any]] = field(default_factory=list)  # tracks of each subscribe offer

    def __post_init__(self) -> None:
        self.publish_pc = RTCPeerConnection(rtc_configuration(()))
        self.subscribe_pc = RTCPeerConnection(rtc_configuration(()))
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._published: dict[str, Any] = {}  # source -> transceiver
        self._ended: set[str] = set()  # mids of subscriptions the server ended

    # --- waiting ---

    def _notify(self) -> None:
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.name}: timed out after {timeout}s waiting for {what}") from None

    def current_tracks(self) -> Mapping[str, Any]:
        return self.offers[-1] if self.offers else {}

    def subscribed_publishers(self) -> set[str]:
        return {info.participant_id for info in self.current_tracks().values()}

    # --- publish ---

    async def publish_offer(self, tracks: Mapping[str, MediaStreamTrack], video_codec: str = "VP8") -> tuple[str, dict[str, str]]:
        for source, track in tracks.items():
            t = self.publish_pc.addTransceiver(track, direction="sendonly")
            if track.kind == "video":
                caps = RTCRtpSender.getCapabilities("video").codecs
                prefs = [c for c in caps if c.mimeType.lower() == f"video/{video_codec.lower()}"]
                t.setCodecPreferences(prefs + [c for c in caps if c.mimeType.lower() == "video/rtx"])
            if isinstance(track, PreEncodedTrack):
                send_preencoded(t.sender, "video/VP8" if track.kind == "video" else "audio/opus",
                                track.keyframe_requested)
            self._published[source] = t
        prepare_gathering(self.publish_pc, loopback=True)
        await self.publish_pc.setLocalDescription(await self.publish_pc.createOffer())
        sources = {t.mid: source for source, t in self._published.items()}
        return self.publish_pc.localDescription.sdp, sources

    async def publish_answer(self, sdp: str) -> None:
        await self.publish_pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    # --- subscribe ---

    async def handle_subscribe_offer(self, sdp: str, tracks: Mapping[str, Any]) -> str:
        pc = self.subscribe_pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for t in pc.getTransceivers():
            info = tracks.get(t.mid)
            if info is None or info.publication_id in self.received:
                continue
            rec = Received(info=info, mid=t.mid)
            self.received[info.publication_id] = rec
            if self.decode:
                self._spawn(self._consume(t.receiver.track, rec))
            else:
                tap_receiver(t.receiver, on_frame=lambda codec, data, ts, rec=rec: self._count(rec, codec, data),
                             on_end=lambda: None)
        for t in pc.getTransceivers():
            if t.mid not in tracks and t.mid not in self._ended:
                # the server ended this subscription (m-line inactive): stop our
                # receiver, as a browser does, so its RTCP task ends
                self._ended.add(t.mid)
                await t.receiver.stop()
        prepare_gathering(pc, loopback=True)
        await pc.setLocalDescription(await pc.createAnswer())
        self.offers.append(dict(tracks))
        self._notify()
        return pc.localDescription.sdp

    def _count(self, rec: Received, codec: Any, data: bytes) -> None:
        now = time.monotonic()
        rec.frames += 1
        rec.keyframes += is_keyframe(codec.name, data)
        rec.first_frame_at = rec.first_frame_at or now
        rec.last_frame_at = now
        self._notify()

    async def _consume(self, track: MediaStreamTrack, rec: Received) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                rec.frames += 1
                rec.first_frame_at = rec.first_frame_at or now
                rec.last_frame_at = now
                if isinstance(frame, av.VideoFrame) and (rec.frames <= 3 or rec.frames % 5 == 0):
                    rgb = frame.to_ndarray(format="rgb24")
                    rec.mean_rgb = tuple(float(x) for x in rgb.reshape(-1, 3).mean(axis=0))
                    rec.size = (frame.width, frame.height)
                self._notify()
        except MediaStreamError:
            pass

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def frames_from(self, participant_id: str, kind: Optional[str] = None, source: Optional[str] = None) -> int:
        return sum(
            r.frames for r in self.received.values()
            if r.info.participant_id == participant_id
            and (kind is None or r.info.kind == kind)
            and (source is None or r.info.source == source)
        )

    def video_from(self, participant_id: str, source: str = "camera") -> Optional[Received]:
        best = None
        for r in self.received.values():
            if r.info.participant_id == participant_id and r.info.source == source and r.info.kind == "video":
                if r.mid in self.current_tracks() and (best is None or r.frames > best.frames):
                    best = r
        return best

    async def close(self) -> None:
        await self.publish_pc.close()
        await self.subscribe_pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for t in self._published.values():
            if t.sender.track is not None:
                t.sender.track.stop()


def colour_close(mean: Optional[tuple[float, float, float]], rgb: tuple[int, int, int], tolerance: float = 40.0) -> bool:
    return mean is not None and all(abs(m - c) <= tolerance for m, c in zip(mean, rgb))


async def join_room(room: Any, client: PeerClient, allowed: frozenset[str] = frozenset({"audio", "video", "screen"})) -> None:
    """Phase-1 driver: wire a client straight to a MediaRoom (no websocket)."""
    queue: asyncio.Queue[SubscribeOffer] = asyncio.Queue()

    def listener(event: Any) -> None:
        if isinstance(event, SubscribeOffer):
            queue.put_nowait(event)

    async def answer_offers() -> None:
        while True:
            event = await queue.get()
            sdp = await client.handle_subscribe_offer(event.sdp, event.tracks)
            await room.subscribe_answer(client.name, sdp)

    client._spawn(answer_offers())
    room.add_participant(client.name, allowed, listener)


async def publish(room: Any, client: PeerClient, tracks: Mapping[str, MediaStreamTrack], video_codec: str = "VP8") -> None:
    sdp, sources = await client.publish_offer(tracks, video_codec)
    answer = await room.publish(client.name, sdp, sources)
    await client.publish_answer(answer)


async def alice_sends_bob_blue(sfu: Any, clients: Callable[..., PeerClient], room_id: str, *, frames: int = 30,
                               timeout: float = 30) -> tuple[Any, PeerClient, PeerClient]:
    """Alice and bob join `room_id`; alice publishes a tone and a blue camera; returns once bob
    decoded `frames` blue video frames from her: (room, alice, bob)."""
    room = sfu.open_room(room_id)
    alice, bob = clients("alice"), clients("bob")
    for c in (alice, bob):
        await join_room(room, c)
    await publish(room, alice, {"microphone": ToneTrack(), "camera": SolidColourTrack(COLOURS["blue"])})
    await bob.wait_for(lambda: (r := bob.video_from("alice")) is not None and r.frames >= frames
                       and colour_close(r.mean_rgb, COLOURS["blue"]), timeout=timeout, what="blue video from alice")
    return room, alice, bob


# --- phase 2: the same clients over the signaling websocket ----------------------------------


def _track_info(mid: str, t: Mapping[str, Any]) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(publication_id=t["trackId"], participant_id=t["participantId"], source=t["source"],
                           kind=t["kind"], muted=t.get("muted", False))


def answer_over_signaling(sig: Any, client: PeerClient) -> None:
    """Answer every `subscribe_offer` a SignalingClient receives, in order."""

    async def loop() -> None:
        while True:
            while not [m for m in sig.inbox if m.get("type") == "subscribe_offer"]:
                if sig.closed.is_set():
                    return
                sig._changed.clear()
                await sig._changed.wait()
            offer = await sig.wait_for("subscribe_offer")
            tracks = {mid: _track_info(mid, t) for mid, t in offer["tracks"].items()}
            sdp = await client.handle_subscribe_offer(offer["sdp"], tracks)
            await sig.request("subscribe_answer", sdp=sdp, timeout=10)

    client._spawn(loop())


async def publish_over_signaling(sig: Any, client: PeerClient, tracks: Mapping[str, MediaStreamTrack],
                                 video_codec: str = "VP8") -> dict[str, Any]:
    sdp, sources = await client.publish_offer(tracks, video_codec)
    reply = await sig.request("publish", sdp=sdp, sources=sources, timeout=10)
    assert reply["type"] == "publish_answer", reply
    await client.publish_answer(reply["sdp"])
    return reply
