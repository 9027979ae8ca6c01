"""Turns: at most a few bursts of join work begin per event-loop iteration.

docs/architecture.md "Paths", "The event loop, shared": the loop's lag is the time one iteration
spends in the callbacks that were ready when it began. Fifty subscribers joining at once put fifty
join handlers (each ~0.5 ms of Python: parse, admit, answer, tell the room) into one iteration, and
the forwarding waited 25-40 ms behind them (bench/loop_steps.py, on asyncio's loop; issue 17 wants
p99 < 20 ms while 50 join); in rooms, each join then renegotiates its room's connections (~1.5 ms
each to build and gather an offer). Work of that kind takes a turn first: a turn is free at once
while fewer than ``per_turn`` were taken since the last round, otherwise the caller waits, in
arrival order, for a later iteration. A caller waits at most len(queue) / per_turn iterations
(~1 ms each while forwarding), and an idle server hands out turns without waiting. Users: each
websocket reader before it handles a message, and the upgrade (signaling/transport/websocket.py,
one Turns per endpoint); each websocket frame written (a second Turns of the endpoint, which also
wakes a parked writer when something is queued for it, ``grant``: a broadcast to 250 woke 250
writers in one iteration, bench/stalls.py); each subscribe renegotiation
(media/participant.py, one Turns per media service). It sits in the lowest layer so that both can
use it.
"""

from __future__ import annotations

import asyncio
from collections import deque

# What one iteration may begin of each (bench/stalls.py over 50 joins at 200-300 streams, 2026-12-06:
# with 4 messages and no bound on writes the loop's lag p99 was 27-57 ms; with 2 and these, 12-34 ms).
# One websocket message (or upgrade) per iteration, 2026-12-07 (6 interleaved runs each, 50 joins at
# 200 streams on a slow sitting): lag p99 21-30 ms (median 24) with 2, 14-26 (median 17) with 1, the
# joins 1.7-2.7 s either way; the price is slower bursts on a node near a full core (300 streams:
# 2.2-2.5 -> 2.6-4.0 s; rooms of 4 x 4 at 64: 2.4 -> 2.9 s)
PER_TURN = 1                # websocket messages: a join ~0.5 ms, a subscribe answer ~1-2 ms (SDP)
NEGOTIATIONS_PER_TURN = 2   # subscribe offers: ~1.5 ms each (1 made 50 joins take 2-3.4 s)
WRITES_PER_TURN = 16        # websocket frames written: ~0.05 ms each, a joined roster ~1 ms


class Turns:
    __slots__ = ("per_turn", "_waiting", "_taken", "_round_due")

    def __init__(self, per_turn: int = PER_TURN) -> None:
        if per_turn < 1:
            raise ValueError("per_turn must be at least 1")
        self.per_turn = per_turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._taken = 0         # turns handed out since the last round
        self._round_due = False

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def take(self) -> None:
        """Return when this caller may go on: at once, or in a later loop iteration."""
        if not self._waiting and self._taken < self.per_turn:
            self._taken += 1
            self._schedule()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(fut)
        self._schedule()
        await fut   # a cancelled waiter is skipped by the round (its future is done)

    def grant(self, fut: "asyncio.Future[None]") -> None:
        """Resolve ``fut`` in a later round as one of its turns, after those already waiting: how a
        parked websocket writer is woken when something is queued for it (a broadcast to 250 woke
        250 writers in the next iteration, each only to wait for its turn to write)."""
        self._waiting.append(fut)
        self._schedule()

    def _schedule(self) -> None:
        if not self._round_due:
            self._round_due = True
            asyncio.get_running_loop().call_soon(self._round)

    def _round(self) -> None:
        """Runs once per iteration while turns are taken: hands out the next ``per_turn``."""
        self._round_due = False
        self._taken = 0
        waiting = self._waiting
        while waiting and self._taken < self.per_turn:
            fut = waiting.popleft()
            if not fut.done():
                fut.set_result(None)
                self._taken += 1
        if self._taken or waiting:
            self._schedule()
