"""Send side (subscribe connections): sender start, NACK answers, SR reports, the
direct send on the ICE pair, keyframe requests.

The packet path (media/forward/packet.py) learns a sender's negotiated
parameters (`on_send_started`), answers its NACKs (`answer_nacks`), feeds its
RTCP sender reports (`report_sent`), and sends each SRTP-protected packet
synchronously on the nominated ICE pair (`send_rtp_now`): the steps of
RTCDtlsTransport._send_rtp -> RTCIceTransport._send -> aioice
Connection.sendto, without five coroutine hops per packet.
`on_keyframe_request` routes a subscriber's PLI/FIR. Probed by
`probe.check_aiortc`.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Optional

import aiortc
import aiortc.rtcdtlstransport
import pylibsrtp
from aiortc import RTCRtpSender

from . import srtp_c

_S = "_RTCRtpSender__"  # name-mangled private attributes of RTCRtpSender

_DTLS_CONNECTED = aiortc.rtcdtlstransport.State.CONNECTED


def sender_ssrc(sender: RTCRtpSender) -> int:
    return sender._ssrc


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


def sender_rtt(sender: RTCRtpSender) -> Optional[float]:
    """The round trip (seconds) aiortc measured from the subscriber's receiver reports, if any yet."""
    return sender.__dict__.get(_S + "rtt")


def answer_nacks(sender: RTCRtpSender, retransmit: Callable[[int], Any]) -> None:
    """`await retransmit(sequence_number)` for each packet the subscriber NACKs."""
    sender._retransmit = retransmit  # type: ignore[method-assign]


_PACKETS, _OCTETS, _RTP_TS, _NTP_TS = (_S + n for n in ("packet_count", "octet_count", "rtp_timestamp", "ntp_timestamp"))


def report_sent(sender: RTCRtpSender, packets: int, octets: int, rtp_timestamp: int, ntp_timestamp: int) -> None:
    """What the sender's next RTCP sender report says (RFC 3550 §6.4.1)."""
    d = sender.__dict__
    d[_PACKETS] = packets
    d[_OCTETS] = octets
    d[_RTP_TS] = rtp_timestamp
    d[_NTP_TS] = ntp_timestamp


def send_rtp_now(dtls: aiortc.RTCDtlsTransport, data: bytes) -> bool:
    """SRTP-protect one RTP packet and send it synchronously on the nominated ICE
    pair; False (nothing sent) unless DTLS is connected and a pair is nominated.
    The hot path binds `rtp_send_function` once per transport instead."""
    if dtls._state != _DTLS_CONNECTED:
        return False
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        return False
    pair.protocol.transport.sendto(dtls._tx_srtp.protect(data), pair.remote_addr)
    return True


RtpSend = Callable[[int, int, int, int, bytes, bytes], Optional[bool]]
"""send(marker_pt, seq, timestamp, ssrc, extensions, payload) -> sent: one RTP packet built from
its parts (`marker_pt` is the header's second byte), SRTP-protected and sent. True: sent; None: no
transport to send on (DTLS not connected, no nominated pair); False: SRTP or the kernel refused it
(a full socket buffer)."""

_HEADER = struct.Struct("!BBHII")


def rtp_send_function(dtls: aiortc.RTCDtlsTransport) -> RtpSend:
    """`send_rtp_now` bound to one DTLS transport, taking the packet in parts: the path NACK answers
    (and the Python copies, media/forward/copy.py) send on. The look-ups that never change for the
    transport (its ICE connection's nominated-pair table) are done once; the DTLS state and the
    nominated pair are read at each call (DTLS may not be connected yet, ICE may nominate another
    pair or close). Where the C module was built this is its `Route.send` (`rtp_route`)."""
    route = rtp_route(dtls)
    if route is not None:
        return route.send
    nominated = dtls.transport._connection._nominated
    pack = _HEADER.pack
    send_data = _python_send(dtls, nominated)

    def send(marker_pt: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> Optional[bool]:
        return send_data(pack(0x90 if ext else 0x80, marker_pt, seq, ts, ssrc) + ext + payload)

    return send


def rtp_route(dtls: aiortc.RTCDtlsTransport) -> Any:
    """The C module's `Route` for one DTLS transport (None where it was not built): per packet it
    checks the DTLS state, the nominated pair and the SRTP context as `send_rtp_now` does, makes one
    `Target` per (pair, SRTP session) and sends through it (libsrtp's `srtp_protect` on pylibsrtp's
    own context, `sendto()` on the pair's socket); a pair no Target can address goes the Python way."""
    if _Route is None:
        return None
    nominated = dtls.transport._connection._nominated
    return _Route(dtls, nominated, _DTLS_CONNECTED, _target, _python_send(dtls, nominated))


def report_slots(sender: RTCRtpSender) -> tuple[dict, str, str, str, str]:
    """Where `report_sent` writes, for the C copies: (the sender's __dict__, its packet count,
    octet count, RTP timestamp and NTP timestamp keys)."""
    return (sender.__dict__, _PACKETS, _OCTETS, _RTP_TS, _NTP_TS)


def _python_send(dtls: aiortc.RTCDtlsTransport, nominated: dict) -> Callable[[bytes], Optional[bool]]:
    """send(plain RTP packet) -> True, None without a transport, False when SRTP refuses it (an index
    it already protected, a packet too long): pylibsrtp and uvloop's sendto, as the C Target counts."""

    def send(data: bytes) -> Optional[bool]:
        if dtls._state != _DTLS_CONNECTED:
            return None
        pair = nominated.get(1)
        if pair is None:
            return None
        try:
            protected = dtls._tx_srtp.protect(data)
        except (pylibsrtp.Error, ValueError):
            return False
        pair.protocol.transport.sendto(protected, pair.remote_addr)
        return True

    return send


def _target(pair: Any, session: Any) -> Any:
    """The C send target for one nominated pair and SRTP session (it keeps both alive), or None
    where it cannot address the pair (an IPv6 address with a zone, a socket without a descriptor):
    that pair is sent the Python way."""
    transport = pair.protocol.transport
    host, port = pair.remote_addr[:2]
    sock = transport.get_extra_info("socket")
    if sock is None or session is None:
        return None
    try:
        return _Target(sock.fileno(), host, port, srtp_c.context_address(session), srtp_c.PROTECT,
                       (session, transport))
    except ValueError:
        return None


_Target = srtp_c.Target
_Route = srtp_c.Route


def send_path() -> str:
    """Which path forwards packets: "c" (media/aiortc_compat/_srtpsend.c) or "python"."""
    return "python" if _Target is None else "c"
