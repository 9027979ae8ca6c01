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
one Turns per endpoint); each subscribe renegotiation (media/participant.py, one Turns per media
service). It sits in the lowest layer so that both can use it.
"""

from __future__ import annotations

import asyncio
from collections import deque

PER_TURN = 4                # websocket messages: ~2 ms of handlers per iteration
NEGOTIATIONS_PER_TURN = 2   # subscribe offers: ~3 ms per iteration


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
