"""Keyframe detection, on RTP payloads (the packet path's gating) and on
depayloaded frames (keyframe tracking, recording sinks), and throttled
keyframe requests.

VP8 (RFC 7741 §4.3): the first byte of the VP8 payload header has P (inverse
key frame flag) in its lowest bit: 0 means keyframe. H.264: a keyframe holds an
IDR slice (NAL type 5) or an SPS (7). aiortc's depayloaders give VP8 frame data
after the payload descriptor and H.264 in Annex B (start codes before each NAL).
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Callable, Optional


def starts_keyframe(codec_name: str, payload: bytes) -> bool:
    """Is this RTP payload the first packet of a keyframe?"""
    name = codec_name.lower()
    if not payload:
        return False
    if name == "vp8":
        # RFC 7741: X/N/S/PID; S=1 and PID=0 starts the frame, then optional extensions
        b0 = payload[0]
        if not (b0 & 0x10) or (b0 & 0x0F):
            return False
        pos = 1
        if b0 & 0x80:
            if len(payload) < 2:
                return False
            x = payload[1]
            pos = 2
            if x & 0x80:  # I: picture id
                pos += 2 if len(payload) > 2 and payload[2] & 0x80 else 1
            if x & 0x40:  # L: TL0PICIDX
                pos += 1
            if x & 0x30:  # T/K
                pos += 1
        return len(payload) > pos and (payload[pos] & 0x01) == 0
    if name == "h264":
        nal = payload[0] & 0x1F
        if nal in (5, 7):
            return True
        if nal == 28 and len(payload) > 1:  # FU-A: start bit + IDR
            return bool(payload[1] & 0x80) and (payload[1] & 0x1F) == 5
        if nal == 24:  # STAP-A
            return is_keyframe("h264", _stap_to_annexb(payload[1:]))
        return False
    return True


def _stap_to_annexb(data: bytes) -> bytes:
    out, pos = [], 0
    while pos + 2 <= len(data):
        (size,) = struct.unpack_from("!H", data, pos)
        out.append(b"\x00\x00\x01" + data[pos + 2:pos + 2 + size])
        pos += 2 + size
    return b"".join(out)


def is_keyframe(codec_name: str, data: bytes) -> bool:
    name = codec_name.lower()
    if name == "vp8":
        return bool(data) and (data[0] & 0x01) == 0
    if name == "h264":
        return _h264_has_idr(data)
    return True  # audio: every frame is decodable


def _h264_has_idr(data: bytes) -> bool:
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        nal_type = data[i + 3] & 0x1F
        if nal_type in (5, 7):
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


class KeyframeRequester:
    """Sends keyframe requests for one publication: at most one per
    `min_interval`, and again every `retry_interval` (never sooner than
    `min_interval`) until `keyframe_received()`. `min_interval` may change
    (`Publication` spaces keyframes by its fan-out: a keyframe is a burst of
    dozens of packets, sent to every subscriber).

    `send` is called synchronously (it typically schedules an RTCP PLI).
    Driven by loop timers, never by sleeping tasks.
    """

    def __init__(
        self,
        send: Callable[[], None],
        *,
        min_interval: float = 0.25,
        retry_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        loop: Optional[asyncio.AbstractEventLoop] = None,
    ) -> None:
        self._send = send
        self.min_interval = min_interval
        self._retry = retry_interval
        self._clock = clock
        self._loop = loop
        self._pending = False
        self._last_sent: Optional[float] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._closed = False
        self.sent = 0

    @property
    def pending(self) -> bool:
        return self._pending

    def request(self) -> None:
        if self._closed:
            return
        self._pending = True
        if self._timer is not None:
            return  # a send is already scheduled
        now = self._clock()
        if self._last_sent is None or now - self._last_sent >= self.min_interval:
            self._fire()
        else:
            self._schedule(self.min_interval - (now - self._last_sent))

    def keyframe_received(self) -> None:
        self._pending = False
        self._cancel()

    def close(self) -> None:
        self._closed = True
        self._pending = False
        self._cancel()

    def _fire(self) -> None:
        self._timer = None
        if self._closed or not self._pending:
            return
        self._last_sent = self._clock()
        self.sent += 1
        self._send()
        self._schedule(max(self._retry, self.min_interval))

    def _schedule(self, delay: float) -> None:
        loop = self._loop or asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, delay), self._fire)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
