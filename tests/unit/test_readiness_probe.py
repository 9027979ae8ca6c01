"""The readiness probe's caching and bound (server/http/health.py): pure logic, a stand-in check."""

from __future__ import annotations

import asyncio
import time

from server.http.health import CachedProbe, Readiness


async def test_one_probe_in_flight_and_its_result_reused():
    calls = 0

    async def check() -> bool:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return True

    probe = CachedProbe(check, timeout=1.0, ttl=10.0)
    assert await asyncio.gather(*(probe.ok() for _ in range(20))) == [True] * 20
    assert await probe.ok() is True
    assert calls == 1


async def test_a_hung_check_answers_false_within_the_timeout_and_errors_are_false():
    hang = asyncio.Event()

    async def hung() -> bool:
        await hang.wait()
        return True

    async def broken() -> bool:
        raise ConnectionError("refused")

    readiness = Readiness()
    readiness.add("store", hung, timeout=0.2, ttl=0.0)
    readiness.add("other", broken, timeout=0.2, ttl=0.0)
    t0 = time.monotonic()
    assert sorted(await readiness.failing()) == ["other", "store"]
    assert time.monotonic() - t0 < 1.0


async def test_recovers_after_the_ttl():
    state = {"up": False}

    async def check() -> bool:
        return state["up"]

    probe = CachedProbe(check, timeout=0.5, ttl=0.05)
    assert await probe.ok() is False
    state["up"] = True
    assert await probe.ok() is False          # still the cached answer
    await asyncio.sleep(0.06)
    assert await probe.ok() is True
