"""Counting the event loop's iterations (tests of media/turns.py and of the websocket writer)."""

from __future__ import annotations

import asyncio


class Iterations:
    """Counts the loop's iterations: a callback that re-schedules itself runs once per iteration."""

    def __init__(self) -> None:
        self.n = 0
        self._stop = False
        asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.n += 1
        if not self._stop:
            asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._stop = True
