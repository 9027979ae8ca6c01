"""The REST rate-limit counters of a cluster: one counter per API key and minute in Redis, for every node.

docs/architecture.md "Limits" (server/domain/rate_limits.py holds the rule). ``take`` is one Lua
script, so checking the budget and adding the request's points is atomic across nodes; the key
expires with its window. Keys: ``<cluster prefix>ratelimit:<key id>:<minute>``.
"""

from __future__ import annotations

import redis.asyncio as aioredis

# KEYS[1] bucket; ARGV cost, limit, ttl ms -> {points used after, 1 if taken else 0}
_TAKE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if used + cost > tonumber(ARGV[2]) then
  return {used, 0}
end
used = redis.call('INCRBY', KEYS[1], cost)
if used == cost then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {used, 1}
"""


class RedisCounters:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.prefix = prefix + "ratelimit:"
        self._script = redis.register_script(_TAKE)

    async def take(self, bucket: str, cost: int, limit: int, ttl_ms: int) -> tuple[int, bool]:
        used, taken = await self._script(keys=[self.prefix + bucket], args=[cost, limit, ttl_ms])
        return int(used), bool(int(taken))
