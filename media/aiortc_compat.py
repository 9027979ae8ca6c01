"""Every private aiortc / aioice access of the SFU, behind small named functions.

aiortc has no API for forwarding encoded media, so the SFU reaches into its
internals (and aioice's): this module is the only place that does. Outside it,
media/ uses only names exported by the `aiortc` and `aioice` packages
themselves (tests/unit/test_media_aiortc_compat.py checks that).
`check_aiortc()` probes every internal used here and is called once at
`MediaService` start; it fails with the list of what is missing and the
supported range, `SUPPORTED` (pinned in pyproject.toml).

Receive side (publish connections). aiortc's `RTCRtpReceiver.receive()`
starts a decoder thread, and `_handle_rtp_packet` puts each reassembled frame
`(codec, JitterFrame)` into `__decoder_queue`. `tap_receiver()` replaces
`receive()` on one receiver instance with the same set-up minus the thread,
and puts a sink object in place of the queue: complete frames go straight to a
callback on the event loop, no decoder is created, no remote-track queue
fills. The timestamp mapper can be replaced too, so frames keep their
(unwrapped) RTP timestamps. `reset_jitter_buffer()` drops what aiortc buffered
when a stream restarts; `send_pli()` asks the publisher for a keyframe.

Send side (subscribe connections). The packet path (media/forward/packet.py)
learns a sender's negotiated parameters (`on_send_started`), answers its NACKs
(`answer_nacks`), feeds its RTCP sender reports (`report_sent`), and sends each
SRTP-protected packet synchronously on the nominated ICE pair
(`send_rtp_now`): the steps of RTCDtlsTransport._send_rtp ->
RTCIceTransport._send -> aioice Connection.sendto, without five coroutine
hops per packet. `on_keyframe_request` routes a subscriber's PLI/FIR.

Negotiation and ICE: a transceiver's negotiated codecs, a sender's msid stream
id, a track's id, whether a peer connection is closed, the aioice connections
of a peer connection (media/ice.py adds candidates there), SDP parsing.

Pre-encoded sending (`send_preencoded`): aiortc's sender calls
`encoder.pack(frame)` for anything that is not an `av.Frame`; presetting its
encoder with a packer (RTP payloading only, with aiortc's packetizers) lets an
aiortc peer send `EncodedFrame`s. The SFU does not use it; its aiortc test
clients and the benchmark do.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import re
import types
from typing import Any, Callable, Iterable, Optional, Protocol

import aioice
import aioice.candidate
import aioice.ice
import aiortc
import aiortc.codecs.h264
import aiortc.codecs.vpx
import aiortc.jitterbuffer
import aiortc.mediastreams
import aiortc.rtcdtlstransport
import aiortc.rtcicetransport
import aiortc.rtcpeerconnection
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import aiortc.rtcrtptransceiver
import aiortc.rtp
import aiortc.sdp
import structlog
from aiortc import RTCPeerConnection, RTCRtpCodecParameters, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver

log = structlog.get_logger("media.aiortc_compat")

SUPPORTED = "aiortc>=1.16,<1.17 with aioice>=0.13,<0.14"
_AIORTC_RANGE = ((1, 16), (1, 17))
_AIOICE_RANGE = ((0, 13), (0, 14))

# name-mangled private attributes
_R = "_RTCRtpReceiver__"
_S = "_RTCRtpSender__"
_PC = "_RTCPeerConnection__"

_DTLS_CONNECTED = aiortc.rtcdtlstransport.State.CONNECTED
_JitterBuffer = aiortc.jitterbuffer.JitterBuffer
_NackGenerator = aiortc.rtcrtpreceiver.NackGenerator
_Vp8Encoder = aiortc.codecs.vpx.Vp8Encoder
_H264Encoder = aiortc.codecs.h264.H264Encoder

SessionDescription = aiortc.sdp.SessionDescription  # parsed SDP (media/sources.py)
Candidate = aioice.Candidate


class TimestampMapper(Protocol):
    """What aiortc's receiver calls on each complete frame's RTP timestamp."""

    def map(self, timestamp: int) -> int: ...


class AiortcIncompatible(RuntimeError):
    """The installed aiortc/aioice lack internals the SFU hooks (see `check_aiortc`)."""


# --- receive side -----------------------------------------------------------------


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
    on_rtp: Optional[Callable[[Any], None]] = None,
    timestamps: Optional[TimestampMapper] = None,
) -> None:
    """Make `receiver` hand complete encoded frames to `on_frame(codec, data,
    timestamp)` on the event loop (no decoder thread); `on_end()` when it stops.

    Call before aiortc calls `receiver.receive()` (right after
    setRemoteDescription). `on_rtp(packet)` sees every RTP packet (an aiortc
    RtpPacket) before aiortc's own handling. `timestamps` replaces aiortc's
    mapper (which rebases each stream to zero) for the receiver's lifetime.
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
            on_rtp(packet)
            await handle(packet, arrival_time_ms)

        r._handle_rtp_packet = _handle_rtp_packet


def rtp_only(receiver: RTCRtpReceiver, on_rtp: Callable[[Any], None]) -> None:
    """Hand every RTP packet to `on_rtp(packet)` and do nothing else with it: no
    jitter buffer, depayloading, frames or decoder (the benchmark's light
    subscribers). Call where `tap_receiver` may be called."""
    tap_receiver(receiver, on_frame=lambda codec, data, timestamp: None, on_end=lambda: None)

    async def _handle_rtp_packet(packet: Any, arrival_time_ms: int) -> None:
        on_rtp(packet)

    r: Any = receiver
    r._handle_rtp_packet = _handle_rtp_packet


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


# --- send side --------------------------------------------------------------------


def sender_ssrc(sender: RTCRtpSender) -> int:
    return sender._ssrc


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """The msid stream id the subscriber sees (subscribe offers use the publisher's id)."""
    sender._stream_id = stream_id


def set_track_id(track: aiortc.MediaStreamTrack, track_id: str) -> None:
    """The msid track id; set before the track is given to a sender."""
    track._id = track_id  # type: ignore[attr-defined]


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Route the subscriber's PLI/FIR for this sender to `callback`."""
    sender._send_keyframe = callback  # type: ignore[method-assign]


def on_send_started(sender: RTCRtpSender, callback: Callable[[Any], None]) -> None:
    """Call `callback(parameters)` (RTCRtpSendParameters) once aiortc has started the sender."""
    original = sender.send

    async def send(parameters: Any) -> None:
        await original(parameters)
        callback(parameters)

    sender.send = send  # type: ignore[method-assign]


def answer_nacks(sender: RTCRtpSender, retransmit: Callable[[int], Any]) -> None:
    """`await retransmit(sequence_number)` for each packet the subscriber NACKs."""
    sender._retransmit = retransmit  # type: ignore[method-assign]


def report_sent(sender: RTCRtpSender, packets: int, octets: int, rtp_timestamp: int, ntp_timestamp: int) -> None:
    """What the sender's next RTCP sender report says (RFC 3550 §6.4.1)."""
    s: Any = sender
    setattr(s, _S + "packet_count", packets)
    setattr(s, _S + "octet_count", octets)
    setattr(s, _S + "rtp_timestamp", rtp_timestamp)
    setattr(s, _S + "ntp_timestamp", ntp_timestamp)


def send_rtp_now(dtls: aiortc.RTCDtlsTransport, data: bytes) -> bool:
    """SRTP-protect one RTP packet and send it synchronously on the nominated ICE
    pair; False (nothing sent) unless DTLS is connected and a pair is nominated."""
    if dtls._state != _DTLS_CONNECTED:
        return False
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        return False
    pair.protocol.transport.sendto(dtls._tx_srtp.protect(data), pair.remote_addr)
    return True


# --- negotiation -------------------------------------------------------------------


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs (payload types) of the transceiver's m-line in the answer being made."""
    return transceiver._codecs


def set_negotiated_codecs(transceiver: RTCRtpTransceiver, codecs: list[RTCRtpCodecParameters]) -> None:
    """Narrow what the next answer accepts on this m-line (after setRemoteDescription)."""
    transceiver._codecs = codecs


def is_closed(pc: RTCPeerConnection) -> bool:
    return bool(getattr(pc, _PC + "isClosed", None))


def parse_sdp(text: str) -> SessionDescription:
    return aiortc.sdp.SessionDescription.parse(text)


def parse_candidate(text: str) -> aiortc.RTCIceCandidate:
    """'candidate:...' SDP attribute value (without the prefix) -> RTCIceCandidate."""
    return aiortc.sdp.candidate_from_sdp(text)


# --- ICE ------------------------------------------------------------------------------


def ice_connections(pc: RTCPeerConnection) -> list[aioice.Connection]:
    """The aioice connections behind the peer connection's ICE transports."""
    return [t.iceGatherer._connection for t in list(getattr(pc, _PC + "iceTransports"))]


def host_addresses() -> list[str]:
    """The IPv4 addresses aioice gathers host candidates on (it skips loopback)."""
    return aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)


def host_candidate(component: int, host: str, port: int, priority_offset: int = 0) -> Candidate:
    """A UDP host candidate as aioice makes them (`priority_offset` lowers its priority)."""
    return Candidate(
        foundation=aioice.candidate.candidate_foundation("host", "udp", host),
        component=component,
        transport="udp",
        priority=aioice.candidate.candidate_priority(component, "host") - priority_offset,
        host=host,
        port=port,
        type="host",
    )


# --- pre-encoded sending (aiortc peers of tests and benchmarks) -------------------------


class _Packer:
    """What aiortc's sender calls `pack()` on: RTP payloads for one EncodedFrame."""

    def pack(self, frame: Any) -> tuple[list[bytes], int]:
        return [frame.data], frame.timestamp


class _Vp8Packer(_Packer):
    def __init__(self) -> None:
        self.picture_id = random.randint(0, (1 << 15) - 1)

    def pack(self, frame: Any) -> tuple[list[bytes], int]:
        payloads = vp8_payloads(frame.data, self.picture_id)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, frame.timestamp


class _H264Packer(_Packer):
    def pack(self, frame: Any) -> tuple[list[bytes], int]:
        return h264_payloads(frame.data), frame.timestamp


def vp8_payloads(frame: bytes, picture_id: int) -> list[bytes]:
    """aiortc's VP8 RTP payloads (RFC 7741) of one encoded frame."""
    return _Vp8Encoder._packetize(frame, picture_id)


def h264_payloads(annexb: bytes) -> list[bytes]:
    """aiortc's H.264 RTP payloads (RFC 6184: STAP-A, FU-A) of one Annex B access unit."""
    return _H264Encoder._packetize(_H264Encoder._split_bitstream(annexb))


def send_preencoded(sender: RTCRtpSender, codec_mime: str, on_keyframe: Callable[[], None]) -> None:
    """Let `sender` send the `EncodedFrame`s its track yields (VP8, H.264, or one
    payload per frame for audio), without an encoder; PLI/FIR call `on_keyframe`."""
    name = codec_mime.split("/")[-1].lower()
    packer = _Vp8Packer() if name == "vp8" else _H264Packer() if name == "h264" else _Packer()
    setattr(sender, _S + "encoder", packer)
    on_keyframe_request(sender, on_keyframe)


# --- the start-up probe ---------------------------------------------------------------


def _code_names(func: Any) -> set[str]:
    """Attribute and global names the function's code (and nested code) refers to."""
    func = getattr(func, "fget", func)
    code = getattr(inspect.unwrap(func), "__code__", None) if func is not None else None
    names: set[str] = set()
    stack = [code] if code is not None else []
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return names


def _short(name: str) -> str:
    return re.sub(r"^_[A-Za-z]+__", "__", name)


class _Probe:
    def __init__(self) -> None:
        self.missing: list[str] = []

    def has(self, owner: Any, attr: str, what: str) -> Any:
        value = inspect.getattr_static(owner, attr, None)
        if value is None:
            self.missing.append(f"{owner.__name__}.{_short(attr)} ({what})")
        return value

    def uses(self, owner: Any, method: str, names: Iterable[str], what: str) -> None:
        """`owner.method` (a function) still refers to every name in `names`."""
        func = self.has(owner, method, what)
        if func is None:
            return
        found = _code_names(func)
        for name in names:
            if name not in found:
                self.missing.append(f"{owner.__name__}.{method} no longer uses {_short(name)} ({what})")

    def params(self, func: Any, label: str, names: Iterable[str], what: str) -> None:
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            self.missing.append(f"{label} ({what})")
            return
        for name in names:
            if name not in signature.parameters:
                self.missing.append(f"{label} has no parameter {name!r} ({what})")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:2])


def check_aiortc() -> None:
    """Probe every aiortc/aioice internal this module uses; raise `AiortcIncompatible`
    naming each one that is missing, with the supported version range."""
    p = _Probe()
    Receiver, Sender = aiortc.rtcrtpreceiver.RTCRtpReceiver, aiortc.rtcrtpsender.RTCRtpSender
    tap = "tap_receiver"
    for method in ("receive", "_handle_rtp_packet", "_run_rtcp", "_send_rtcp_pli", "stop"):
        p.has(Receiver, method, tap if method != "_send_rtcp_pli" else "send_pli")
    p.uses(Receiver, "__init__", [_R + n for n in ("started", "codecs", "rtx_ssrc", "transport", "timestamp_mapper",
                                                   "jitter_buffer", "nack_generator", "decoder_queue")], tap)
    p.uses(Receiver, "receive", [_R + "started", _R + "rtcp_task", "_register_rtp_receiver", "_run_rtcp"], tap)
    p.uses(Receiver, "_handle_rtp_packet", [_R + n for n in ("codecs", "rtx_ssrc", "jitter_buffer", "nack_generator",
                                                             "timestamp_mapper", "decoder_queue", "decoder_thread")]
           + ["map", "put"], tap)
    p.uses(Receiver, "stop", [_R + "rtcp_task", _R + "stop_decoder"], tap)
    p.uses(Receiver, _R + "stop_decoder", [_R + "decoder_queue", _R + "decoder_thread", "put", "join"], tap)
    p.has(Receiver, "track", "reset_jitter_buffer")
    p.has(aiortc.rtcdtlstransport.RTCDtlsTransport, "_register_rtp_receiver", tap)
    p.uses(aiortc.jitterbuffer.JitterFrame, "__init__", ["data", "timestamp"], tap)
    p.params(aiortc.jitterbuffer.JitterBuffer, "JitterBuffer", ("capacity", "prefetch", "is_video"),
             "reset_jitter_buffer")
    p.params(aiortc.rtcrtpreceiver.NackGenerator, "NackGenerator", (), "reset_jitter_buffer")
    p.params(getattr(aiortc.rtp, "unwrap_rtx", None), "aiortc.rtp.unwrap_rtx", ("rtx", "payload_type", "ssrc"),
             "unwrap_rtx")

    for method in ("_send_keyframe", "_retransmit", "send", "_handle_rtcp_packet", "_run_rtcp", "_next_encoded_frame"):
        p.has(Sender, method, "packet path")
    p.uses(Sender, "__init__", ["_ssrc", "_stream_id", _S + "encoder"]
           + [_S + n for n in ("packet_count", "octet_count", "rtp_timestamp", "ntp_timestamp")], "packet path")
    p.uses(Sender, "_handle_rtcp_packet", ["_send_keyframe", "_retransmit"], "on_keyframe_request, answer_nacks")
    p.uses(Sender, "_run_rtcp", [_S + n for n in ("packet_count", "octet_count", "rtp_timestamp", "ntp_timestamp")],
           "report_sent")
    p.uses(Sender, "_next_encoded_frame", [_S + "encoder", "pack"], "send_preencoded")
    p.uses(Sender, "replaceTrack", ["_track_id", "id"], "set_track_id")
    p.uses(aiortc.mediastreams.MediaStreamTrack, "__init__", ["_id"], "set_track_id")
    p.uses(aiortc.mediastreams.MediaStreamTrack, "id", ["_id"], "set_track_id")
    p.uses(aiortc.rtcpeerconnection, "create_media_description_for_transceiver", ["_codecs", "_stream_id", "_track_id"],
           "negotiated_codecs, set_stream_id")

    # the direct send on the ICE pair (send_rtp_now)
    Dtls, Connection = aiortc.rtcdtlstransport.RTCDtlsTransport, aioice.ice.Connection
    direct = "send_rtp_now"
    p.uses(Dtls, "__init__", ["_state", "_tx_srtp"], direct)
    p.uses(Dtls, "_send_rtp", ["_state", "_tx_srtp", "protect", "transport", "_send"], direct)
    p.has(Dtls, "transport", direct)
    if not hasattr(aiortc.rtcdtlstransport.State, "CONNECTED"):
        p.missing.append(f"rtcdtlstransport.State.CONNECTED ({direct})")
    p.uses(aiortc.rtcicetransport.RTCIceTransport, "__init__", ["_connection", "_send", "send"], direct)
    p.uses(Connection, "__init__", ["_nominated"], direct)
    p.uses(Connection, "send", ["sendto"], direct)
    p.uses(Connection, "sendto", ["_nominated", "protocol", "remote_addr", "send_data"], direct)
    p.uses(aioice.ice.CandidatePair, "__init__", ["protocol"], direct)
    p.has(aioice.ice.CandidatePair, "remote_addr", direct)
    p.uses(aioice.ice.StunProtocol, "send_data", ["transport", "sendto"], direct)

    p.uses(aiortc.rtcrtptransceiver.RTCRtpTransceiver, "__init__", ["_codecs"], "negotiated_codecs")
    p.uses(aiortc.rtcpeerconnection.RTCPeerConnection, "__init__", [_PC + "isClosed", _PC + "iceTransports"],
           "is_closed, ice_connections")
    p.uses(aiortc.rtcicetransport.RTCIceGatherer, "__init__", ["_connection"], "ice_connections")
    p.has(aiortc.rtcicetransport.RTCIceTransport, "iceGatherer", "ice_connections")
    p.uses(Connection, "gather_candidates", ["get_component_candidates"], "media/ice.py candidate wrapper")
    p.params(getattr(Connection, "get_component_candidates", None), "Connection.get_component_candidates",
             ("component", "addresses", "timeout"), "media/ice.py candidate wrapper")
    p.params(getattr(aioice.ice, "get_host_addresses", None), "aioice.ice.get_host_addresses",
             ("use_ipv4", "use_ipv6"), "host_addresses")
    p.params(getattr(aioice.candidate, "candidate_foundation", None), "aioice.candidate.candidate_foundation",
             ("candidate_type", "candidate_transport", "base_address"), "host_candidate")
    p.params(getattr(aioice.candidate, "candidate_priority", None), "aioice.candidate.candidate_priority",
             ("candidate_component", "candidate_type"), "host_candidate")
    p.params(getattr(aiortc.sdp, "candidate_from_sdp", None), "aiortc.sdp.candidate_from_sdp", ("sdp",),
             "parse_candidate")
    _probe_sdp(p)
    _probe_packet(p)

    p.has(aiortc.codecs.vpx.Vp8Encoder, "_packetize", "send_preencoded")
    p.has(aiortc.codecs.h264.H264Encoder, "_packetize", "send_preencoded")
    p.has(aiortc.codecs.h264.H264Encoder, "_split_bitstream", "send_preencoded")

    versions = f"aiortc {aiortc.__version__}, aioice {aioice.__version__}"
    if p.missing:
        raise AiortcIncompatible(
            f"the SFU's hooks into aiortc/aioice internals do not fit the installed {versions} "
            f"(supported: {SUPPORTED}); missing or changed: " + "; ".join(p.missing)
        )
    lo, hi = _AIORTC_RANGE
    ilo, ihi = _AIOICE_RANGE
    if not (lo <= _version(aiortc.__version__) < hi and ilo <= _version(aioice.__version__) < ihi):
        log.warning("aiortc version not tested", installed=versions, supported=SUPPORTED)


_PROBE_SDP = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=msid:s t\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
)


def _probe_sdp(p: _Probe) -> None:
    """media/sources.py reads these fields of aiortc's parsed SDP."""
    try:
        media = parse_sdp(_PROBE_SDP).media[0]
        codec = media.rtp.codecs[0]
        ok = (media.kind, media.port, media.direction, media.msid, media.rtp.muxId, codec.mimeType,
              codec.parameters) == ("video", 9, "sendonly", "s t", "0", "video/VP8", {})
    except Exception:
        ok = False
    if not ok:
        p.missing.append("aiortc.sdp.SessionDescription fields kind/port/direction/msid/rtp.muxId/rtp.codecs "
                         "(parse_sdp)")


def _probe_packet(p: _Probe) -> None:
    """media/publication.py and media/forward/packet.py read these fields of aiortc's RtpPacket."""
    try:
        packet = aiortc.rtp.RtpPacket(payload_type=96, marker=1, sequence_number=7, timestamp=9, ssrc=5,
                                      payload=b"x")
        ok = (packet.payload_type, packet.marker, packet.sequence_number, packet.timestamp, packet.ssrc,
              packet.payload, packet.extensions.audio_level) == (96, 1, 7, 9, 5, b"x", None)
    except Exception:
        ok = False
    if not ok:
        p.missing.append("aiortc.rtp.RtpPacket fields payload_type/marker/sequence_number/timestamp/ssrc/payload/"
                         "extensions.audio_level (tap_receiver on_rtp)")
