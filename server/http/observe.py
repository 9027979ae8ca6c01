"""Request ids, REST metrics and ``/metrics`` (docs/operations.md; docs/architecture.md "Observability").

``observe_middleware`` is the outermost middleware: every request gets an id (a sane incoming
``X-Request-Id`` is kept, otherwise a new one), bound into structlog's context variables for every
line logged while it is handled and returned as ``X-Request-Id``; it counts the request by its
route's template (``/api/v1/rooms/{roomId}``, never the raw URL: bounded label values), method and
status, and times it (the websocket upgrade is left to the websocket's own metrics).

``GET /metrics`` is behind the API key; with ``metrics_port`` (``--metrics-port``) a second listener
on that port serves it without a key (for a scraper on a private network).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import AsyncIterator

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..config import Settings
from ..observability.metrics import Metrics
from .api.auth import check_api_key

log = structlog.get_logger("antechamber.http")

METRICS = web.AppKey("metrics", Metrics)
REQUEST_ID = web.RequestKey("request_id", str) if hasattr(web, "RequestKey") else "antechamber.request_id"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
_UNTIMED = frozenset({"/ws"})


def request_id_of(request: web.Request) -> str:
    incoming = request.headers.get("X-Request-Id", "")
    return incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex


def route_of(request: web.Request) -> str:
    """The matched route's template, or "unmatched" (no route: a 404 of the router)."""
    route = getattr(request.match_info, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "unmatched"


def observe_middleware(metrics: Metrics):
    @web.middleware
    async def observed(request: web.Request, handler):
        rid = request[REQUEST_ID] = request_id_of(request)
        token = metrics.activate()
        started, status = time.perf_counter(), 500
        try:
            with structlog.contextvars.bound_contextvars(request_id=rid):
                response = await handler(request)
                status = response.status
                return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = route_of(request)
            if route not in _UNTIMED:
                metrics.http_requests.labels(route=route, method=request.method, status=str(status)).inc()
                metrics.http_latency.labels(route=route, method=request.method).observe(time.perf_counter() - started)
            metrics.deactivate(token)

    return observed


async def _request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    rid = request.get(REQUEST_ID)
    if rid and "X-Request-Id" not in response.headers:
        response.headers["X-Request-Id"] = rid


def _exposition(metrics: Metrics) -> web.Response:
    return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST,
                                                                         "Cache-Control": "no-store"})


async def metrics_handler(request: web.Request) -> web.Response:
    check_api_key(request)
    return _exposition(request.app[METRICS])


def setup(app: web.Application, metrics: Metrics, settings: Settings) -> None:
    """Mount ``/metrics`` and the request-id header; the middleware is in the app's list (server/app.py)."""
    app[METRICS] = metrics
    app.on_response_prepare.append(_request_id_header)
    app.router.add_get("/metrics", metrics_handler)
    app.cleanup_ctx.insert(0, _active(metrics))
    if settings.metrics_port:
        app.cleanup_ctx.append(_metrics_listener(metrics, settings.host, settings.metrics_port))


def _active(metrics: Metrics):
    """Tasks started while the app starts (cluster bus, webhook workers) count for this app."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        token = metrics.activate()
        yield
        try:
            metrics.deactivate(token)
        except ValueError:      # stopped from another context than it started in
            pass
    return ctx


def _metrics_listener(metrics: Metrics, host: str, port: int):
    """The keyless ``/metrics`` listener on its own port."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        side = web.Application()
        async def keyless(request: web.Request) -> web.Response:
            return _exposition(metrics)

        side.router.add_get("/metrics", keyless)
        runner = web.AppRunner(side, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("metrics listening", host=host, port=port)
        yield
        await runner.cleanup()
    return ctx

