"""The thread that owns a SQLite store's connection and runs its calls in batched transactions.

One dedicated thread owns the sqlite3 connection, so the event loop never
blocks on disk. Calls are queued to it; the thread drains whatever is queued
and runs it as one transaction (each call inside its own SAVEPOINT, so a
failing call rolls back only itself), then hands all results back to the
loop in one callback. Under load many writes thus share one commit.

The first call after ``start()`` runs outside any transaction with ``None`` for
the connection: it is expected to open the connection and set ``conn``
(see ``SqliteStore._open_sync``); until then every other call fails with StoreError.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable

import structlog

from .base import StoreError

log = structlog.get_logger(__name__)

_STOP = object()


class SqliteWorker:
    """The thread that owns the connection and runs queued calls in batched transactions."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop) -> None:
        self._path = path
        self._loop = loop
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"sqlite-store:{path.name}", daemon=True)
        self.conn: sqlite3.Connection | None = None

    def start(self) -> None:
        self._thread.start()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        fut = self._loop.create_future()
        self._jobs.put((fn, args, fut))
        return await fut

    async def stop(self) -> None:
        self._jobs.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def _deliver(self, results: list) -> None:
        for fut, ok, value in results:
            if fut.cancelled():
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def _run(self) -> None:
        stop = False
        while not stop:
            batch = [self._jobs.get()]
            while len(batch) < 256:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:
                stop = True
                batch = [job for job in batch if job is not _STOP]
            if batch:
                results = self._run_batch(batch)
                try:
                    self._loop.call_soon_threadsafe(self._deliver, results)
                except RuntimeError:    # the loop is gone: nobody is waiting any more
                    pass
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _run_batch(self, batch: list) -> list:
        results: list = []
        if self.conn is None:   # the opening job runs first, outside any transaction
            fn, args, fut = batch.pop(0)
            try:
                results.append((fut, True, fn(None, *args)))
            except BaseException as exc:   # noqa: BLE001 - handed to the caller
                results.append((fut, False, exc))
            if self.conn is None:
                return results + [(f, False, StoreError("sqlite store is not open")) for _, _, f in batch]
        if not batch:
            return results
        conn = self.conn
        done: list = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, args, fut in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = fn(conn, *args)
                except BaseException as exc:   # noqa: BLE001 - handed to the caller
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    done.append((fut, False, exc))
                else:
                    conn.execute("RELEASE job")
                    done.append((fut, True, value))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.error("sqlite store transaction failed", error=str(exc))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failed = StoreError(f"sqlite transaction failed: {exc}")
            own = {id(f): v for f, ok, v in done if not ok}
            done = [(fut, False, own.get(id(fut), failed)) for _, _, fut in batch]
        return results + done
