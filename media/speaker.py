"""Active speaker detection from the RTP ssrc-audio-level header extension (RFC 6464).

Pure logic: feed `(participant_id, level, now)` with level in -dBov (0 = loudest,
127 = silence); `update()` returns a participant id when the active speaker
changes, at most once per `interval` seconds. The caller decides when to
re-check after a rate-limited change (see `next_check()`).
"""

from __future__ import annotations

from typing import Optional

SILENCE_DBOV = 127
SPEECH_THRESHOLD = 60  # louder than -60 dBov counts as speech
SMOOTHING = 0.1  # exponential moving average weight of one packet (20 ms)
HYSTERESIS = 6.0  # a challenger must be this much louder (in loudness units)


class ActiveSpeakerDetector:
    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self._loudness: dict[str, float] = {}
        self._current: Optional[str] = None
        self._last_emit: Optional[float] = None

    @property
    def current(self) -> Optional[str]:
        return self._current

    def add(self, participant_id: str, level: int) -> None:
        loudness = float(max(0, SILENCE_DBOV - min(max(level, 0), SILENCE_DBOV)))
        old = self._loudness.get(participant_id, 0.0)
        self._loudness[participant_id] = old + SMOOTHING * (loudness - old)

    def silence(self, participant_id: str) -> None:
        """Muted or gone: no longer a candidate."""
        self._loudness.pop(participant_id, None)
        if self._current == participant_id:
            self._current = None

    def candidate(self) -> Optional[str]:
        threshold = SILENCE_DBOV - SPEECH_THRESHOLD
        best, best_loud = None, float(threshold)
        for pid, loud in self._loudness.items():
            if loud > best_loud:
                best, best_loud = pid, loud
        if best is None or best == self._current:
            return None
        current_loud = self._loudness.get(self._current, 0.0) if self._current else 0.0
        if current_loud >= threshold and best_loud < current_loud + HYSTERESIS:
            return None
        return best

    def update(self, now: float) -> Optional[str]:
        """The new active speaker if it changed and the rate limit allows, else None."""
        best = self.candidate()
        if best is None:
            return None
        if self._last_emit is not None and now - self._last_emit < self.interval:
            return None
        self._current = best
        self._last_emit = now
        return best

    def next_check(self, now: float) -> Optional[float]:
        """Seconds until a rate-limited change may be emitted (None if nothing pending)."""
        if self.candidate() is None or self._last_emit is None:
            return None
        return max(0.0, self.interval - (now - self._last_emit))
