"""The cluster's Redis connection (docs/architecture.md "Layers", "Seams for the cluster").

``connect(url)`` takes the store's URL (``--redis-url``, with its optional ``?prefix=``) and
returns a ``redis.asyncio.Redis`` and the *cluster* key prefix: the store's prefix followed by
``cluster:`` (default ``antechamber:cluster:``), so every cluster key sits next to the store's
keys and a test's unique prefix covers both.

Commands fail fast when Redis is away (a short connect/read timeout and two quick retries instead
of redis-py's default of ten), because leases must notice an outage before their ttl runs out.
Blocking pub/sub reads are not bounded by the read timeout (redis-py reads them without one).
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from server.store.redis_store import split_prefix

CLUSTER_SUFFIX = "cluster:"
POOL_SIZE = 50              # connections to Redis per node for the cluster's own commands
POOL_WAIT_SECONDS = 5.0     # how long a command waits for a free connection
SOCKET_TIMEOUT = 2.0        # connect and read timeout of one command (seconds)
RETRIES = 2                 # reconnect-and-retry on a broken connection, 20..100 ms apart


def cluster_prefix(store_prefix: str) -> str:
    """The cluster's key prefix for a store prefix: ``antechamber:`` -> ``antechamber:cluster:``."""
    return store_prefix + CLUSTER_SUFFIX


def connect(url: str) -> tuple[aioredis.Redis, str]:
    """A Redis client for the cluster and the cluster key prefix. No I/O happens here (redis-py
    connects on the first command); ``await client.aclose()`` at the end."""
    plain_url, store_prefix = split_prefix(url)
    pool = aioredis.BlockingConnectionPool.from_url(
        plain_url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_SECONDS,
        decode_responses=False,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), RETRIES),
    )
    return aioredis.Redis.from_pool(pool), cluster_prefix(store_prefix)
