"""A publish m-line's per-packet handling while nothing wants its frames.

aiortc's `RTCRtpReceiver._handle_rtp_packet` does, per packet: feed the remote
bitrate estimator (and send its REMB), note the source, keep the RTCP receiver
statistics, unwrap RTX, feed the NACK generator (and send NACKs), depayload the
payload into a second copy, and put the packet in a jitter buffer that
reassembles frames. An SFU that only forwards packets needs the first five (the
publisher's congestion control lives on REMB, its loss-based control and RTT on
the receiver reports, its retransmissions on NACKs) and not the last two, which
cost ~7 % of the server's CPU in the rooms benchmark and, under loss, hold up to
512 packets (twice: payload and depayloaded copy) per video m-line.

`lean_handler(receiver)` returns a plain function that does the first five with
aiortc's own objects, in aiortc's order; what aiortc would await (a REMB, a
NACK) is scheduled as a task instead, so the function never suspends. The
estimator is aiortc's in C where the module was built (_remb.c: the same
results, 0.3 µs per packet against 7.5 in Python, bench/remb_cost.py), otherwise
aiortc's with two quicker parts (`QuickRateCounter`, `quick_min_frame_period`).
`tap_receiver` (receive.py) calls it instead of aiortc's handler while its
`frames_wanted()` says no (no recorder sink); frames are assembled by aiortc as
before whenever one is attached (docs/architecture.md, "Paths: ... an RTP
packet"). Probed by `probe.check_aiortc`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import aiortc.clock
import aiortc.codecs
import aiortc.rate
import aiortc.rtcrtpreceiver
import aiortc.rtp
from aiortc import RTCRtpReceiver

from .srtp_c import compiled_module

_R = "_RTCRtpReceiver__"
ESTIMATOR = _R + "remote_bitrate_estimator"
ACTIVE = _R + "active_ssrc"
CODECS = _R + "codecs"
STREAMS = _R + "remote_streams"
RTX_SSRC = _R + "rtx_ssrc"
NACKS = _R + "nack_generator"
RTCP_SSRC = _R + "rtcp_ssrc"


# _remb.c's Estimator (aiortc's RemoteBitrateEstimator in C, the same results), or None: the Python path
CompiledEstimator = getattr(compiled_module(), "Estimator", None)


def quick_min_frame_period(estimator: Any) -> None:
    """aiortc's `OveruseEstimator.update_min_frame_period` with the same result, by one builtin `min`
    over its history instead of a Python loop calling `min` 60 times (once per packet group of a
    video publication, ~3 % of the rooms benchmark's CPU)."""
    hist: list[float] = estimator.ts_delta_hist
    length = aiortc.rate.MIN_FRAME_PERIOD_HISTORY_LENGTH

    def update_min_frame_period(ts_delta: float) -> float:
        if len(hist) >= length:
            hist.pop(0)
        oldest_min = min(hist, default=ts_delta)
        hist.append(ts_delta)
        return oldest_min if oldest_min < ts_delta else ts_delta

    estimator.update_min_frame_period = update_min_frame_period


class QuickRateCounter:
    """aiortc's `RateCounter` (the REMB estimator's incoming bitrate: 1 ms buckets over a 1 s
    window) with the same results, its buckets two lists of ints instead of 1,000 `RateBucket`
    objects, and the buckets that fell out of the window cleared by slices instead of a Python
    loop step per elapsed millisecond (per packet of every publication: ~4 % of the rooms
    benchmark's CPU). Made from a running counter, it carries on from its state."""

    __slots__ = ("_window_size", "_scale", "_counts", "_values", "_origin_index", "_origin_ms", "_count", "_value")

    def __init__(self, counter: Any) -> None:
        self._window_size: int = counter._window_size
        self._scale: int = counter._scale
        self._counts = [b.count for b in counter._buckets]
        self._values = [b.value for b in counter._buckets]
        self._origin_index: int = counter._origin_index
        self._origin_ms: Any = counter._origin_ms
        self._count: int = counter._total.count
        self._value: int = counter._total.value

    def add(self, value: int, now_ms: int) -> None:
        origin = self._origin_ms
        if origin is None:
            origin = self._origin_ms = now_ms
        elif now_ms - self._window_size + 1 > origin:   # some buckets left the window
            self._erase_old(now_ms)
            origin = self._origin_ms
        index = (self._origin_index + now_ms - origin) % self._window_size
        self._counts[index] += 1
        self._values[index] += value
        self._count += 1
        self._value += value

    def rate(self, now_ms: int) -> Any:
        origin = self._origin_ms
        if origin is not None:
            if now_ms - self._window_size + 1 > origin:
                self._erase_old(now_ms)
                origin = self._origin_ms
            active_window_size = now_ms - origin + 1
            if self._count > 0 and active_window_size > 1:
                return round(self._scale * self._value / active_window_size)
        return None

    def reset(self) -> None:
        size = self._window_size
        self._counts, self._values = [0] * size, [0] * size
        self._origin_index, self._origin_ms, self._count, self._value = 0, None, 0, 0

    def _erase_old(self, now_ms: int) -> None:
        size = self._window_size
        steps = now_ms - size + 1 - self._origin_ms
        if steps <= 0:
            return
        start = self._origin_index
        if steps >= size:       # every bucket left the window: the totals are their sums
            self._counts, self._values = [0] * size, [0] * size
            self._count = self._value = 0
        else:
            counts, values = self._counts, self._values
            for lo, hi in ((start, min(start + steps, size)), (0, max(start + steps - size, 0))):
                if hi > lo:
                    self._count -= sum(counts[lo:hi])
                    self._value -= sum(values[lo:hi])
                    counts[lo:hi] = values[lo:hi] = [0] * (hi - lo)
        self._origin_index = (start + steps) % size
        self._origin_ms += steps


def lean_handler(receiver: RTCRtpReceiver) -> Callable[[Any, int], None]:
    """`handle(packet, arrival_time_ms)`: aiortc's per-packet receive work minus depayloading and
    frame assembly (the module docstring)."""
    StreamStatistics = aiortc.rtcrtpreceiver.StreamStatistics   # looked up here, not at import: a
    Psfb, app = aiortc.rtp.RtcpPsfbPacket, aiortc.rtp.RTCP_PSFB_APP   # missing one is the probe's report
    pack_remb_fci, unwrap_rtx, is_rtx = aiortc.rtp.pack_remb_fci, aiortc.rtp.unwrap_rtx, aiortc.codecs.is_rtx
    now = aiortc.clock.current_datetime
    r: Any = receiver
    active: dict[int, Any] = getattr(r, ACTIVE)
    streams: dict[int, Any] = getattr(r, STREAMS)
    rtx_ssrc: dict[int, int] = getattr(r, RTX_SSRC)
    codecs: dict[int, Any] = getattr(r, CODECS)   # these four are filled in place, never replaced
    if getattr(r, ESTIMATOR) is not None:   # a video m-line's, fresh: the receiver has not started
        if CompiledEstimator is not None:
            setattr(r, ESTIMATOR, CompiledEstimator())
        else:
            quick_min_frame_period(getattr(r, ESTIMATOR).estimator)
            getattr(r, ESTIMATOR).incoming_bitrate = QuickRateCounter(getattr(r, ESTIMATOR).incoming_bitrate)
    rtx_of: dict[int, tuple[Any, bool]] = {}   # id(codec) -> (codec, is RTX): codec.name is a split per call

    def handle(packet: Any, arrival_time_ms: int) -> None:
        if not r._enabled:
            return
        estimator = getattr(r, ESTIMATOR)
        if estimator is not None:
            abs_send_time = packet.extensions.abs_send_time
            if abs_send_time is not None:
                # (arrival_time_ms, abs_send_time, payload_size, ssrc): aiortc's order, and the C one's
                remb = estimator.add(arrival_time_ms, abs_send_time, len(packet.payload) + packet.padding_size,
                                     packet.ssrc)
                rtcp_ssrc = getattr(r, RTCP_SSRC)
                if rtcp_ssrc is not None and remb is not None:
                    asyncio.ensure_future(r._send_rtcp(Psfb(fmt=app, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb))))
        ssrc = packet.ssrc
        if packet.marker or ssrc not in active:     # once a frame, not a clock read per packet
            active[ssrc] = now()
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        stats = streams.get(ssrc)
        if stats is None:
            stats = streams[ssrc] = StreamStatistics(codec.clockRate)
        stats.add(packet)
        known = rtx_of.get(id(codec))
        if known is None or known[0] is not codec:
            known = rtx_of[id(codec)] = (codec, is_rtx(codec))
        if known[1]:
            original = rtx_ssrc.get(ssrc)
            apt = codec.parameters.get("apt")
            if original is None or len(packet.payload) < 2 or not isinstance(apt, int) or apt not in codecs:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original)
        nacks = getattr(r, NACKS)
        if nacks is not None and nacks.add(packet):
            asyncio.ensure_future(r._send_rtcp_nack(packet.ssrc, sorted(nacks.missing)))

    return handle
