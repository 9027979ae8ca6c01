"""Keeps libavformat's interleaver moving when a track falls silent.

``av_interleaved_write_frame`` holds packets back until every stream has one
queued; its ``max_interleave_delta`` escape hatch does not apply while a VP8/VP9
stream has nothing queued (libavformat/mux.c, ff_interleave_packet_per_dts). A
muted camera or a participant who left would therefore keep everything recorded
after that moment in memory until the file is closed: lost on a crash.

An empty packet counts as queued but is never written to the file (checked:
ffprobe counts no extra packets, ffmpeg decodes cleanly). ``StallGuard`` sends
one for every stream that has been silent for ``gap_ms`` of media time, and
keeps each stream's timestamps increasing across those fillers.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable, Hashable, Optional

import av

MS = Fraction(1, 1000)


class StallGuard:
    def __init__(self, gap_ms: int = 500) -> None:
        self.gap_ms = gap_ms
        self.last: dict[Hashable, int] = {}
        self.start: int | None = None   # first time seen since reset (a new part)

    def reset(self) -> None:
        self.last = {}
        self.start = None

    def dts_for(self, key: Hashable, ms: int) -> int:
        """The timestamp to use for a real packet: never below what the stream already had."""
        ms = max(ms, self.last.get(key, ms))
        self.last[key] = ms
        return ms

    def fill(self, out, streams: dict, now_ms: int,
             first_payload: Optional[Callable[[Hashable], bytes]] = None) -> None:
        """Queue an empty packet for each stream silent for gap_ms before now_ms (a stream
        that has had nothing yet counts from the first packet after reset: its first real
        packet, which may carry its codec's parameter sets, should come first)."""
        if self.start is None:
            self.start = now_ms
        for key, stream in streams.items():
            last = self.last.get(key)
            if now_ms - (self.start if last is None else last) >= self.gap_ms:
                at = now_ms - self.gap_ms // 2
                if last is not None and at <= last:
                    continue
                # a stream's first packet in a file may have to carry its parameter sets
                # (H.264 SPS/PPS): PyAV takes the stream's CodecPrivate from it
                payload = first_payload(key) if first_payload is not None and last is None else b""
                packet = av.Packet(payload)
                packet.stream = stream
                packet.time_base = MS
                packet.pts = packet.dts = max(at, 0)
                out.mux_one(packet)
                self.last[key] = max(at, 0)
