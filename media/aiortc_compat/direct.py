"""SRTP and SRTCP handled as the datagram arrives, not through a queue and a task later.

aioice hands every datagram that does not parse as STUN to ``Connection.data_received``, which
queues it; aiortc's DTLS transport has one task that awaits that queue (``__run`` →
``_recv_next``). So each media packet costs a failed STUN parse (an exception), a queue put, a
future's wake-up and a task step before aiortc even unprotects it: for every packet a publisher
sends, and for every RTCP packet of every subscriber (receiver reports, REMB, NACK). Handled here,
the 1 → 300 fan-out took a quarter less CPU (0.45-0.52 cores against 0.60-0.70) and rooms of
4 × 4 about 5 % less (issue 17; docs/architecture.md "Paths: ... an RTP packet", step 1).

``receive_directly(pc)`` marks the ICE connection of each of the peer connection's DTLS transports
with a handler, which the datagram guard (``gathering._guard``) calls for a datagram from the ICE
peer whose first byte says RTP/RTCP (RFC 7983: 128–191). Once the DTLS transport is connected and
has its SRTP keys, the handler unprotects the datagram (the C extension's ``Unprotect`` through
``srtp_c.unprotect_functions``, else pylibsrtp; a datagram either refuses is dropped) and runs
aiortc's own ``_handle_rtcp_data`` at once, or for RTP what ``_handle_rtp_data`` does (parse, route), then the receiver's handler: for
a receiver `tap_receiver` tapped, its plain-function handler (``HANDLE_NOW``), no coroutine (rooms
of 4 × 4 at 64 streams: 44-49 → 39-41 µs per packet). aiortc's handlers are coroutines whose awaits,
on aiortc's packet path, end in synchronous sends: ``run_now`` steps one to its end in place, and hands one that does suspend to a
task that finishes it (`_resume`). Before the keys exist, and always for STUN and DTLS, datagrams
take aioice's way, as before. aiortc's counters (``getStats`` transport packets and bytes) are
kept. Probed by ``probe.check_aiortc``.
"""

from __future__ import annotations

import asyncio
import struct
import time
import types
from typing import Any, Coroutine

import aiortc.rtcdtlstransport
import aiortc.rtp
import structlog
from aiortc import RTCPeerConnection

from .srtp_c import Unprotecting, unprotect_functions

log = structlog.get_logger("media.aiortc_compat")

DIRECT = "antechamber_direct_srtp"   # on an aioice Connection: its DTLS transport's handler
_D = "_RTCDtlsTransport__"
_RX_BYTES, _RX_PACKETS = _D + "rx_bytes", _D + "rx_packets"
_CONNECTED = aiortc.rtcdtlstransport.State.CONNECTED
_is_rtcp = aiortc.rtp.is_rtcp
_parse_rtp = aiortc.rtp.RtpPacket.parse
_time = time.time
_NTP_OFFSET = 2208988800   # seconds from aiortc's NTP_EPOCH (1900) to the Unix epoch
HANDLE_NOW = "antechamber_handle_now"   # on a tapped receiver: its synchronous packet handler


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Go on with a coroutine that `run_now` started and that suspended on `yielded`."""
    while True:
        try:
            yield yielded
        except BaseException as exc:   # the task was cancelled (the loop is closing): pass it in
            try:
                yielded = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            yielded = coro.send(None)
        except StopIteration:
            return


_failures = [0]


def _failed() -> None:
    """Log a failure of aiortc's handling: the first with its traceback, then one line per 1,000
    (a packet that makes it fail may come again and again; it authenticated, so it is a peer's)."""
    _failures[0] += 1
    n = _failures[0]
    if n == 1:
        log.exception("direct SRTP handling failed")
    elif n % 1000 == 0:
        log.warning("direct SRTP handling failed again", failures=n)


async def _finish(coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
    try:
        await _resume(coro, yielded)
    except Exception:
        _failed()


def run_now(coro: Coroutine[Any, Any, Any]) -> bool:
    """Run `coro` until it ends or first suspends; a suspended one is finished by a task. True when
    it ended in place. An exception is logged (aiortc's own task would have died of it)."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return True
    except Exception:
        _failed()
        return True
    asyncio.ensure_future(_finish(coro, yielded))
    return False


class DirectReceiver:
    """The handler of one DTLS transport's SRTP/SRTCP datagrams (module docstring)."""

    __slots__ = ("dtls", "packets", "suspended", "_session", "_unprotect_rtp", "_unprotect_rtcp")

    def __init__(self, dtls: Any) -> None:
        self.dtls = dtls
        self._session: Any = None                          # the receive SRTP session the two below are of
        self._unprotect_rtp: Unprotecting = _refuse
        self._unprotect_rtcp: Unprotecting = _refuse
        self.packets = 0      # datagrams handled here (the rest took aioice's queue)
        self.suspended = 0    # of which aiortc's handling suspended and a task finished it

    def __call__(self, data: bytes) -> bool:
        """Handle one datagram now; False when it must take aioice's way (no SRTP keys yet)."""
        dtls = self.dtls
        srtp = dtls._rx_srtp
        if srtp is None or dtls._state is not _CONNECTED:
            return False
        d = dtls.__dict__
        d[_RX_BYTES] += len(data)
        d[_RX_PACKETS] += 1
        self.packets += 1
        if srtp is not self._session:   # keys at last (or new keys): bind their unprotect once
            self._session = srtp
            self._unprotect_rtp, self._unprotect_rtcp = unprotect_functions(srtp)
        rtcp = _is_rtcp(data)
        plain = self._unprotect_rtcp(data) if rtcp else self._unprotect_rtp(data)
        if plain is None:
            return True   # as aiortc: not authentic, a replay, malformed or too long: dropped
        try:
            if rtcp:
                coro = dtls._handle_rtcp_data(plain)
            else:
                coro = self._rtp(plain, int((_time() + _NTP_OFFSET) * 1000))   # aiortc's clock.current_ms()
                if coro is None:
                    return True
        except Exception:
            _failed()
            return True
        if not run_now(coro):
            self.suspended += 1
        return True

    def _rtp(self, data: bytes, arrival_time_ms: int) -> Coroutine[Any, Any, Any] | None:
        """aiortc's `_handle_rtp_data` (parse, route) in place; a receiver tapped by
        `tap_receiver` is handed the packet by a plain call (`HANDLE_NOW`), and only what it
        returns (aiortc's assembling handler, while a recorder wants frames) is still a coroutine."""
        dtls = self.dtls
        try:
            packet = _parse_rtp(data, dtls._rtp_header_extensions_map)
        except (ValueError, struct.error):
            # as aiortc, a packet that does not parse is dropped; aiortc's parser raises struct.error
            # (which its own handler does not catch) for a header extension element of the wrong
            # length for its id (an abs-send-time of 2 bytes): a failure with a traceback, per packet
            return None
        receiver = dtls._rtp_router.route_rtp(packet)
        if receiver is None:
            return None
        now = receiver.__dict__.get(HANDLE_NOW)
        if now is None:
            return receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)
        return now(packet, arrival_time_ms)


def _refuse(data: bytes) -> None:
    return None


def receive_directly(pc: RTCPeerConnection) -> None:
    """Mark the ICE connection of each DTLS transport of `pc` with its `DirectReceiver`
    (idempotent; call again after transceivers are added)."""
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        connection = dtls.transport.iceGatherer._connection
        if DIRECT not in connection.__dict__:
            connection.__dict__[DIRECT] = DirectReceiver(dtls)


def direct_receiver(connection: Any) -> DirectReceiver | None:
    """The connection's `DirectReceiver`, or None (the datagram guard inlines this lookup)."""
    return connection.__dict__.get(DIRECT)
