"""The start-up probe: `check_aiortc()` checks every aiortc/aioice internal the
other modules of this package use, and is called once at `MediaService` start;
it fails (`AiortcIncompatible`) with the list of what is missing and the
supported range, `SUPPORTED` (pinned in pyproject.toml). A new private access
anywhere in the package gets its line here.
"""

from __future__ import annotations

import inspect
import re
import types
from typing import Any, Iterable

import aioice
import aioice.candidate
import aioice.ice
import aioice.turn
import aiortc
import aiortc.clock
import aiortc.codecs.h264
import aiortc.codecs.vpx
import aiortc.jitterbuffer
import aiortc.mediastreams
import aiortc.rate
import aiortc.rtcdtlstransport
import aiortc.rtcicetransport
import aiortc.rtcpeerconnection
import aiortc.rtcrtpparameters
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import aiortc.rtcrtptransceiver
import aiortc.rtp
import aiortc.sdp
import pylibsrtp
import structlog

from . import addresses as _addresses
from .consent import probe_consent
from .direct import _D as _DTLS
from .negotiation import _PC, parse_sdp
from .receive import _R
from .send import _S, send_path

log = structlog.get_logger("media.aiortc_compat")

SUPPORTED = "aiortc>=1.16,<1.17 with aioice>=0.13,<0.14"
_AIORTC_RANGE = ((1, 16), (1, 17))
_AIOICE_RANGE = ((0, 13), (0, 14))


class AiortcIncompatible(RuntimeError):
    """The installed aiortc/aioice lack internals the SFU hooks (see `check_aiortc`)."""


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
    """Probe every aiortc/aioice internal this package uses; raise `AiortcIncompatible`
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
    p.uses(Receiver, "_handle_rtp_packet", [_R + n for n in ("remote_bitrate_estimator", "active_ssrc", "remote_streams",
                                                             "rtx_ssrc", "nack_generator", "rtcp_ssrc")]
           + ["_enabled", "_send_rtcp", "_send_rtcp_nack", "StreamStatistics", "unwrap_rtx", "is_rtx", "missing"],
           "lean_handler")
    p.uses(aiortc.rate.OveruseEstimator, "update_min_frame_period", ["ts_delta_hist", "MIN_FRAME_PERIOD_HISTORY_LENGTH"],
           "quick_min_frame_period")
    p.uses(aiortc.rate.OveruseEstimator, "update", ["update_min_frame_period"], "quick_min_frame_period")
    p.uses(aiortc.rate.RemoteBitrateEstimator, "__init__", ["estimator"], "quick_min_frame_period")
    p.uses(aiortc.rate.RemoteBitrateEstimator, "__init__", ["incoming_bitrate", "RateCounter"], "QuickRateCounter")
    p.uses(aiortc.rate.RemoteBitrateEstimator, "add", ["incoming_bitrate", "rate", "reset", "add"], "QuickRateCounter")
    # the compiled estimator (_remb.c) is called as aiortc's: by these names, and by position in this order
    add = ("arrival_time_ms", "abs_send_time", "payload_size", "ssrc")
    if tuple(inspect.signature(aiortc.rate.RemoteBitrateEstimator.add).parameters)[1:5] != add:
        p.missing.append(f"RemoteBitrateEstimator.add takes other than {add} (lean_handler)")
    for method, names in (("__init__", ["_window_size", "_scale", "reset"]),
                          ("reset", ["_buckets", "_origin_index", "_origin_ms", "_total"]),
                          ("_erase_old", ["_buckets", "_origin_index", "_origin_ms", "_total", "count", "value"])):
        p.uses(aiortc.rate.RateCounter, method, names, "QuickRateCounter")
    for module, name in ((aiortc.rtcrtpreceiver, "StreamStatistics"), (aiortc.codecs, "is_rtx"),
                         (aiortc.clock, "current_datetime"), (aiortc.rtp, "pack_remb_fci")):
        p.has(module, name, "lean_handler")
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
    p.uses(Sender, "_handle_rtcp_packet", [_S + "rtt"], "sender_rtt")
    p.uses(Sender, "_handle_rtcp_packet", ["unpack_remb_fci", "_ssrc"], "on_remb")
    p.uses(Receiver, "_handle_rtp_packet", ["_send_rtcp", "pack_remb_fci", _R + "rtcp_ssrc"], "override_remb, send_remb")
    for name in ("RtcpPsfbPacket", "RTCP_PSFB_APP", "pack_remb_fci", "unpack_remb_fci"):
        p.has(aiortc.rtp, name, "on_remb, override_remb, send_remb")
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
    _probe_closing(p)
    _probe_gathering(p)
    _probe_guards(p)
    _probe_direct(p)
    _probe_sdp(p)
    _probe_packet(p)
    _probe_certificates(p)
    _probe_send_only(p)
    probe_consent(p)
    p.uses(aioice.ice.Connection, "gather_candidates", ["get_host_addresses"], "remember_host_addresses")
    p.params(_addresses._AIOICE, "aioice.ice.get_host_addresses", ("use_ipv4", "use_ipv6"),
             "remember_host_addresses")

    p.has(aiortc.codecs.vpx.Vp8Encoder, "_packetize", "send_preencoded")
    p.has(aiortc.codecs.h264.H264Encoder, "_packetize", "send_preencoded")
    p.has(aiortc.codecs.h264.H264Encoder, "_split_bitstream", "send_preencoded")

    versions = f"aiortc {aiortc.__version__}, aioice {aioice.__version__}"
    if p.missing:
        raise AiortcIncompatible(
            f"the SFU's hooks into aiortc/aioice internals do not fit the installed {versions} "
            f"(supported: {SUPPORTED}); missing or changed: " + "; ".join(p.missing)
        )
    if send_path() != "c":   # still correct: 25-27 us per forwarded packet instead of 16-21 (bench/vs_janus.py)
        log.warning("forwarding through the Python send path, about 1.4 times the CPU per packet "
                    "(media/aiortc_compat/_srtpsend.c not built: gcc and the Python headers are needed; "
                    "or pylibsrtp's srtp_protect changed; or ANTECHAMBER_SEND_PATH=python)")
    lo, hi = _AIORTC_RANGE
    ilo, ihi = _AIOICE_RANGE
    if not (lo <= _version(aiortc.__version__) < hi and ilo <= _version(aioice.__version__) < ihi):
        log.warning("aiortc version not tested", installed=versions, supported=SUPPORTED)


def _probe_closing(p: _Probe) -> None:
    """closing.py: aiortc's connect task (found by its code) and aioice's consent task."""
    what = "close_peer_connection"
    p.uses(aiortc.rtcpeerconnection.RTCPeerConnection, _PC + "connect", [_PC + "isClosed", "start"], what)
    p.uses(aioice.ice.Connection, "connect", ["_query_consent_task", "query_consent"], what)
    p.uses(aioice.ice.Connection, "close", ["_query_consent_task"], what)


def _probe_gathering(p: _Probe) -> None:
    """gathering.py: host sockets of a port range in aioice's protocols, reflexive candidates as aioice asks."""
    what, Connection = "gather_in_range", aioice.ice.Connection
    p.uses(Connection, "__init__", ["_protocols", "stun_server"], what)
    p.uses(Connection, "get_component_candidates",
           ["create_datagram_endpoint", "StunProtocol", "local_candidate", "_protocols", "server_reflexive_candidate",
            "relayed_candidate", "turn_server"], what)
    p.uses(Connection, "_pair_remote_candidate", ["_protocols", "local_candidate"], what)
    p.uses(Connection, "close", ["_protocols"], what)
    p.params(getattr(aioice.ice, "StunProtocol", None), "aioice.ice.StunProtocol", ("receiver",), what)
    p.params(getattr(aioice.ice, "server_reflexive_candidate", None), "aioice.ice.server_reflexive_candidate",
             ("protocol", "stun_server"), what)
    if not isinstance(getattr(aioice.turn, "UDP_SOCKET_BUFFER_SIZE", None), int):
        p.missing.append(f"aioice.turn.UDP_SOCKET_BUFFER_SIZE ({what})")


def _probe_guards(p: _Probe) -> None:
    """What the hostile-packet guards hook: guard_datagrams (gathering.py), the RTCP BYE filter and
    declared_ssrcs (receive.py)."""
    what, Connection = "guard_datagrams", aioice.ice.Connection
    p.uses(Connection, "__init__", ["_protocols", "_check_list"], what)
    p.uses(Connection, "gather_candidates", ["get_component_candidates"], what)
    p.has(aioice.ice.StunProtocol, "datagram_received", what)
    p.uses(aioice.ice.StunProtocol, "datagram_received", ["parse_message", "data_received"], what)
    if not hasattr(getattr(aioice.ice.CandidatePair, "State", None), "FAILED"):
        p.missing.append(f"aioice.ice.CandidatePair.State.FAILED ({what})")
    p.uses(aiortc.rtcrtpreceiver.RTCRtpReceiver, "_handle_rtcp_packet", ["RtcpByePacket"], "tap_receiver BYE filter")
    p.uses(aiortc.rtcdtlstransport.RTCDtlsTransport, "_handle_rtcp_data", ["route_rtcp", "_handle_rtcp_packet"],
           "tap_receiver BYE filter")
    p.params(getattr(aiortc.rtcrtpparameters, "RTCRtpEncodingParameters", None),
             "aiortc.rtcrtpparameters.RTCRtpEncodingParameters", ("ssrc", "rtx"), "declared_ssrcs")


def _probe_direct(p: _Probe) -> None:
    """direct.py: what aiortc's DTLS transport does with an SRTP/SRTCP datagram, done as it arrives."""
    what, Dtls = "receive_directly", aiortc.rtcdtlstransport.RTCDtlsTransport
    p.uses(Dtls, "__init__", ["_rx_srtp", "_state", _DTLS + "rx_bytes", _DTLS + "rx_packets"], what)
    p.uses(Dtls, "_recv_next", ["_rx_srtp", "is_rtcp", "unprotect_rtcp", "_handle_rtcp_data", "unprotect",
                                "_handle_rtp_data", "current_ms"], what)
    p.params(getattr(Dtls, "_handle_rtp_data", None), "RTCDtlsTransport._handle_rtp_data", ("data", "arrival_time_ms"),
             what)
    p.uses(Dtls, "_handle_rtp_data", ["parse", "_rtp_header_extensions_map", "_rtp_router", "route_rtp",
                                      "_handle_rtp_packet"], what)
    p.uses(aiortc.clock, "current_ms", ["current_datetime", "NTP_EPOCH"], what)
    p.has(aiortc.rtcdtlstransport.State, "CONNECTED", what)
    p.uses(aiortc.rtcicetransport.RTCIceGatherer, "__init__", ["_connection"], what)
    for name, owner in (("is_rtcp", aiortc.rtp), ("current_ms", aiortc.clock), ("Error", pylibsrtp)):
        p.has(owner, name, what)


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


def _probe_certificates(p: _Probe) -> None:
    """certificates.py: the constructor takes its certificate from the module global, DTLS
    transports build their SSL context through the certificate."""
    what = "new_peer_connection"
    p.uses(aiortc.rtcpeerconnection.RTCPeerConnection, "__init__", ["RTCCertificate", "generateCertificate",
                                                                    _PC + "certificates"], what)
    if getattr(aiortc.rtcpeerconnection, "RTCCertificate", None) is not aiortc.rtcdtlstransport.RTCCertificate:
        p.missing.append(f"aiortc.rtcpeerconnection.RTCCertificate ({what})")
    p.uses(aiortc.rtcdtlstransport.RTCDtlsTransport, "start", ["_create_ssl_context"], what)
    p.has(aiortc.rtcdtlstransport.RTCCertificate, "_create_ssl_context", what)
    p.params(aiortc.rtcdtlstransport.RTCCertificate, "RTCCertificate", ("key", "cert"), what)


def _probe_send_only(p: _Probe) -> None:
    """idle.py: addTransceiver builds the receiver through the module global; the audio
    receiver is the light one and the kind is kept in the name-mangled attribute."""
    what = "add_send_only_transceiver"
    Receiver = aiortc.rtcrtpreceiver.RTCRtpReceiver
    if getattr(aiortc.rtcpeerconnection, "RTCRtpReceiver", None) is not Receiver:
        p.missing.append(f"aiortc.rtcpeerconnection.RTCRtpReceiver ({what})")
    p.uses(aiortc.rtcpeerconnection.RTCPeerConnection, _PC + "createTransceiver", ["RTCRtpReceiver"], what)
    p.uses(Receiver, "__init__", [_R + n for n in ("kind", "remote_bitrate_estimator", "nack_generator",
                                                   "decoder_queue", "decoder_error")], what)
    p.uses(Receiver, _R + "stop_decoder", [_R + "decoder_thread"], what)
    p.params(Receiver, "RTCRtpReceiver", ("kind", "transport"), what)
