"""REMB (receiver estimated maximum bitrate, RTCP PSFB fmt 15) in and out.

Subscribe side: aiortc's `RTCRtpSender._handle_rtcp_packet` hands a REMB that
names the sender's SSRC to its encoder; the SFU's senders have none, so
`on_remb(sender, callback)` wraps that method on one sender and calls
`callback(bitrate)` for each REMB (then lets aiortc handle the packet as before);
`off_remb(sender)` undoes it (the subscription ended: aiortc keeps the sender).
Publish side: aiortc's `RTCRtpReceiver._handle_rtp_packet` feeds its remote
bitrate estimator (abs-send-time) and sends the estimate as a REMB through
`receiver._send_rtcp`; `override_remb(receiver, rewrite)` wraps `_send_rtcp`
on one receiver so each REMB carries `rewrite(bitrate)` instead, and
`send_remb(receiver, bitrate, ssrcs)` sends one at once (when a subscriber's
estimate falls between the receiver's own). Probed by `probe.check_aiortc`.
aiortc has no transport-cc (TWCC).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable

import aiortc.rtp
import structlog
from aiortc import RTCRtpReceiver, RTCRtpSender

log = structlog.get_logger("media.aiortc_compat")

_R = "_RTCRtpReceiver__"
_PSFB = aiortc.rtp.RtcpPsfbPacket
_APP = aiortc.rtp.RTCP_PSFB_APP
_ORIGINAL = "antechamber_send_rtcp"


def on_remb(sender: RTCRtpSender, callback: Callable[[int], None]) -> None:
    """`callback(bitrate)` for each REMB the subscriber sends for this sender."""
    off_remb(sender)
    handle = sender._handle_rtcp_packet

    async def _handle_rtcp_packet(packet: Any) -> None:
        if isinstance(packet, _PSFB) and packet.fmt == _APP:
            try:
                bitrate, ssrcs = aiortc.rtp.unpack_remb_fci(packet.fci)
            except ValueError:
                return  # another application-layer feedback, or a malformed REMB: ignored
            if not ssrcs or sender._ssrc in ssrcs:
                try:
                    callback(bitrate)
                except Exception:
                    log.exception("REMB handler failed")
            return
        await handle(packet)

    sender._handle_rtcp_packet = _handle_rtcp_packet  # type: ignore[method-assign]


def off_remb(sender: RTCRtpSender) -> None:
    """The sender's REMBs go to aiortc alone again (its class's method)."""
    sender.__dict__.pop("_handle_rtcp_packet", None)


def override_remb(receiver: RTCRtpReceiver, rewrite: Callable[[int, list[int]], int]) -> None:
    """Each REMB the receiver sends carries `rewrite(bitrate, ssrcs)` instead of its estimate."""
    r: Any = receiver
    send = r._send_rtcp
    setattr(r, _ORIGINAL, send)

    async def _send_rtcp(packet: Any) -> None:
        if isinstance(packet, _PSFB) and packet.fmt == _APP:
            try:
                bitrate, ssrcs = aiortc.rtp.unpack_remb_fci(packet.fci)
                packet = _PSFB(fmt=_APP, ssrc=packet.ssrc, media_ssrc=packet.media_ssrc,
                               fci=aiortc.rtp.pack_remb_fci(int(rewrite(bitrate, ssrcs)), ssrcs))
            except Exception:
                log.exception("REMB rewrite failed")
        await send(packet)

    r._send_rtcp = _send_rtcp


def send_remb(receiver: RTCRtpReceiver, bitrate: int, ssrcs: Iterable[int]) -> bool:
    """Send one REMB now from the publish-side receiver; False when it cannot yet
    (no RTCP SSRC, no media SSRC known)."""
    r: Any = receiver
    rtcp_ssrc = getattr(r, _R + "rtcp_ssrc")
    ssrcs = sorted(set(ssrcs))
    if rtcp_ssrc is None or not ssrcs:
        return False
    send = getattr(r, _ORIGINAL, r._send_rtcp)
    packet = _PSFB(fmt=_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=aiortc.rtp.pack_remb_fci(int(bitrate), ssrcs))
    asyncio.ensure_future(send(packet))
    return True
