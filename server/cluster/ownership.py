"""Meeting ownership: the meeting leases of this node (docs/architecture.md "Seams for the cluster").

A live meeting is owned by the node holding the lease ``meeting:{room_id}`` (cluster-design.md:
5000 ms, renewed every ~1.7 s by a LeaseKeeper). ``claim`` acquires and keeps it renewed;
``held`` answers from the local deadline only (no Redis), so the split-brain guard costs
nothing per message. A lease that is lost — a renew found it gone or taken, or its deadline
passed (Redis away, process paused) — leaves ``held()``/``owned()`` at once, and every
``on_lost`` callback is called once with the room id (soon after, from the event loop).
"""

from __future__ import annotations

import asyncio
from typing import Callable

import structlog
from redis.exceptions import RedisError

from .leases import Lease, LeaseKeeper, Leases

log = structlog.get_logger(__name__)

MEETING_TTL_MS = 5000


def meeting_lease(room_id: str) -> str:
    return f"meeting:{room_id}"


class Ownership:
    """The meeting leases of ``node_id``."""

    def __init__(self, leases: Leases, node_id: str, ttl_ms: int = MEETING_TTL_MS) -> None:
        self.leases = leases
        self.node_id = node_id
        self.ttl_ms = ttl_ms
        self._held: dict[str, tuple[Lease, LeaseKeeper]] = {}
        self._claiming: dict[str, asyncio.Task] = {}
        self._callbacks: list[Callable[[str], None]] = []

    def on_lost(self, callback: Callable[[str], None]) -> None:
        """``callback(room_id)`` when this node loses a meeting lease it held (not on release)."""
        self._callbacks.append(callback)

    async def owner(self, room_id: str) -> str | None:
        """Node id holding the meeting's lease, or None. A lease this node holds and trusts is
        answered without Redis; otherwise Redis errors propagate."""
        if self.held(room_id) is not None:
            return self.node_id
        holder = await self.leases.holder(meeting_lease(room_id))
        return holder[0] if holder else None

    async def claim(self, room_id: str) -> Lease | None:
        """Own the meeting: acquire its lease and keep it renewed. The lease this node already
        holds is returned as is; None when another node holds it. Concurrent claims of one room
        share one acquisition, which a cancelled caller does not cut short (a lease taken on
        Redis is always kept here). Redis errors propagate."""
        lease = self.held(room_id)
        if lease is not None:
            return lease
        task = self._claiming.get(room_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._acquire(room_id), name=f"claim:{room_id}")
            self._claiming[room_id] = task
            task.add_done_callback(lambda t: self._claimed(room_id, t))
        return await asyncio.shield(task)

    async def _acquire(self, room_id: str) -> Lease | None:
        lease = await self.leases.acquire(meeting_lease(room_id), self.ttl_ms)
        if lease is not None:
            keeper = LeaseKeeper(lease, self._keeper_lost)
            self._held[room_id] = (lease, keeper)
            keeper.start()
            log.info("meeting claimed", room_id=room_id, epoch=lease.epoch)
        return lease

    def _claimed(self, room_id: str, task: asyncio.Task) -> None:
        if self._claiming.get(room_id) is task:
            del self._claiming[room_id]
        if not task.cancelled():
            task.exception()        # retrieved: the callers saw it (or none was left waiting)

    def held(self, room_id: str) -> Lease | None:
        """The meeting lease this node holds, if it is still valid (local clock, no Redis)."""
        entry = self._held.get(room_id)
        if entry is None:
            return None
        if entry[0].valid:
            return entry[0]
        self._drop(room_id, entry[0], "deadline passed")
        return None

    def owned(self) -> list[str]:
        """Room ids whose meeting lease this node holds and trusts."""
        return [room_id for room_id in list(self._held) if self.held(room_id) is not None]

    async def release(self, room_id: str) -> None:
        """Give the meeting up (it ended, or was handed over). No on_lost callback."""
        entry = self._held.pop(room_id, None)
        if entry is None:
            return
        lease, keeper = entry
        await keeper.stop()
        try:
            await lease.release()
        except (RedisError, OSError) as exc:      # the lease expires on its own at its ttl
            log.warning("meeting lease release failed", room_id=room_id, error=type(exc).__name__)

    async def close(self) -> None:
        """Release every meeting lease (node leaving the cluster), after claims in flight."""
        if self._claiming:
            await asyncio.wait(list(self._claiming.values()))
        for room_id in list(self._held):
            await self.release(room_id)

    def _keeper_lost(self, lease: Lease) -> None:
        room_id = lease.name.removeprefix("meeting:")
        self._drop(room_id, lease, "lost")

    def _drop(self, room_id: str, lease: Lease, why: str) -> None:
        entry = self._held.get(room_id)
        if entry is None or entry[0] is not lease:
            return                  # already dropped (or a newer lease): callbacks ran once
        del self._held[room_id]
        lease.mark_lost()
        log.warning("meeting lease lost", room_id=room_id, epoch=lease.epoch, why=why)
        # the keeper ends by itself once the lease is dead; callbacks run from the loop, so a
        # caller of held() is never re-entered
        asyncio.get_running_loop().call_soon(self._notify, room_id)

    def _notify(self, room_id: str) -> None:
        for callback in list(self._callbacks):
            try:
                callback(room_id)
            except Exception:
                log.exception("ownership on_lost callback failed", room_id=room_id)
