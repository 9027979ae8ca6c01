"""Leases with fencing epochs on Redis (docs/architecture.md "Seams for the cluster").

A lease ``name`` is the key ``{P}lease:{name}`` holding ``"{node_id}|{epoch}"`` with a ttl; the
epoch comes from ``INCR {P}epoch:{name}`` at each acquisition, so it is never reused. Every step is
one Lua script, atomic on Redis:

- acquire: if the lease key is free, INCR the epoch and SET the value with PX ttl (else nothing);
- renew: if the key still holds our value, PEXPIRE it;
- release: if the key still holds our value, DEL it;
- fenced_set / fenced_delete: if the lease key still holds our value, SET / DEL another key — a
  holder whose lease expired or moved cannot write with its stale epoch.

``Lease.valid`` needs no Redis: it compares ``time.monotonic()`` with a local deadline taken from
the moment the acquire/renew request was *sent* plus the ttl (less a small allowance for clock
drift). Redis starts its ttl when it runs the command, later than that, so while ``valid`` is true
no other node can hold the lease; a process paused longer than the ttl (SIGSTOP) sees its lease
invalid as soon as it runs again, before any round trip. Once invalid, a lease stays dead.

``LeaseKeeper`` renews a lease in a task every ttl/3 and calls ``on_lost`` once, when a renew
finds the lease gone or when the deadline passes without a successful renew (Redis away).
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import redis.asyncio as aioredis
import structlog

from ..domain.tasks import stop_task

log = structlog.get_logger(__name__)

# KEYS: lease, epoch; ARGV: node id, ttl ms. Returns the new epoch, or 0 when someone holds it.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
return epoch
"""

# KEYS: lease; ARGV: value, ttl ms
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: lease; ARGV: value
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: lease, target; ARGV: value, data, px ms (0 = no expiry)
_FENCED_SET = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
"""

# KEYS: lease, target; ARGV: value
_FENCED_DELETE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
return 1
"""

DRIFT_FACTOR = 0.01     # the local deadline is ttl * (1 - 0.01) - 2 ms after the request was sent
DRIFT_MS = 2.0


def _lifetime(ttl_ms: int) -> float:
    """Seconds a lease is trusted locally after its acquire/renew request was sent."""
    return (ttl_ms * (1.0 - DRIFT_FACTOR) - DRIFT_MS) / 1000.0


def parse_value(raw: bytes | str | None) -> tuple[str, int] | None:
    """``b"node|7"`` -> ``("node", 7)``; None for a free lease or a value that is not ours."""
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    node_id, sep, epoch = text.rpartition("|")
    if not sep or not epoch.isdigit():
        return None
    return node_id, int(epoch)


class Leases:
    """Acquire leases for ``node_id`` under the cluster prefix ``prefix``."""

    def __init__(self, redis: aioredis.Redis, prefix: str, node_id: str) -> None:
        if "|" in node_id:
            raise ValueError("a node id cannot contain '|'")
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._fenced_set = redis.register_script(_FENCED_SET)
        self._fenced_delete = redis.register_script(_FENCED_DELETE)

    def lease_key(self, name: str) -> str:
        return f"{self.prefix}lease:{name}"

    def epoch_key(self, name: str) -> str:
        return f"{self.prefix}epoch:{name}"

    async def acquire(self, name: str, ttl_ms: int) -> Lease | None:
        """The lease, or None when another holder has it. Redis errors propagate."""
        sent = time.monotonic()
        epoch = int(await self._acquire(keys=[self.lease_key(name), self.epoch_key(name)],
                                        args=[self.node_id, int(ttl_ms)]))
        if epoch == 0:
            return None
        return Lease(self, name, epoch, int(ttl_ms), sent + _lifetime(ttl_ms))

    async def holder(self, name: str) -> tuple[str, int] | None:
        """(node id, epoch) of the current holder, or None when the lease is free."""
        return parse_value(await self.redis.get(self.lease_key(name)))


class Lease:
    """One acquisition of a lease: ``name``, ``node_id``, ``epoch`` and a local deadline."""

    def __init__(self, leases: Leases, name: str, epoch: int, ttl_ms: int, deadline: float) -> None:
        self._leases = leases
        self.name = name
        self.node_id = leases.node_id
        self.epoch = epoch
        self.ttl_ms = ttl_ms
        self._deadline = deadline
        self._dead = False
        self._key = leases.lease_key(name)
        self.value = f"{self.node_id}|{epoch}"

    def __repr__(self) -> str:
        return f"Lease({self.name!r}, {self.value!r}, valid={self.valid})"

    @property
    def valid(self) -> bool:
        """True while no other node can hold this lease: local clock only, no Redis."""
        if self._dead:
            return False
        if time.monotonic() >= self._deadline:
            self._dead = True
            return False
        return True

    @property
    def remaining(self) -> float:
        """Seconds until the local deadline (0 once invalid)."""
        return max(0.0, self._deadline - time.monotonic()) if self.valid else 0.0

    async def renew(self) -> bool:
        """Extend the lease by its ttl. False when it is lost (gone, moved, or already past its
        deadline: a dead lease is never revived). Redis errors propagate (the lease stays as it
        was; ``valid`` turns false on its own at the deadline)."""
        if not self.valid:
            return False
        sent = time.monotonic()
        ok = await self._leases._renew(keys=[self._key], args=[self.value, self.ttl_ms])
        if not ok:
            self._dead = True
            return False
        if not self._dead:
            self._deadline = sent + _lifetime(self.ttl_ms)
        return not self._dead

    async def release(self) -> None:
        """Give the lease up (only if Redis still holds our value). Redis errors propagate; the
        lease is dead locally either way (Redis drops it at its ttl)."""
        self._dead = True
        await self._leases._release(keys=[self._key], args=[self.value])

    async def fenced_set(self, key: str, value: bytes, px: int | None = None) -> bool:
        """SET ``key`` only while Redis holds this lease's value. False = lost (never raises for
        that); Redis errors propagate."""
        ok = await self._leases._fenced_set(keys=[self._key, key], args=[self.value, value, int(px or 0)])
        return bool(ok)

    async def fenced_delete(self, key: str) -> bool:
        """DEL ``key`` only while Redis holds this lease's value. False = lost."""
        ok = await self._leases._fenced_delete(keys=[self._key, key], args=[self.value])
        return bool(ok)

    def mark_lost(self) -> None:
        """Treat the lease as lost from now on (``valid`` false, renew refused)."""
        self._dead = True


def _ignore_result(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()            # retrieved: a late renew's error is of no interest


RETRY_SECONDS = 0.2     # a renew that failed on a Redis error is tried again this soon


class LeaseKeeper:
    """Renew ``lease`` every ``every`` seconds (default ttl/3) in a task; ``on_lost(lease)`` is
    called once when the lease is lost. Redis errors are logged and retried, never raised."""

    def __init__(self, lease: Lease, on_lost: Callable[[Lease], None], every: float | None = None) -> None:
        self.lease = lease
        self._on_lost = on_lost
        self.every = every if every is not None else lease.ttl_ms / 3000.0
        self._task: asyncio.Task | None = None
        self._lost_called = False
        self._stopping = False
        self.redis_failing = False      # the last renew failed with a Redis error (Redis away)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"lease:{self.lease.name}")

    async def stop(self) -> None:
        """Stop renewing (the lease is neither released nor reported lost)."""
        task, self._task = self._task, None
        self._stopping = True
        await stop_task(task)

    async def _run(self) -> None:
        lease = self.lease
        next_at = time.monotonic() + self.every
        failures = 0
        while not self._stopping:
            # wake for the next renew, or at the deadline at the latest
            await asyncio.sleep(max(0.0, min(next_at - time.monotonic(), lease.remaining)))
            if not lease.valid:
                self._lost("deadline passed")
                return
            # a renew still in flight at the deadline no longer helps: the lease is lost then. The
            # renew is not cancelled (cancelling redis-py mid-command leaks); it ends on its own,
            # bounded by the client's socket timeouts, and cannot revive a dead lease
            renew = asyncio.ensure_future(lease.renew())
            renew.add_done_callback(_ignore_result)     # also when the keeper stops meanwhile
            done, _ = await asyncio.wait({renew}, timeout=lease.remaining)
            if not done:                            # Redis did not answer in time: away or hung
                self.redis_failing = True
                continue                            # the loop sees the deadline passed
            try:
                ok = renew.result()
            except Exception as exc:                # RedisError, OSError: Redis away or slow
                # the first failure of a streak is a warning, the retries after it are debug
                (log.debug if failures else log.warning)(
                    "lease renew failed, retrying", lease=lease.name, epoch=lease.epoch,
                    error=type(exc).__name__)
                failures += 1
                self.redis_failing = True
                next_at = time.monotonic() + min(RETRY_SECONDS, self.every)
                continue
            failures = 0
            self.redis_failing = False
            if not ok:
                self._lost("lease gone or taken")
                return
            next_at = time.monotonic() + self.every

    def _lost(self, why: str) -> None:
        if self._lost_called:
            return
        self._lost_called = True
        self.lease.mark_lost()
        log.warning("lease lost", lease=self.lease.name, epoch=self.lease.epoch, why=why)
        try:
            self._on_lost(self.lease)
        except Exception:
            log.exception("lease on_lost callback failed", lease=self.lease.name)
