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
