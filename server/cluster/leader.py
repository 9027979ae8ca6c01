"""A cluster-wide leader lease, e.g. ``leader:sweeper`` (docs/architecture.md "Seams for the cluster").

Each candidate runs a task that tries to acquire the lease every ttl/3 while it is not leader;
once it holds it, a LeaseKeeper renews it. ``is_leader`` is true only while that lease is valid
by the local deadline (no Redis), so two candidates are never both leaders: the old one's
deadline passes before Redis lets the lease expire for the next one. ``close()`` releases the
lease, so another candidate takes over at its next attempt (within ttl/3).
"""

from __future__ import annotations

import asyncio

import structlog
from redis.exceptions import RedisError

from .leases import Lease, LeaseKeeper, Leases
from ..domain.tasks import stop_task

log = structlog.get_logger(__name__)

LEADER_TTL_MS = 5000


class Leader:
    """Candidate for the lease ``name``; ``start()`` then read ``is_leader`` when about to act."""

    def __init__(self, leases: Leases, name: str, ttl_ms: int = LEADER_TTL_MS) -> None:
        self.leases = leases
        self.name = name
        self.ttl_ms = ttl_ms
        self.every = ttl_ms / 3000.0
        self._lease: Lease | None = None
        self._keeper: LeaseKeeper | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._failures = 0          # acquire attempts failed in a row (Redis away)
        self._closing = False

    @property
    def is_leader(self) -> bool:
        """True only while this candidate holds a valid lease (local clock, no Redis)."""
        return self._lease is not None and self._lease.valid

    @property
    def epoch(self) -> int | None:
        """Fencing epoch of the lease held now, or None."""
        return self._lease.epoch if self.is_leader else None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"leader:{self.name}")

    async def close(self) -> None:
        """Stop competing and release the lease if held."""
        task, self._task = self._task, None
        self._closing = True
        await stop_task(task)
        await self._drop_keeper()
        lease, self._lease = self._lease, None
        if lease is not None:
            try:
                await lease.release()
            except (RedisError, OSError) as exc:       # expires at its ttl anyway
                log.warning("leader release failed", lease=self.name, error=type(exc).__name__)

    async def _run(self) -> None:
        while not self._closing:
            if self._lease is None:
                await self._try_acquire()
            if self._closing:
                return
            if self._lease is not None:
                await self._lost.wait()
                await self._drop_keeper()
                log.warning("leadership lost", lease=self.name, epoch=self._lease.epoch)
                self._lease = None
                continue                            # try again at once: the lease may be free
            await asyncio.sleep(self.every)

    async def _try_acquire(self) -> None:
        try:
            # bounded by the client's socket timeouts; a cancelled acquire could leave the lease
            # taken in Redis by an epoch nobody knows until its ttl
            lease = await self.leases.acquire(self.name, self.ttl_ms)
        except (RedisError, OSError) as exc:
            (log.debug if self._failures else log.warning)(
                "leader acquire failed, retrying", lease=self.name, error=type(exc).__name__)
            self._failures += 1
            return
        self._failures = 0
        if lease is None:
            return
        self._lost.clear()
        self._lease = lease
        self._keeper = LeaseKeeper(lease, lambda _lease: self._lost.set(), every=self.every)
        self._keeper.start()
        log.info("leadership acquired", lease=self.name, epoch=lease.epoch)

    async def _drop_keeper(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            await keeper.stop()
