"""Frame-level forwarding on aiortc without decoding or encoding.

Receive side: aiortc's `RTCRtpReceiver.receive()` starts a decoder thread and
`_handle_rtp_packet` puts each reassembled frame `(codec, JitterFrame)` into
`__decoder_queue`. `tap_receiver()` replaces `receive()` on one receiver
instance with the same set-up minus the thread, and puts a sink object in place
of the queue: complete frames go straight to a callback on the event loop, so
no decoder is created and no remote-track queue fills up. The timestamp mapper
is replaced too, so frames keep their (unwrapped) RTP timestamps.

Send side: `RTCRtpSender._next_encoded_frame()` calls `encoder.pack(data)` for
anything that is not an `av.Frame`. `attach_sender()` presets the sender's
encoder with a `Packer` (RTP payloading only, reusing aiortc's packetizers) so
`get_encoder()` is never called, and routes the sender's PLI/FIR to a callback
instead of its (non-existent) encoder.

These hooks use aiortc 1.16 private names; `check_aiortc()` fails loudly if
they change.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Callable, Optional

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpreceiver import NackGenerator
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from .forward.keyframes import is_keyframe
from .ports import EncodedFrame

log = logging.getLogger(__name__)

_R = "_RTCRtpReceiver__"
_S = "_RTCRtpSender__"


def check_aiortc() -> None:
    probe_names = ("codecs", "rtx_ssrc", "decoder_queue", "decoder_thread", "timestamp_mapper", "transport", "started",
                   "jitter_buffer", "nack_generator", "kind")
    receiver_init = RTCRtpReceiver.__init__.__code__.co_names
    missing = [n for n in probe_names if _R + n not in receiver_init]
    if "_RTCRtpSender__encoder" not in RTCRtpSender.__init__.__code__.co_names:
        missing.append("sender encoder")
    if missing:
        raise RuntimeError(f"aiortc internals changed, forwarding hooks unusable: {missing}")


class _Unwrapper:
    """Replaces aiortc's TimestampMapper: unwraps 32-bit RTP timestamps into a
    monotonic int without rebasing them to zero (late frames map just before).
    `continue_after(gap)`: the next timestamp starts a new stream (new SSRC) and
    maps to `gap` after the last one, so the output stays monotonic."""

    __slots__ = ("_last", "_shift", "_gap")

    def __init__(self) -> None:
        self._last: Optional[int] = None  # last unwrapped input timestamp
        self._shift = 0
        self._gap: Optional[int] = None

    def continue_after(self, gap: int) -> None:
        if self._last is not None:
            self._gap = gap

    def map(self, timestamp: int) -> int:
        last = self._last
        if last is None:
            self._last = timestamp
            return timestamp
        if self._gap is not None:
            self._shift = last + self._shift + self._gap - timestamp
            self._gap = None
            self._last = timestamp
            return timestamp + self._shift
        diff = ((timestamp - last + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        value = last + diff
        if diff > 0:
            self._last = value
        return value + self._shift


class _NoThread:
    """Stands in for the decoder thread: truthy, join() returns at once."""

    def join(self, timeout: Optional[float] = None) -> None:
        return None


class _FrameSink:
    """Stands in for the decoder queue (`put((codec, frame))`, `put(None)` at end)."""

    __slots__ = ("on_frame", "on_end")

    def __init__(self, on_frame: Callable[[RTCRtpCodecParameters, EncodedFrame], None], on_end: Callable[[], None]):
        self.on_frame = on_frame
        self.on_end = on_end

    def put(self, item: Any) -> None:
        if item is None:
            self.on_end()
            return
        codec, jframe = item
        data = jframe.data
        frame = EncodedFrame(data, jframe.timestamp, is_keyframe(codec.name, data), time.monotonic())
        try:
            self.on_frame(codec, frame)
        except Exception:  # never let forwarding errors kill aiortc's receive path
            log.exception("forwarding a frame failed")


def tap_receiver(
    receiver: RTCRtpReceiver,
    on_frame: Callable[[RTCRtpCodecParameters, EncodedFrame], None],
    on_end: Callable[[], None],
    on_rtp: Optional[Callable[[Any], None]] = None,
) -> None:
    """Make `receiver` hand complete encoded frames to `on_frame` (no decoder thread).

    Must be called before aiortc calls `receiver.receive()` (i.e. from the
    peer connection's "track" event or right after setRemoteDescription).
    `on_rtp(packet)` sees every RTP packet first (audio level, SSRC); it may
    return an awaitable (packet-level forwarding), awaited before aiortc's path.
    """
    r: Any = receiver
    if getattr(r, _R + "started"):
        raise RuntimeError("receiver already started; tap it before it receives")
    setattr(r, _R + "timestamp_mapper", _Unwrapper())
    sink = _FrameSink(on_frame, on_end)

    async def receive(parameters: Any) -> None:
        # aiortc calls this after every negotiation in which the m-line receives:
        # the first call starts the receiver, later ones apply what the new offer
        # says (payload types, and the SSRCs of a new track on the same m-line)
        codecs = getattr(r, _R + "codecs")
        for codec in parameters.codecs:
            codecs[codec.payloadType] = codec
        rtx = getattr(r, _R + "rtx_ssrc")
        for encoding in parameters.encodings:
            if encoding.rtx:
                rtx[encoding.rtx.ssrc] = encoding.ssrc
        getattr(r, _R + "transport")._register_rtp_receiver(r, parameters)
        if getattr(r, _R + "started"):
            return
        setattr(r, _R + "decoder_queue", sink)
        setattr(r, _R + "decoder_thread", _NoThread())
        setattr(r, _R + "rtcp_task", asyncio.ensure_future(r._run_rtcp()))
        setattr(r, _R + "started", True)

    r.receive = receive
    if on_rtp is not None:
        handle = r._handle_rtp_packet

        async def _handle_rtp_packet(packet: Any, arrival_time_ms: int) -> None:
            pending = on_rtp(packet)
            if pending is not None:  # packet-level forwarding to subscribers
                await pending
            await handle(packet, arrival_time_ms)

        r._handle_rtp_packet = _handle_rtp_packet


def restart_reception(receiver: RTCRtpReceiver, *, new_publication: bool) -> None:
    """The m-line's packets start a new stream: the publisher started sending again
    after being inactive (`new_publication`: timestamps start afresh), or put a new
    SSRC on it (timestamps continue). aiortc's jitter buffer would otherwise wait
    for packets of the old stream that will never come (the server stops accepting
    them as soon as it answers `inactive`, the client sends until it has the answer)
    and hold every new frame back until 512 packets have arrived."""
    r: Any = receiver
    video = getattr(r, _R + "kind") == "video"
    if new_publication:
        setattr(r, _R + "timestamp_mapper", _Unwrapper())
    else:
        getattr(r, _R + "timestamp_mapper").continue_after(3000 if video else 960)  # about one frame
    setattr(r, _R + "jitter_buffer", JitterBuffer(capacity=512, is_video=True) if video else JitterBuffer(16, prefetch=4))
    if video:
        setattr(r, _R + "nack_generator", NackGenerator())


def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Schedule an RTCP PLI to the publisher's media SSRC."""
    asyncio.ensure_future(receiver._send_rtcp_pli(media_ssrc))


# --- send side ---------------------------------------------------------------


class Packer:
    """What aiortc's sender calls `pack()` on: RTP payloads for one frame."""

    def pack(self, frame: EncodedFrame) -> tuple[list[bytes], int]:
        return [frame.data], frame.timestamp


class Vp8Packer(Packer):
    def __init__(self) -> None:
        self.picture_id = random.randint(0, (1 << 15) - 1)

    def pack(self, frame: EncodedFrame) -> tuple[list[bytes], int]:
        payloads = Vp8Encoder._packetize(frame.data, self.picture_id)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, frame.timestamp


class H264Packer(Packer):
    def pack(self, frame: EncodedFrame) -> tuple[list[bytes], int]:
        return H264Encoder._packetize(H264Encoder._split_bitstream(frame.data)), frame.timestamp


def packer_for(codec_mime: str) -> Packer:
    name = codec_mime.split("/")[-1].lower()
    if name == "vp8":
        return Vp8Packer()
    if name == "h264":
        return H264Packer()
    return Packer()


def _noop() -> None:
    return None


class ForwardTrack(MediaStreamTrack):
    """A subscriber's view of one publication: a bounded queue of EncodedFrames.

    Frames are accepted only once the sender is reading (its first `recv()`),
    and for video only from a keyframe on: at start, after a queue overflow or
    after unmute, it drops frames and calls `need_keyframe()` until one arrives.
    """

    def __init__(self, kind: str, track_id: str, need_keyframe: Callable[[], None], maxsize: int = 64) -> None:
        super().__init__()
        self.kind = kind
        self._id = track_id
        self._need_keyframe = need_keyframe
        self._queue: asyncio.Queue = asyncio.Queue(maxsize)
        self._reading = False
        self.waiting_keyframe = kind == "video"
        self.forwarded = 0
        self.dropped = 0

    def deliver(self, frame: EncodedFrame) -> None:
        if not self._reading or self.readyState != "live":
            return
        if self.waiting_keyframe:
            if not frame.keyframe:
                self.dropped += 1
                return
            self.waiting_keyframe = False
        try:
            self._queue.put_nowait(frame)
            self.forwarded += 1
        except asyncio.QueueFull:
            self.dropped += 1
            self._drain()
            if self.kind == "video":
                self.resync()

    def resync(self) -> None:
        """Drop until the next keyframe (video) and ask for one."""
        if self.kind == "video":
            self.waiting_keyframe = True
            self._need_keyframe()

    def detach(self) -> None:
        """Forget the publication's callback (the track may outlive it)."""
        self._need_keyframe = _noop

    def end(self) -> None:
        self._drain()
        self._queue.put_nowait(None)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def recv(self) -> Any:
        if not self._reading:
            self._reading = True
            if self.waiting_keyframe:
                self._need_keyframe()
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        return frame


def attach_sender(sender: RTCRtpSender, packer: Packer, on_keyframe_request: Callable[[], None]) -> None:
    """Preset the sender's 'encoder' to a packer and forward its PLI/FIR."""
    s: Any = sender
    setattr(s, _S + "encoder", packer)
    s._send_keyframe = on_keyframe_request
