"""The live state of this node's meetings, mirrored to Redis as it changes, fenced by the meeting lease.

docs/architecture.md "Seams for the cluster" (mirroring live state); the cluster contract
(notes: cluster-design "server/live/ additions", ``mirror.py``). ``MeetingMirror`` follows the
hub (``hub.on_room_changed``) and writes ``snapshot(room)`` (``signaling/live/snapshot.py``),
msgpack, to ``{P}mirror:{room_id}`` only through the room's meeting lease
(``lease.fenced_set``): a node that lost the lease cannot overwrite the new owner's mirror
with a stale epoch. The node that takes a meeting over reads it back (``load``) and restores
it (``hub.restore_room``).

- **Coalesced:** at most one write in flight per room; changes that arrive meanwhile are
  folded into one more write of the state *at that time* (the latest state wins). Writes run
  in their own task per room, not on the hub's job queue, so a slow Redis never delays the
  SFU's jobs.
- **Deleted** (fenced) when the room is gone from this hub because its meeting ended and
  nobody waits; **kept** when the hub handed the meeting over (``room.session.moved``): it
  goes on elsewhere from this very mirror.
- No lease for the room (``lease_for`` answers None, e.g. one node without a cluster): nothing
  is written. A Redis error is logged and the write retried with a backoff while the lease
  stays valid; a refused fenced write (lease lost) is logged and dropped.

``await flush(room_id)`` waits until what the room holds now is written (before releasing a
lease, or handing a meeting over on drain). ``await restore(room_id)`` (the gateway's
``on_claimed``) rebuilds a meeting from its mirror on this node's hub, once its lease is held.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Protocol

import msgpack
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from signaling.live.hub import MOVED, Hub
from signaling.live.snapshot import SnapshotError

log = structlog.get_logger("antechamber.cluster")

RETRY_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0)    # after a Redis error, while the lease is valid


class FencedLease(Protocol):
    """What the mirror uses of a meeting lease (server/cluster/leases.py ``Lease``)."""

    @property
    def valid(self) -> bool: ...

    async def fenced_set(self, key: str, value: bytes, px: int | None = None) -> bool: ...

    async def fenced_delete(self, key: str) -> bool: ...


def mirror_key(prefix: str, room_id: str) -> str:
    return f"{prefix}mirror:{room_id}"


class MeetingMirror:
    """``lease_for(room_id)``: this node's valid meeting lease for the room, or None
    (``Ownership.held``). ``start()`` follows the hub; ``close()`` stops and waits for writes."""

    def __init__(self, redis: aioredis.Redis, prefix: str, hub: Hub,
                 lease_for: Callable[[str], FencedLease | None]) -> None:
        self.redis, self.prefix, self.hub, self.lease_for = redis, prefix, hub, lease_for
        self._dirty: set[str] = set()
        self._moved: set[str] = set()
        self._tasks: dict[str, asyncio.Task] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self.writes = 0          # fenced writes and deletes done (tests, metrics)

    def key(self, room_id: str) -> str:
        return mirror_key(self.prefix, room_id)

    def start(self) -> None:
        self._unsubscribe = [self.hub.on_room_changed(self.changed), self.hub.events.subscribe(self._on_event)]

    async def close(self, timeout: float = 5.0) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        tasks = list(self._tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout)
            for task in late:
                task.cancel()

    # --- following the hub ------------------------------------------------------------------

    def changed(self, room_id: str) -> None:
        """What the room's snapshot holds may have changed: write it soon (never blocks)."""
        self._dirty.add(room_id)
        if room_id not in self._tasks:
            self._tasks[room_id] = asyncio.get_running_loop().create_task(self._run(room_id))

    def _on_event(self, name: str, data: dict[str, Any]) -> None:
        if name == MOVED and isinstance(data.get("room_id"), str):
            self._moved.add(data["room_id"])       # goes on elsewhere: its mirror stays
            self._dirty.discard(data["room_id"])

    async def flush(self, room_id: str | None = None, timeout: float = 5.0) -> None:
        """Wait until the pending writes of ``room_id`` (or of every room) are done."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tasks = [t for r, t in self._tasks.items() if room_id in (None, r)]
            if not tasks:
                return
            left = deadline - loop.time()
            if left <= 0:
                raise asyncio.TimeoutError("mirror writes still pending")
            await asyncio.wait(tasks, timeout=left)

    # --- writing ----------------------------------------------------------------------------

    async def _run(self, room_id: str) -> None:
        try:
            attempt = 0
            while room_id in self._dirty:
                self._dirty.discard(room_id)
                try:
                    await self._write(room_id)
                    attempt = 0
                except (RedisError, OSError) as exc:
                    lease = self.lease_for(room_id)
                    if lease is None or not lease.valid or attempt >= len(RETRY_SECONDS):
                        log.warning("mirror write failed", room_id=room_id, error=type(exc).__name__)
                        continue
                    log.info("mirror write failed, retrying", room_id=room_id, error=type(exc).__name__)
                    self._dirty.add(room_id)
                    await asyncio.sleep(RETRY_SECONDS[attempt])
                    attempt += 1
        except Exception:
            log.exception("mirror writer failed", room_id=room_id)
        finally:
            self._tasks.pop(room_id, None)

    async def _write(self, room_id: str) -> None:
        snap = self.hub.snapshot(room_id)      # the state now: the latest one wins
        if snap is not None:
            self._moved.discard(room_id)
        elif room_id in self._moved:
            return
        lease = self.lease_for(room_id)
        if lease is None:
            return
        if snap is not None:
            done = await lease.fenced_set(self.key(room_id), msgpack.packb(snap, use_bin_type=True))
        else:
            done = await lease.fenced_delete(self.key(room_id))
        if done:
            self.writes += 1
        else:
            log.warning("mirror write refused: meeting lease lost", room_id=room_id)

    # --- reading ----------------------------------------------------------------------------

    async def load(self, room_id: str) -> dict[str, Any] | None:
        """The mirrored snapshot of ``room_id``, or None (none, or unreadable: logged)."""
        raw = await self.redis.get(self.key(room_id))
        if raw is None:
            return None
        try:
            snap = msgpack.unpackb(raw, raw=False)
        except (ValueError, msgpack.UnpackException) as exc:
            log.warning("mirror unreadable", room_id=room_id, error=type(exc).__name__)
            return None
        return snap if isinstance(snap, dict) else None

    async def restore(self, room_id: str) -> dict[str, Any] | None:
        """Rebuild ``room_id``'s meeting on this hub from its mirror (everyone away under the
        reconnect grace: live/snapshot.py); the snapshot restored (its ``recordingId`` is the
        recording that was running), or None: live here already, no mirror, room gone, unusable."""
        if self.hub.room(room_id) is not None:
            return None
        snap = await self.load(room_id)
        if snap is None:
            return None
        info = await self.hub.directory.resolve(room_id)
        if info is None or self.hub.room(room_id) is not None:    # deleted, or joined meanwhile
            return None
        try:
            self.hub.restore_room(info, snap)
        except SnapshotError as exc:
            log.warning("mirror not restored", room_id=room_id, error=str(exc))
            return None
        return snap
