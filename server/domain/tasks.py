"""Stopping background tasks for sure: the cluster's loops and the domain's (sweeper, compositions,
webhook delivery) — docs/architecture.md "Seams for the cluster".

A task awaiting a Redis command can have its cancellation absorbed by the client library (it
turns into a connection error the loop then retries), which would leave ``await task`` waiting
forever. ``stop_task`` cancels again until the task is done, within a patience bound.
"""

from __future__ import annotations

import asyncio
import time

import structlog

log = structlog.get_logger(__name__)

STOP_PATIENCE_SECONDS = 5.0


async def stop_task(task: asyncio.Task | None, patience: float = STOP_PATIENCE_SECONDS) -> None:
    """Cancel ``task`` (repeatedly if need be) and wait for it to end; never raises for it."""
    if task is None or task is asyncio.current_task():
        return
    give_up = time.monotonic() + patience
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
        if not task.done() and time.monotonic() > give_up:
            log.warning("background task did not stop", task=task.get_name())
            return
    if not task.cancelled():
        task.exception()        # retrieved (an error was logged by the task itself)
