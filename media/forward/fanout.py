"""One publication's copies, sent in slices (docs/architecture.md "Paths: ... an RTP packet").

Sending one packet to 250 subscribers is about 4 ms of CPU, and a video frame arrives as a burst of
packets: sent in one go, a frame held the event loop for 15-20 ms at a time, and everything else
waited behind it — ICE consent answers, signaling, other rooms' packets, joins (the stall probe of
issue 17 found the loop inside the fan-out at every stall). So a packet goes to at most ``SLICE``
subscribers per callback; the rest are sent from ``loop.call_soon`` callbacks, one slice each, so
other work runs between them.

Each subscriber still gets the publication's packets in arrival order: packets are served first in,
first out, and a packet's next slice is queued only after its previous one ran. The backlog is
bounded (``MAX_BACKLOG`` packets, about 2 s of 1 Mbit/s video): past it the oldest packet's unsent
copies are dropped (counted in ``dropped``) rather than let latency and memory grow without end —
the busy flag (media/load.py) refuses newcomers long before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

SLICE = 64            # copies per callback: ~1 ms at ~16 µs per copy
MAX_BACKLOG = 256     # packets waiting for their remaining slices


class Fanout:
    """The subscriptions of one publication (a tuple rebuilt on change, not per packet) and the
    packets whose copies are not all sent yet."""

    __slots__ = ("subscriptions", "_backlog", "_scheduled", "dropped")

    def __init__(self) -> None:
        self.subscriptions: tuple[Any, ...] = ()
        self._backlog: deque[list[Any]] = deque()   # [packet, extensions, subscriptions, next index]
        self._scheduled = False
        self.dropped = 0        # copies dropped from a full backlog

    def set(self, subscriptions: tuple[Any, ...]) -> None:
        self.subscriptions = subscriptions

    def send(self, packet: Any, extensions: Any) -> None:
        """`sub.forward(packet, extensions)` for every subscription, the first slice now."""
        subs = self.subscriptions
        backlog = self._backlog
        if not backlog and len(subs) <= SLICE:
            for sub in subs:
                sub.forward(packet, extensions)
            return
        if len(backlog) >= MAX_BACKLOG:
            oldest = backlog.popleft()
            self.dropped += len(oldest[2]) - oldest[3]
        backlog.append([packet, extensions, subs, 0])
        if len(backlog) == 1:
            self._drain()                         # nothing older waits: its first slice now
        elif not self._scheduled:
            self._schedule()

    def close(self) -> None:
        self._backlog.clear()
        self.subscriptions = ()

    def pending(self) -> int:
        return len(self._backlog)

    def _schedule(self) -> None:
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        self._drain()

    def _drain(self) -> None:
        budget = SLICE
        backlog = self._backlog
        while backlog and budget > 0:
            job = backlog[0]
            packet, extensions, subs, start = job
            end = min(len(subs), start + budget)
            for i in range(start, end):
                subs[i].forward(packet, extensions)
            budget -= end - start
            if end < len(subs):
                job[3] = end
            else:
                backlog.popleft()
        if backlog and not self._scheduled:
            self._schedule()

