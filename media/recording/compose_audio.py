"""Audio of a composed recording: every audio track mixed onto the recording's one clock, and who
is speaking, from the energy of each participant's audio (docs/recording.md "Composed MP4").

The mix is a sliding buffer of 48 kHz mono float samples: each decoded frame is added at its
place on the timeline (its pts), and whatever lies safely behind what has been demuxed is cut
into AAC-sized frames. Nothing is held for the whole recording.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from typing import Iterator

import av
import numpy as np

RATE = 48000
AAC_FRAME = 1024
SPEAKING_RMS = 0.02       # below this a participant is silent (full scale 1.0)
WINDOW = 0.4              # seconds of audio looked at to decide who speaks
HOLD = 1.0                # the last speaker stays highlighted this long after they stop


class Mixer:
    def __init__(self) -> None:
        self._resamplers: dict[int, av.AudioResampler] = {}
        self._buf = np.zeros(0, dtype=np.float32)
        self._base = 0            # sample position of _buf[0]
        self.pts = 0              # next sample to be handed out

    def add(self, stream_index: int, frame: av.AudioFrame) -> np.ndarray | None:
        """Mix one decoded frame in; returns its mono samples (for the levels), None if it is
        too late (before what was already handed out) or has no time."""
        if frame.pts is None or frame.time_base is None:
            return None
        start = int(round(float(frame.pts * frame.time_base) * RATE))
        rs = self._resamplers.setdefault(stream_index, av.AudioResampler(format="flt", layout="mono", rate=RATE))
        chunks = [f.to_ndarray().reshape(-1) for f in rs.resample(frame)]
        if not chunks:
            return None
        samples = np.concatenate(chunks).astype(np.float32)
        offset = start - self._base
        if offset < 0:
            samples, offset = samples[-offset:], 0
            if not samples.size:
                return None
        end = offset + samples.size
        if end > self._buf.size:
            self._buf = np.concatenate([self._buf, np.zeros(end - self._buf.size, dtype=np.float32)])
        self._buf[offset:end] += samples
        return samples

    def frames_until(self, seconds: float) -> Iterator[av.AudioFrame]:
        """AAC-sized frames of the mix up to ``seconds`` on the timeline (silence where nobody sent)."""
        limit = int(seconds * RATE)
        while self.pts + AAC_FRAME <= limit:
            have = self._buf[:AAC_FRAME]
            chunk = np.zeros(AAC_FRAME, dtype=np.float32)
            chunk[:have.size] = have
            self._buf = self._buf[AAC_FRAME:]
            self._base += AAC_FRAME
            frame = av.AudioFrame.from_ndarray(np.clip(chunk, -1.0, 1.0).reshape(1, -1), format="fltp",
                                               layout="mono")
            frame.sample_rate = RATE
            frame.pts = self.pts
            frame.time_base = Fraction(1, RATE)
            self.pts += AAC_FRAME
            yield frame


class Levels:
    """Recent audio energy per participant; ``speaker(t)`` is the loudest one speaking around t."""

    def __init__(self) -> None:
        self._recent: dict[str, deque[tuple[float, float]]] = {}
        self._last: tuple[str, float] | None = None

    def add(self, participant: str, t: float, samples: np.ndarray) -> None:
        rms = float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0
        q = self._recent.setdefault(participant, deque())
        q.append((t, rms))
        while q and q[0][0] < t - 3 * WINDOW - HOLD:
            q.popleft()

    def speaker(self, t: float) -> str | None:
        best, level = None, SPEAKING_RMS
        for pid, q in self._recent.items():
            around = [rms for at, rms in q if t - WINDOW <= at <= t]
            if around and max(around) > level:
                best, level = pid, max(around)
        if best is not None:
            self._last = (best, t)
            return best
        if self._last is not None and t - self._last[1] <= HOLD:
            return self._last[0]
        return None
