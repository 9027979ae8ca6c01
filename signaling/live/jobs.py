"""The background jobs of one hub (persistence, media callbacks), run one at a time in order.

Room flows are synchronous (one event loop, no awaits inside), so a room is
always consistent; what they must await (the directory's writes, the SFU) is
queued here (docs/architecture.md "Life cycles"). A failing job is logged and
the next one runs.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import structlog

log = structlog.get_logger("antechamber.signaling")

Job = Callable[[], Awaitable[Any]]


class Jobs:
    def __init__(self) -> None:
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Run what is queued (up to 10 s), then stop."""
        if self._queue is not None and self._worker is not None:
            self._queue.put_nowait(None)
            try:
                await asyncio.wait_for(self._worker, 10)
            except asyncio.TimeoutError:
                self._worker.cancel()
            self._worker = None

    def later(self, job: Job, what: str) -> None:
        if self._queue is None:   # not started (unit use): run it as a task
            asyncio.get_running_loop().create_task(self._run_one(job, what))
        else:
            self._queue.put_nowait((job, what))

    async def idle(self) -> None:
        """Wait until every queued job has run (tests, shutdown)."""
        if self._queue is not None:
            await self._queue.join()

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                await self._run_one(*item)
            finally:
                self._queue.task_done()

    @staticmethod
    async def _run_one(job: Job, what: str) -> None:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job failed", job=what)
