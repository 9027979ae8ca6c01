"""Receive side (publish connections): the receiver tap, jitter buffer reset, PLI.

aiortc's `RTCRtpReceiver.receive()` starts a decoder thread, and
`_handle_rtp_packet` puts each reassembled frame `(codec, JitterFrame)` into
`__decoder_queue`. `tap_receiver()` replaces `receive()` on one receiver
instance with the same set-up minus the thread, and puts a sink object in place
of the queue: complete frames go straight to a callback on the event loop, no
decoder is created, no remote-track queue fills. The timestamp mapper can be
replaced too, so frames keep their (unwrapped) RTP timestamps. While nothing
wants frames (`frames_wanted`), packets skip depayloading and reassembly
(lean_receive.py).
`declared_ssrcs()` says which SSRCs the last negotiation declared for the m-line;
`reset_jitter_buffer()` drops what aiortc buffered when a stream restarts;
`send_pli()` asks the publisher for a keyframe. Probed by `probe.check_aiortc`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Coroutine, Optional, Protocol

import aiortc.jitterbuffer
import aiortc.rtcrtpreceiver
import aiortc.rtp
import structlog
from aiortc import RTCRtpCodecParameters, RTCRtpReceiver

from .direct import HANDLE_NOW
from .lean_receive import lean_handler

log = structlog.get_logger("media.aiortc_compat")

_R = "_RTCRtpReceiver__"  # name-mangled private attributes of RTCRtpReceiver
DECLARED = "antechamber_declared_ssrcs"  # set on a tapped receiver: what its last negotiation declared

_JitterBuffer = aiortc.jitterbuffer.JitterBuffer
_NackGenerator = aiortc.rtcrtpreceiver.NackGenerator


class TimestampMapper(Protocol):
    """What aiortc's receiver calls on each complete frame's RTP timestamp."""

    def map(self, timestamp: int) -> int: ...


class _NoThread:
    """Stands in for the decoder thread: truthy, join() returns at once."""

    def join(self, timeout: Optional[float] = None) -> None:
        return None


class _FrameSink:
    """Stands in for the decoder queue (`put((codec, frame))`, `put(None)` at end)."""

    __slots__ = ("on_frame", "on_end")

    def __init__(self, on_frame: Callable[[RTCRtpCodecParameters, bytes, int], None], on_end: Callable[[], None]):
        self.on_frame = on_frame
        self.on_end = on_end

    def put(self, item: Any) -> None:
        if item is None:
            self.on_end()
            return
        codec, jframe = item
        try:
            self.on_frame(codec, jframe.data, jframe.timestamp)
        except Exception:  # never let forwarding errors kill aiortc's receive path
            log.exception("inbound frame handler failed", codec=codec.mimeType)


def tap_receiver(
    receiver: RTCRtpReceiver,
    *,
    on_frame: Callable[[RTCRtpCodecParameters, bytes, int], None],
    on_end: Callable[[], None],
    on_rtp: Optional[Callable[[Any], Optional[bool]]] = None,
    timestamps: Optional[TimestampMapper] = None,
    frames_wanted: Optional[Callable[[], bool]] = None,
) -> None:
    """Make `receiver` hand complete encoded frames to `on_frame(codec, data,
    timestamp)` on the event loop (no decoder thread); `on_end()` when it stops.

    Call before aiortc calls `receiver.receive()` (right after
    setRemoteDescription). `on_rtp(packet)` sees every RTP packet (an aiortc
    RtpPacket) before aiortc's own handling. `timestamps` replaces aiortc's
    mapper (which rebases each stream to zero) for the receiver's lifetime.
    When `on_rtp` returns False the packet is dropped (aiortc does not handle it).
    While `frames_wanted()` is false, packets get aiortc's statistics, REMB and
    NACK handling but are neither depayloaded nor assembled into frames
    (lean_receive.py): no `on_frame` then; the jitter buffer starts empty when
    frames are wanted again.
    """
    r: Any = receiver
    if getattr(r, _R + "started"):
        raise RuntimeError("receiver already started; tap it before it receives")
    if timestamps is not None:
        setattr(r, _R + "timestamp_mapper", timestamps)
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
        setattr(r, DECLARED, (frozenset(e.ssrc for e in parameters.encodings if e.ssrc),
                              frozenset(e.rtx.ssrc for e in parameters.encodings if e.rtx and e.rtx.ssrc)))
        getattr(r, _R + "transport")._register_rtp_receiver(r, parameters)
        if getattr(r, _R + "started"):
            return
        setattr(r, _R + "decoder_queue", sink)
        setattr(r, _R + "decoder_thread", _NoThread())
        setattr(r, _R + "rtcp_task", asyncio.ensure_future(r._run_rtcp()))
        setattr(r, _R + "started", True)

    r.receive = receive
    handle_rtcp = r._handle_rtcp_packet

    async def _handle_rtcp_packet(packet: Any) -> None:
        # aiortc stops the receiver for good on an RTCP BYE of its SSRC; a publication ends by
        # negotiation (inactive, rejected) or with its connection, never by one packet
        if not isinstance(packet, aiortc.rtp.RtcpByePacket):
            await handle_rtcp(packet)

    r._handle_rtcp_packet = _handle_rtcp_packet
    if on_rtp is None and frames_wanted is None:
        return
    handle = r._handle_rtp_packet
    lean = lean_handler(receiver) if frames_wanted is not None else None
    assembling = [True]   # whether aiortc's jitter buffer has been fed (the last packet went to `handle`)

    def handle_now(packet: Any, arrival_time_ms: int) -> Optional[Coroutine[Any, Any, None]]:
        """The packet's handling as a plain call; what is left to await (aiortc's handler, while
        frames are wanted) is returned. DirectReceiver (direct.py) calls this directly."""
        if on_rtp is not None and on_rtp(packet) is False:   # refused (a stream the m-line does not carry)
            return None
        if lean is None or frames_wanted():    # type: ignore[misc]
            if not assembling[0]:
                _empty_jitter_buffer(r)        # what it held predates the lean stretch
                assembling[0] = True
            return handle(packet, arrival_time_ms)
        if assembling[0]:
            _empty_jitter_buffer(r)            # frees what a recorder's stretch left half-assembled
            assembling[0] = False
        lean(packet, arrival_time_ms)
        return None

    async def _handle_rtp_packet(packet: Any, arrival_time_ms: int) -> None:
        rest = handle_now(packet, arrival_time_ms)
        if rest is not None:
            await rest

    r._handle_rtp_packet = _handle_rtp_packet
    r.__dict__[HANDLE_NOW] = handle_now


def rtp_only(receiver: RTCRtpReceiver, on_rtp: Callable[[Any], None]) -> None:
    """Hand every RTP packet to `on_rtp(packet)` and do nothing else with it: no
    jitter buffer, depayloading, frames or decoder (the benchmark's light
    subscribers). Call where `tap_receiver` may be called."""
    tap_receiver(receiver, on_frame=lambda codec, data, timestamp: None, on_end=lambda: None)

    async def _handle_rtp_packet(packet: Any, arrival_time_ms: int) -> None:
        on_rtp(packet)

    r: Any = receiver
    r._handle_rtp_packet = _handle_rtp_packet


def declared_ssrcs(receiver: RTCRtpReceiver) -> tuple[frozenset[int], frozenset[int]]:
    """(media SSRCs, RTX SSRCs) the last negotiation of a tapped receiver's m-line declared
    (``a=ssrc`` / ``a=ssrc-group:FID``); empty sets when it declared none."""
    return getattr(receiver, DECLARED, (frozenset(), frozenset()))


def _empty_jitter_buffer(r: Any) -> None:
    buffer = getattr(r, _R + "jitter_buffer")
    setattr(r, _R + "jitter_buffer", _JitterBuffer(buffer.capacity, prefetch=buffer._prefetch,
                                                   is_video=buffer._is_video))


def reset_jitter_buffer(receiver: RTCRtpReceiver) -> None:
    """Forget what aiortc buffered for the m-line (and, for video, the NACK state).

    When a stream restarts (a new SSRC, or sending again after `inactive`),
    aiortc's jitter buffer would otherwise wait for packets of the old stream
    that never come and hold every new frame back until 512 packets arrived."""
    r: Any = receiver
    if receiver.track.kind == "video":
        setattr(r, _R + "jitter_buffer", _JitterBuffer(capacity=512, is_video=True))
        setattr(r, _R + "nack_generator", _NackGenerator())
    else:
        setattr(r, _R + "jitter_buffer", _JitterBuffer(16, prefetch=4))


def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Schedule an RTCP PLI to the publisher's media SSRC."""
    asyncio.ensure_future(receiver._send_rtcp_pli(media_ssrc))


def unwrap_rtx(packet: Any, *, payload_type: int, ssrc: int) -> Any:
    """The original packet carried by an RTX retransmission (RFC 4588)."""
    return aiortc.rtp.unwrap_rtx(packet, payload_type=payload_type, ssrc=ssrc)
