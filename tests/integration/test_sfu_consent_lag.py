"""ICE consent under a saturated event loop (issue 17: "ICE failed, removing participant" under
overload). Two real aioice connection pairs over the host's address, in one loop kept saturated
(150 ready callbacks of 4 ms: 0.6 s per loop turn) while RTP-sized datagrams flood the controlling
side's socket, as a publisher's media does: aioice's own consent check (one 0.5 s try) expires a
healthy peer; the lag-tolerant one (media/aiortc_compat/consent.py) keeps it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import types

import aioice
import aioice.ice
import pytest

from media.aiortc_compat.consent import STOCK_QUERY_CONSENT, lag_tolerant_query_consent

pytestmark = pytest.mark.timeout(60)


async def _pair(query_consent) -> tuple[aioice.Connection, aioice.Connection]:
    a = aioice.Connection(ice_controlling=True, components=1)
    b = aioice.Connection(ice_controlling=False, components=1)
    for c in (a, b):
        c.query_consent = types.MethodType(query_consent, c)     # this pair's consent check
    await asyncio.gather(a.gather_candidates(), b.gather_candidates())
    for x, y in ((a, b), (b, a)):
        for cand in y.local_candidates:
            await x.add_remote_candidate(cand)
        await x.add_remote_candidate(None)
        x.remote_username, x.remote_password = y.local_username, y.local_password
    await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10)
    return a, b


def _alive(*conns: aioice.Connection) -> bool:
    return all(c._query_consent_task is not None for c in conns)


async def test_a_saturated_loop_does_not_expire_consent(monkeypatch):
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.3)
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 2)
    stock = await _pair(STOCK_QUERY_CONSENT)
    tolerant = await _pair(lag_tolerant_query_consent)
    stop = threading.Event()

    def flood(conn: aioice.Connection) -> None:
        pair = next(iter(conn._nominated.values()))
        target = (pair.local_candidate.host, pair.local_candidate.port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not stop.is_set():
                for _ in range(10):
                    s.sendto(b"\x80" + bytes(1000), target)
                time.sleep(0.02)        # ~500 datagrams/s on each controlling socket

    async def busy() -> None:
        while not stop.is_set():
            end = time.perf_counter() + 0.004
            while time.perf_counter() < end:
                pass
            await asyncio.sleep(0)

    threads = [threading.Thread(target=flood, args=(c[0],), daemon=True) for c in (stock, tolerant)]
    for t in threads:
        t.start()
    workers = [asyncio.create_task(busy()) for _ in range(150)]
    try:
        began = time.monotonic()
        while _alive(*stock) and time.monotonic() - began < 30:
            await asyncio.sleep(0.05)
        stock_lasted = time.monotonic() - began
        assert not _alive(*stock), "the scenario is not hostile: aioice's own consent survived 30 s"
        assert _alive(*tolerant), f"lag-tolerant consent expired too (stock lasted {stock_lasted:.1f} s)"
    finally:
        stop.set()
        await asyncio.gather(*workers)
        for t in threads:
            t.join()
        for c in (*stock, *tolerant):
            await c.close()
