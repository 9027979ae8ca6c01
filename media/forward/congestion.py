"""Congestion feedback of one publication: the REMB the publisher gets is the
minimum of what its subscribers can take and of the server's own estimate of
the publisher -> server link.

Pure logic (no aiortc): `Congestion.subscriber(key, bps)` records a subscriber's
REMB (receiver estimated maximum bitrate, RTCP PSFB fmt 15); an estimate not
refreshed for `expiry` seconds (5 s) no longer counts; `forget(key)` when the
subscriber leaves. `server(bps)` takes the estimate aiortc's publish-side
receiver is about to send and returns what to send instead (the minimum).
When the minimum changes between the receiver's own REMBs (a subscriber's
estimate falls, or its subscriber leaves), `push(bps)` is called at once, at
most every `min_interval` seconds unless it falls by more than 10 %.
`of(publication)` gives the publication's `Congestion` (kept on the publication);
`feed(publication, key)` is what a subscriber's REMB handler calls: it holds the
`Congestion` weakly, so a subscriber's sender (which outlives the subscription
in aiortc) never keeps a publication, nor its publisher's connection, alive.

aiortc implements no transport-cc (TWCC); REMB is what aiortc peers and Chrome
(goog-remb with abs-send-time, which the SFU writes) use.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Callable, Hashable, Optional

EXPIRY = 5.0


class Congestion:
    __slots__ = ("expiry", "min_interval", "clock", "push", "_estimates", "_own", "_sent", "_sent_at",
                 "__weakref__")

    def __init__(self, expiry: float = EXPIRY, min_interval: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.expiry = expiry
        self.min_interval = min_interval
        self.clock = clock
        self.push: Any = None  # Callable[[int], None] or a weakref.WeakMethod of one
        self._estimates: dict[Hashable, tuple[int, float]] = {}
        self._own: Optional[tuple[int, float]] = None
        self._sent: Optional[int] = None
        self._sent_at = float("-inf")

    def minimum(self) -> Optional[int]:
        """The lowest live estimate (subscribers' and the server's), None when none is live."""
        now = self.clock()
        limit = now - self.expiry
        stale = [k for k, (_, at) in self._estimates.items() if at < limit]
        for k in stale:
            del self._estimates[k]
        values = [b for b, _ in self._estimates.values()]
        if self._own is not None and self._own[1] >= limit:
            values.append(self._own[0])
        return min(values) if values else None

    def subscribers(self) -> dict[Hashable, int]:
        self.minimum()
        return {k: b for k, (b, _) in self._estimates.items()}

    def subscriber(self, key: Hashable, bitrate: int) -> None:
        if bitrate < 0:
            raise ValueError(f"bitrate must be >= 0, got {bitrate}")
        self._estimates[key] = (int(bitrate), self.clock())
        self._maybe_push()

    def forget(self, key: Hashable) -> None:
        if self._estimates.pop(key, None) is not None:
            self._maybe_push(force=True)

    def server(self, bitrate: int) -> int:
        """The server's own estimate is about to be sent: what to send instead."""
        self._own = (int(bitrate), self.clock())
        value = self.minimum()
        value = int(bitrate) if value is None else value
        self._sent, self._sent_at = value, self.clock()
        return value

    def _maybe_push(self, force: bool = False) -> None:
        push = self.push
        if isinstance(push, weakref.WeakMethod):  # a weak reference: the publication must not keep its m-line alive
            push = push()
        if push is None:
            return
        value = self.minimum()
        if value is None or value == self._sent:
            return
        now = self.clock()
        falls_fast = self._sent is not None and value < self._sent * 0.9
        if not (force or falls_fast or self._sent is None or now - self._sent_at >= self.min_interval):
            return
        self._sent, self._sent_at = value, now
        push(value)


_ATTRIBUTE = "_congestion"


def of(publication: object) -> Congestion:
    """The `Congestion` of `publication` (created on first use, gone with it). Kept on the publication
    itself: a module-level WeakKeyDictionary kept every publication alive through its value (the value's
    `push` reaches the m-line, which reaches the publication), and with it its peer connection."""
    c = publication.__dict__.get(_ATTRIBUTE)
    if c is None:
        c = publication.__dict__[_ATTRIBUTE] = Congestion()
    return c


def feed(publication: object, key: Hashable) -> Callable[[int], None]:
    """`callback(bitrate)` recording subscriber `key`'s REMB on `publication`, holding it weakly."""
    ref = weakref.ref(of(publication))

    def _feed(bitrate: int) -> None:
        c = ref()
        if c is not None:
            c.subscriber(key, bitrate)
    return _feed
