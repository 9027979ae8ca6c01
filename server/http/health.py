"""Liveness and readiness probes (docs/architecture.md "Seams for the cluster": a Redis outage).

``/healthz`` answers 200 while the process runs: it touches nothing. ``/readyz`` answers 503 when
a readiness check fails (the store by default: ``ping``). Checks are cached probes: one probe in
flight at a time, bounded by ``PROBE_TIMEOUT`` (a hung Redis never holds the request for the
socket timeout), its result kept for ``PROBE_TTL``; so a node turns unready within about
``PROBE_TIMEOUT + PROBE_TTL`` of its store going away, and ready again as soon after it returns.
More checks (the cluster's, a draining node) are added with ``Readiness.add``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

import structlog
from aiohttp import web

from .appkeys import READINESS, SETTINGS, STORE

log = structlog.get_logger("antechamber.http")

PROBE_TIMEOUT = 1.0     # seconds one probe may take
PROBE_TTL = 1.0         # seconds a probe's result is reused

Check = Callable[[], Awaitable[bool]]


class CachedProbe:
    """One check, run at most once per ``ttl`` and never longer than ``timeout``; False on any error."""

    def __init__(self, check: Check, timeout: float = PROBE_TIMEOUT, ttl: float = PROBE_TTL) -> None:
        self.check, self.timeout, self.ttl = check, timeout, ttl
        self._result: bool | None = None
        self._at = 0.0
        self._running: asyncio.Future | None = None

    async def ok(self) -> bool:
        if self._result is not None and time.monotonic() - self._at < self.ttl:
            return self._result
        if self._running is None:
            self._running = asyncio.ensure_future(self._probe())
        return await asyncio.shield(self._running)

    async def _probe(self) -> bool:
        try:
            result = bool(await asyncio.wait_for(self.check(), self.timeout))
        except Exception as exc:   # noqa: BLE001 - whatever the cause, the node is not ready
            result = False
            log.warning("readiness probe failed", error=type(exc).__name__)
        self._result, self._at, self._running = result, time.monotonic(), None
        return result


class Readiness:
    """Named cached probes; ready when every one is."""

    def __init__(self) -> None:
        self.probes: dict[str, CachedProbe] = {}

    def add(self, name: str, check: Check, timeout: float = PROBE_TIMEOUT, ttl: float = PROBE_TTL) -> None:
        self.probes[name] = CachedProbe(check, timeout, ttl)

    async def failing(self) -> list[str]:
        names = list(self.probes)
        results = await asyncio.gather(*(self.probes[n].ok() for n in names))
        return [n for n, ok in zip(names, results) if not ok]


async def healthz(request: web.Request) -> web.Response:
    """Liveness, and which node answered (``node``: its node id; the workers of one machine share a port)."""
    return web.json_response({"status": "ok", "node": request.app[SETTINGS].node_id})


async def readyz(request: web.Request) -> web.Response:
    failing = await request.app[READINESS].failing()
    if failing:
        body = {"status": "unavailable", **{name: "unreachable" for name in failing}}
        return web.json_response(body, status=503, headers={"Cache-Control": "no-store"})
    return web.json_response({"status": "ready"}, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    if READINESS not in app:
        app[READINESS] = Readiness()
    if "store" not in app[READINESS].probes:
        app[READINESS].add("store", lambda: app[STORE].ping())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
