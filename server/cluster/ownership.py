"""Meeting ownership: the meeting leases of this node (docs/architecture.md "Seams for the cluster").

A live meeting is owned by the node holding the lease ``meeting:{room_id}`` (cluster-design.md:
5000 ms, renewed every ~1.7 s by a LeaseKeeper). ``claim`` acquires and keeps it renewed;
``held`` answers from the local deadline only (no Redis), so the split-brain guard costs
nothing per message. The ``on_acquired`` callbacks (the meeting restored from its mirror)
run inside the claim before the lease counts as held, so claims racing it wait for them. A lease that is lost leaves ``held()``/``owned()`` at once, and every ``on_lost`` callback is
called once with the room id (from the event loop).

A lease that dies (its deadline passed, or a renew found it gone) is first acquired anew, with a
fresh epoch, if no other node holds it: then the ``on_regained`` callbacks run (the mirror is
rewritten) and nothing was lost; if another node holds it, the meeting is lost (``on_lost``).
Meanwhile ``held`` is None, so nothing is written fenced. While Redis is away (the renews failed
or went unanswered) nobody can take the meeting over, so it goes on here (``may_act`` stays true)
until Redis answers (issue 11, "Faults: Redis outage"); otherwise — a paused process woken past
its ttl (SIGSTOP), Redis restarted empty — nothing is acted on until the attempt has answered
(``settle``): a node another node took over from never acts again.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import structlog
from redis.exceptions import RedisError

from .leases import Lease, LeaseKeeper, Leases

log = structlog.get_logger(__name__)

MEETING_TTL_MS = 5000
RECLAIM_SECONDS = 0.5       # between attempts to acquire a suspended lease anew


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
        self._regained: list[Callable[[str], None]] = []
        self._acquired: list[Callable[[str], Awaitable[None]]] = []
        # room id -> (task acquiring the lease anew, whether the meeting goes on meanwhile: Redis away)
        self._suspended: dict[str, tuple[asyncio.Task, bool]] = {}

    def on_lost(self, callback: Callable[[str], None]) -> None:
        """``callback(room_id)`` when this node loses a meeting lease it held (not on release)."""
        self._callbacks.append(callback)

    def on_acquired(self, callback: Callable[[str], Awaitable[None]]) -> None:
        """``await callback(room_id)`` inside a claim that took the lease, before the lease counts
        as held: concurrent claims of the room wait for it (e.g. the meeting restored from its
        mirror before any join is handled). Exceptions are logged; the claim stands."""
        self._acquired.append(callback)

    def on_regained(self, callback: Callable[[str], None]) -> None:
        """``callback(room_id)`` when a lease suspended during a Redis outage was acquired anew."""
        self._regained.append(callback)

    def may_act(self, room_id: str) -> bool:
        """Whether this node may act on the meeting: it holds the lease, or the lease is suspended
        by a Redis outage (see the module docstring)."""
        if self.held(room_id) is not None:
            return True
        entry = self._suspended.get(room_id)
        return entry is not None and entry[1]

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
            keeper.start()
            log.info("meeting claimed", room_id=room_id, epoch=lease.epoch)
            for callback in list(self._acquired):   # held() stays None meanwhile: joins go through claim()
                try:
                    await callback(room_id)
                except Exception:
                    log.exception("ownership on_acquired callback failed", room_id=room_id)
            self._held[room_id] = (lease, keeper)
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
        self._expired(room_id, entry[0], entry[1])
        return None

    def owned(self) -> list[str]:
        """Room ids whose meeting lease this node holds and trusts."""
        return [room_id for room_id in list(self._held) if self.held(room_id) is not None]

    async def release(self, room_id: str) -> None:
        """Give the meeting up (it ended, or was handed over). No on_lost callback."""
        reclaim = self._suspended.pop(room_id, None)
        if reclaim is not None:
            reclaim[0].cancel()
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
        for task, _ in self._suspended.values():
            task.cancel()
        self._suspended.clear()
        for room_id in list(self._held):
            await self.release(room_id)

    def _keeper_lost(self, lease: Lease) -> None:
        room_id = lease.name.removeprefix("meeting:")
        entry = self._held.get(room_id)
        if entry is not None and entry[0] is lease:
            self._expired(room_id, lease, entry[1])

    def _expired(self, room_id: str, lease: Lease, keeper: LeaseKeeper) -> None:
        """The lease died (deadline passed, or Redis no longer holds it): try to acquire it anew.
        While Redis is away the meeting goes on meanwhile; otherwise nothing is acted on until the
        attempt answered (``settle``)."""
        if self._held.get(room_id, (None,))[0] is not lease:
            return
        del self._held[room_id]
        lease.mark_lost()
        away = keeper.redis_failing
        log.warning("meeting lease expired: acquiring it anew", room_id=room_id, epoch=lease.epoch,
                    redis_away=away)
        task = asyncio.get_running_loop().create_task(self._reclaim(room_id), name=f"reclaim:{room_id}")
        self._suspended[room_id] = (task, away)

    async def settle(self, room_id: str, timeout: float = 2.0) -> None:
        """Wait (a little) for a pending attempt to acquire the room's lease anew."""
        entry = self._suspended.get(room_id)
        if entry is not None and not entry[1]:
            await asyncio.wait({entry[0]}, timeout=timeout)

    async def _reclaim(self, room_id: str) -> None:
        """Acquire the meeting lease anew (a fresh epoch) once Redis answers; lost if another node
        holds it."""
        name = meeting_lease(room_id)
        first = True
        while True:
            if not first:
                await asyncio.sleep(RECLAIM_SECONDS)
            first = False
            try:
                lease = await self.leases.acquire(name, self.ttl_ms)
                holder = None if lease is not None else await self.leases.holder(name)
            except (RedisError, OSError):
                if room_id in self._suspended:          # Redis away: the meeting goes on meanwhile
                    self._suspended[room_id] = (self._suspended[room_id][0], True)
                continue
            if lease is None and holder is not None and holder[0] == self.node_id:
                continue            # our old lease has not expired in Redis yet
            if self._suspended.pop(room_id, None) is None:
                if lease is not None:
                    await lease.release()           # released meanwhile
                return
            if lease is None:
                log.warning("meeting lease lost: another node holds it", room_id=room_id, by=holder)
                self._notify(room_id)
                return
            keeper = LeaseKeeper(lease, self._keeper_lost)
            self._held[room_id] = (lease, keeper)
            keeper.start()
            log.info("meeting lease acquired anew", room_id=room_id, epoch=lease.epoch)
            for callback in list(self._regained):
                try:
                    callback(room_id)
                except Exception:
                    log.exception("ownership on_regained callback failed", room_id=room_id)
            return

    def _notify(self, room_id: str) -> None:
        for callback in list(self._callbacks):
            try:
                callback(room_id)
            except Exception:
                log.exception("ownership on_lost callback failed", room_id=room_id)
