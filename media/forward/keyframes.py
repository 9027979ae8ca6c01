"""Keyframe detection on depayloaded frames, and throttled keyframe requests.

VP8 (RFC 7741 §4.3): the first byte of the VP8 payload header has P (inverse
key frame flag) in its lowest bit: 0 means keyframe. H.264: a keyframe holds an
IDR slice (NAL type 5) or an SPS (7). aiortc's depayloaders give VP8 frame data
after the payload descriptor and H.264 in Annex B (start codes before each NAL).
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Optional


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
    `min_interval`, and again every `retry_interval` until `keyframe_received()`.

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
        self._min = min_interval
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
        if self._last_sent is None or now - self._last_sent >= self._min:
            self._fire()
        else:
            self._schedule(self._min - (now - self._last_sent))

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
        self._schedule(self._retry)

    def _schedule(self, delay: float) -> None:
        loop = self._loop or asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, delay), self._fire)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
