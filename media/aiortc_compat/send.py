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

from typing import Any, Callable

import aiortc
import aiortc.rtcdtlstransport
from aiortc import RTCRtpSender

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
    return rtp_send_function(dtls)(data)


def rtp_send_function(dtls: aiortc.RTCDtlsTransport) -> Callable[[bytes], bool]:
    """`send_rtp_now` bound to one DTLS transport, with the look-ups that never change for it (its
    ICE connection's nominated-pair table) done once: the forwarding hot path calls it per packet.
    The DTLS state, the SRTP context and the nominated pair are still read at each call (DTLS may
    not be connected yet, ICE may nominate another pair)."""
    nominated = dtls.transport._connection._nominated

    def send(data: bytes) -> bool:
        if dtls._state != _DTLS_CONNECTED:
            return False
        pair = nominated.get(1)
        if pair is None:
            return False
        pair.protocol.transport.sendto(dtls._tx_srtp.protect(data), pair.remote_addr)
        return True

    return send
