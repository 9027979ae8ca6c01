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
from typing import Any, Callable, Optional

from .copy import fan_function

SLICE = 64            # copies per callback: ~1 ms at ~16 µs per copy
MAX_BACKLOG = 256     # packets waiting for their remaining slices


class Fanout:
    """The copies (media/forward/copy.py) of one publication's subscriptions (a tuple rebuilt on
    change, not per packet) and the packets whose copies are not all sent yet."""

    __slots__ = ("copies", "_fan", "_backlog", "_scheduled", "dropped")

    def __init__(self, fan: Optional[Callable[..., None]] = None) -> None:
        self.copies: tuple[Any, ...] = ()
        self._fan = fan or fan_function()   # copy.py's `fan` or the C module's
        self._backlog: deque[list[Any]] = deque()   # [packet, copies, next index]
        self._scheduled = False
        self.dropped = 0        # copies dropped from a full backlog

    def set(self, copies: tuple[Any, ...]) -> None:
        self.copies = copies

    def send(self, packet: tuple[Any, ...]) -> None:
        """Every copy forwards `packet` (the arguments of `Copy.forward`), the first slice now."""
        copies = self.copies
        backlog = self._backlog
        if not backlog and len(copies) <= SLICE:
            self._fan(copies, 0, len(copies), *packet)
            return
        if len(backlog) >= MAX_BACKLOG:
            oldest = backlog.popleft()
            self.dropped += len(oldest[1]) - oldest[2]
        backlog.append([packet, copies, 0])
        if len(backlog) == 1:
            self._drain()                         # nothing older waits: its first slice now
        elif not self._scheduled:
            self._schedule()

    def close(self) -> None:
        self._backlog.clear()
        self.copies = ()

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
        fan = self._fan
        while backlog and budget > 0:
            job = backlog[0]
            packet, copies, start = job
            end = min(len(copies), start + budget)
            fan(copies, start, end, *packet)
            budget -= end - start
            if end < len(copies):
                job[2] = end
            else:
                backlog.popleft()
        if backlog and not self._scheduled:
            self._schedule()

