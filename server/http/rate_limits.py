"""REST rate limits at the edge: every API request with a valid API key spends points of its key's budget.

docs/architecture.md "Limits"; the rule is server/domain/rate_limits.py, the cluster's counters
server/cluster/rate_limits.py. ``setup(app, limits)`` adds the middleware (inside the error
middleware: a URL refused as text spends nothing) and a response hook that puts
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` on every response to a
keyed request, errors and streamed downloads included. A refused request is answered 429
``{code: "too_many_requests", message, data: {msLeft}}`` with ``Retry-After`` and logged as the
structlog event ``rate limited`` (route and key id, never the key) and counted
(``antechamber_rate_limited{scope="rest"}``, server/observability/metrics.py). When the
counters cannot be reached (Redis down) or do not answer within ``COUNTER_WAIT`` seconds (Redis hung),
requests go through without the headers: the limiter never makes an outage slower than it is.
"""

from __future__ import annotations

import asyncio
import math

import structlog
from aiohttp import web

from ..domain.access.keys import api_key_matches
from ..domain.rate_limits import RateLimits, Verdict, key_id, request_cost
from ..observability.metrics import count_rate_limited
from ..store.redis_store import UNAVAILABLE_ERRORS
from .api.auth import presented_key
from .appkeys import CREDENTIALS

log = structlog.get_logger("antechamber.http")

RATE_LIMITS = web.AppKey("rest_rate_limits", RateLimits)
_VERDICT = web.RequestKey("rest_rate_limit_verdict", Verdict)    # for the response hook
_LIMITED = ("/api/", "/meet/api/", "/v1/")
COUNTER_WAIT = 0.5      # seconds: a counter slower than this lets the request through uncounted


def route_of(request: web.Request) -> str:
    """The matched route's pattern (``/api/v1/rooms/{roomId}``), not the path with its ids."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


def refused(verdict: Verdict, ms_left: int) -> web.Response:
    body = {"error": "too_many_requests", "code": "too_many_requests",
            "message": f"rate limit of {verdict.limit} points per minute reached; retry in {verdict.retry_after} s",
            "data": {"msLeft": ms_left}}
    return web.json_response(body, status=429)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler):
    limits = request.app[RATE_LIMITS]
    if not limits.enabled or not request.path.startswith(_LIMITED):
        return await handler(request)
    key = presented_key(request)
    if not key or not api_key_matches(request.app[CREDENTIALS].api_keys, key):
        return await handler(request)       # refused by the handler's key check (401), not counted
    name = key_id(key)
    try:
        async with asyncio.timeout(COUNTER_WAIT):
            verdict = await limits.take(name, request_cost(request.method))
    except (TimeoutError, *UNAVAILABLE_ERRORS) as exc:
        log.warning("rate limit counters unreachable: request let through", error=type(exc).__name__)
        return await handler(request)
    request[_VERDICT] = verdict
    if not verdict.allowed:
        log.info("rate limited", scope="rest", route=route_of(request), method=request.method, key_id=name,
                 retry_after=verdict.retry_after)
        count_rate_limited("rest")
        return refused(verdict, max(0, math.ceil((verdict.reset_at - limits.wall_clock()) * 1000)))
    return await handler(request)


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    verdict = request.get(_VERDICT)
    if verdict is not None:
        response.headers.update(verdict.headers())


def setup(app: web.Application, limits: RateLimits) -> None:
    app[RATE_LIMITS] = limits
    app.middlewares.append(rate_limit_middleware)
    app.on_response_prepare.append(_add_headers)
