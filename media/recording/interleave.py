"""Keeps libavformat's interleaver moving when a track falls silent.

``av_interleaved_write_frame`` holds packets back until every stream has one
queued; its ``max_interleave_delta`` escape hatch does not apply while a VP8/VP9
stream has nothing queued (libavformat/mux.c, ff_interleave_packet_per_dts). A
muted camera or a participant who left would therefore keep everything recorded
after that moment in memory until the file is closed: lost on a crash.

An empty packet counts as queued but is never written to the file (checked:
ffprobe counts no extra packets, ffmpeg decodes cleanly). ``StallGuard`` sends
one for every stream that has been silent for ``gap_ms`` of media time (GAP_MS),
and keeps each stream's timestamps increasing across those fillers.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Hashable

import av

MS = Fraction(1, 1000)
# A stream counts as silent after this much media time. Frames that are only late (a
# loaded network or sender) must not be mistaken for silence: a filler placed ahead of
# them would push them forward. 1.5 s of late frames is far beyond a usable meeting;
# the price is that a silent camera keeps up to ~1.5 s more in memory (and at risk).
GAP_MS = 1500


class StallGuard:
    def __init__(self, gap_ms: int = GAP_MS) -> None:
        self.gap_ms = gap_ms
        self.last: dict[Hashable, int] = {}     # last dts given to each stream (fillers included)
        self.lag: dict[Hashable, int] = {}      # how far behind the newest packet each stream runs
        self.head = 0                           # newest dts seen on any stream
        self.start: int | None = None           # first time seen since reset (a new part)

    def reset(self) -> None:
        self.last, self.lag, self.head, self.start = {}, {}, 0, None

    def dts_for(self, key: Hashable, ms: int) -> int:
        """The timestamp to use for a real packet: always after the stream's previous one."""
        last = self.last.get(key)
        if last is not None and ms <= last:
            ms = last + 1
        self.last[key] = ms
        self.head = max(self.head, ms)
        self.lag[key] = self.head - ms
        return ms

    def fill(self, out, streams: dict, now_ms: int) -> None:
        """Queue an empty packet for each stream silent for gap_ms.

        Streams of different participants run a little apart on the timeline (each is
        anchored by its own first frame), so "silent" and the filler's timestamp are
        measured on the stream's own position (the newest dts minus its usual lag): the
        filler then stays below the stream's next real frame. A stream that has had
        nothing yet counts from the first packet after reset.
        """
        self.head = max(self.head, now_ms)
        if self.start is None:
            self.start = now_ms
        for key, stream in streams.items():
            last = self.last.get(key)
            position = self.head - self.lag.get(key, 0)
            if position - (self.start if last is None else last) < self.gap_ms:
                continue
            at = max(position - self.gap_ms // 2, 0)
            if last is not None and at <= last:
                continue
            packet = av.Packet(b"")
            packet.stream = stream
            packet.time_base = MS
            packet.pts = packet.dts = at
            out.mux_one(packet)
            self.last[key] = at
