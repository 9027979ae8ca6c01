"""The node registry: who is in the cluster, at what load (docs/architecture.md "Seams for the cluster").

Every node writes ``{P}node:{node_id}`` (a msgpack map of NodeInfo) with PX ttl every
``interval`` seconds (2 s / 6 s by default) and keeps its id in the set ``{P}nodes``. A node
that stops writing (crash, kill -9, partition) disappears when its key expires; ``nodes()``
prunes such ids from the set as it lists. ``close()`` deletes the key and the set entry at once
(a node leaving on purpose). Redis errors are logged and never end the heartbeat task: it keeps
trying every interval.

``cpu`` is measured here: process CPU time (``time.process_time()``, all threads) spent between
two heartbeats divided by the wall time between them — 1.0 is one core busy (threads running in
parallel can push it above 1).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import msgpack
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from ..domain.tasks import stop_task

log = structlog.get_logger(__name__)

# KEYS: the node set, then node keys; ARGV: their ids. Drop an id only if its key is (still) gone.
_PRUNE = """
local dropped = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then dropped = dropped + redis.call('SREM', KEYS[1], ARGV[i - 1]) end
end
return dropped
"""

STATES = ("ready", "draining")
HEARTBEAT_SECONDS = 2.0
NODE_TTL_SECONDS = 6.0


@dataclass
class NodeInfo:
    node_id: str
    url: str                    # internal base URL, e.g. http://10.0.0.5:8080
    state: str = "ready"        # "ready" | "draining"
    participants: int = 0
    streams: int = 0            # forwarded streams
    cpu: float = 0.0            # cores busy in this process (1.0 = one core)
    busy: bool = False          # past its forwarding budget (media/load.py): no new meetings
    meetings: list[str] = field(default_factory=list)   # room ids it owns
    started_at: float = 0.0     # unix seconds
    heartbeat_at: float = 0.0   # unix seconds

    def to_bytes(self) -> bytes:
        return msgpack.packb(dataclasses.asdict(self), use_bin_type=True)

    @classmethod
    def from_bytes(cls, raw: bytes) -> NodeInfo:
        data = msgpack.unpackb(raw, raw=False)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class _CpuMeter:
    """Process CPU time over wall time since the previous reading."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def read(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        spent, elapsed = cpu - self._cpu, wall - self._wall
        self._cpu, self._wall = cpu, wall
        return round(spent / elapsed, 3) if elapsed > 0 else 0.0


class NodeRegistry:
    """This node's heartbeat, and the list of live nodes."""

    def __init__(self, redis: aioredis.Redis, prefix: str, node_id: str, url: str,
                 load: Callable[[], dict], interval: float = HEARTBEAT_SECONDS,
                 ttl: float = NODE_TTL_SECONDS) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id
        self.url = url
        self._load = load
        self.interval = interval
        self.ttl_ms = int(ttl * 1000)
        self.state = "ready"
        self.started_at = time.time()
        self._cpu = _CpuMeter()
        self._last_load: dict[str, Any] = {}
        self._last_cpu = 0.0
        self._failures = 0          # heartbeats failed in a row (Redis away)
        self._closing = False
        self._prune = redis.register_script(_PRUNE)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def _node_key(self, node_id: str) -> str:
        return f"{self.prefix}node:{node_id}"

    @property
    def _set_key(self) -> str:
        return f"{self.prefix}nodes"

    async def start(self) -> None:
        """Write the first heartbeat (a Redis error is logged, not raised) and keep beating."""
        if self._task is not None:
            return
        await self._beat()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="node-heartbeat")

    async def close(self, leave: bool = True) -> None:
        """Stop the heartbeat; with ``leave`` (the default) delete this node's key and set entry
        so it leaves the registry at once. ``leave=False`` only stops beating (like a crash: the
        key expires after the ttl)."""
        task, self._task = self._task, None
        self._closing = True
        await stop_task(task)
        if not leave:
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._node_key(self.node_id))
                pipe.srem(self._set_key, self.node_id)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("leaving the node registry failed", node_id=self.node_id, error=type(exc).__name__)

    def set_state(self, state: str) -> None:
        """"ready" or "draining"; the next heartbeat (written at once) carries it."""
        if state not in STATES:
            raise ValueError(f"node state must be one of {STATES}")
        self.state = state
        self._wake.set()

    def info(self) -> NodeInfo:
        """This node's entry as it is written now (load read from ``load()``, cpu as measured
        at the last heartbeat)."""
        try:
            self._last_load = dict(self._load())
        except Exception:
            log.exception("node load callback failed")   # the last known load is written
        load = self._last_load
        return NodeInfo(
            node_id=self.node_id, url=self.url, state=self.state,
            participants=int(load.get("participants", 0)), streams=int(load.get("streams", 0)),
            cpu=self._last_cpu, meetings=list(load.get("meetings", ())), busy=bool(load.get("busy", False)),
            started_at=self.started_at, heartbeat_at=time.time(),
        )

    async def nodes(self) -> list[NodeInfo]:
        """Live nodes (their key has not expired), by node id; expired ids leave the set."""
        ids = sorted(m.decode() if isinstance(m, bytes) else m for m in await self.redis.smembers(self._set_key))
        if not ids:
            return []
        raws = await self.redis.mget([self._node_key(i) for i in ids])
        gone = [i for i, raw in zip(ids, raws) if raw is None]
        if gone:
            await self._prune(keys=[self._set_key, *(self._node_key(i) for i in gone)], args=gone)
        return [NodeInfo.from_bytes(raw) for raw in raws if raw is not None]

    async def node(self, node_id: str) -> NodeInfo | None:
        raw = await self.redis.get(self._node_key(node_id))
        return NodeInfo.from_bytes(raw) if raw is not None else None

    async def _beat(self) -> bool:
        self._last_cpu = self._cpu.read()
        info = self.info()
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(self._node_key(self.node_id), info.to_bytes(), px=self.ttl_ms)
                pipe.sadd(self._set_key, self.node_id)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            (log.debug if self._failures else log.warning)(
                "node heartbeat failed, retrying", node_id=self.node_id, error=type(exc).__name__)
            self._failures += 1
            return False
        if self._failures:
            log.info("node heartbeat written again", node_id=self.node_id, failed=self._failures)
            self._failures = 0
        return True

    async def _run(self) -> None:
        while not self._closing:
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for may swallow a cancel that
                # lands as its timeout fires, and close() then waits for this task forever
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if self._closing:
                return
            try:
                # not cut short with a timeout: cancelling redis-py mid-command is what leaks;
                # a beat is bounded by the client's socket timeouts (redis_client.py)
                await self._beat()
            except Exception:
                log.exception("node heartbeat failed")      # never ends the task
