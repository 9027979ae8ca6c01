"""Compare-and-set room writes shared by both stores: ``modify_room`` on top of ``update_room_if``.

A room carries a ``version`` (1 when created, +1 on every write). ``modify_room`` reads the
room, applies the caller's change to a copy and writes it back only if the stored version is
still the one read (``update_room_if``); on a conflict it reads again and re-applies the change,
a bounded number of times with a small random backoff. So a write is always the change applied
to the room as it is now, never a stale whole room written back.

Within one process the writers of one room also queue on a per-room lock, so they never
conflict with each other; conflicts (and retries) only come from other processes sharing the
store.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import random
from typing import Callable, Protocol, TypeVar

import structlog

from .base import StoreConflict
from .records import Room

log = structlog.get_logger(__name__)

T = TypeVar("T")

MODIFY_ATTEMPTS = 50
BACKOFF_BASE = 0.001      # seconds; doubled per conflict, capped
BACKOFF_CAP = 0.02


class KeyedLocks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str):
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class _CasStore(Protocol):
    async def get_room(self, room_id: str) -> Room | None: ...
    async def update_room_if(self, room: Room, expected_version: int) -> bool: ...


async def modify_room(store: _CasStore, locks: KeyedLocks, room_id: str, change: Callable[[Room], T]
                      ) -> tuple[Room, T] | None:
    """Apply ``change`` to the stored room under compare-and-set; see ``Store.modify_room``."""
    async with locks.hold(room_id):
        for attempt in range(MODIFY_ATTEMPTS):
            current = await store.get_room(room_id)
            if current is None:
                return None
            draft = copy.deepcopy(current)
            result = change(draft)
            if draft.room_id != current.room_id:
                raise ValueError("a room change may not change the room's id")
            draft.version = current.version      # the store owns the version
            if draft == current:                 # nothing to write: no new version
                return current, result
            if await store.update_room_if(draft, current.version):
                if attempt:
                    log.debug("room write retried", room_id=room_id, conflicts=attempt, version=draft.version)
                return draft, result
            await asyncio.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)))
    log.warning("room write gave up: it kept conflicting", room_id=room_id, attempts=MODIFY_ATTEMPTS)
    raise StoreConflict(f"room {room_id!r} kept changing under {MODIFY_ATTEMPTS} attempts to write it")
