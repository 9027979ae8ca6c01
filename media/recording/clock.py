"""One timeline for every track of a recording. Pure logic, no I/O.

The recording's time 0 is the wall-clock arrival time of its first frame (any
track). Each track anchors its RTP clock to that timeline by the arrival of its first
frames (TrackClock: the earliest seen while it settles), then advances
by RTP timestamp deltas (unwrapped past the 32-bit wrap): a track that appears
late starts at its true offset and frames keep the sender's spacing instead of
network jitter.
"""

from __future__ import annotations

RTP_WRAP = 1 << 32
_HALF = 1 << 31


class RtpUnwrapper:
    """Turns 32-bit RTP timestamps into a monotonic-ish 64-bit count.

    A step forward of less than half the range is a forward step (across the
    wrap if needed); a larger one is a step back (a late or reordered frame).
    """

    def __init__(self) -> None:
        self._last: int | None = None   # last raw 32-bit value
        self._value = 0                 # last unwrapped value

    def unwrap(self, ts: int) -> int:
        ts &= RTP_WRAP - 1
        if self._last is None:
            self._last = ts
            self._value = ts
            return ts
        delta = (ts - self._last) & (RTP_WRAP - 1)
        if delta >= _HALF:
            delta -= RTP_WRAP
        self._last = ts
        self._value += delta
        return self._value


class RecordingClock:
    """Shared origin of a recording: the arrival time of its first frame."""

    def __init__(self) -> None:
        self.origin: float | None = None

    def since_origin(self, arrival: float) -> float:
        if self.origin is None:
            self.origin = arrival
        return arrival - self.origin


class TrackClock:
    """Maps one track's RTP timestamps to milliseconds on the recording timeline.

    While *settling* (the recorder holds a track's first second of frames back), every
    frame's arrival refines the anchor: it becomes the earliest the track's clock has
    been seen to run (arrival minus RTP elapsed), so a first frame that was held up (in
    the network, a jitter buffer burst, a sender that was behind) does not shift the
    whole track. Then the anchor is frozen: frames keep exactly the sender's spacing.
    """

    def __init__(self, recording: RecordingClock, clock_rate: int) -> None:
        self._recording = recording
        self._rate = clock_rate
        self._unwrap = RtpUnwrapper()
        self._anchor_rtp: int | None = None
        self._anchor_ms = 0.0
        self._last_ms = -1
        self.frozen = False

    @property
    def started(self) -> bool:
        return self._anchor_rtp is not None

    def observe(self, rtp_ts: int, arrival: float) -> int:
        """Take in one frame's timing; returns its unwrapped RTP timestamp (for place())."""
        value = self._unwrap.unwrap(rtp_ts)
        arrival_ms = self._recording.since_origin(arrival) * 1000.0
        if self._anchor_rtp is None:
            self._anchor_rtp = value
            self._anchor_ms = arrival_ms
        elif not self.frozen:
            implied = arrival_ms - (value - self._anchor_rtp) * 1000.0 / self._rate
            self._anchor_ms = min(self._anchor_ms, implied)
        return value

    def place(self, value: int) -> int:
        """Timeline position in ms of an observed frame; always after the previous one's
        (a repeated or reordered timestamp moves 1 ms on: players want increasing ones)."""
        ms = int(round(self._anchor_ms + (value - self._anchor_rtp) * 1000.0 / self._rate))
        if ms <= self._last_ms:
            ms = self._last_ms + 1
        self._last_ms = ms
        return ms

    def to_ms(self, rtp_ts: int, arrival: float) -> int:
        return self.place(self.observe(rtp_ts, arrival))
