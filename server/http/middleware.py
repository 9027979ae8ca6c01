"""Error translation at the edge: typed errors and aiohttp's HTTP errors become JSON.

Every API request's URL (path segments, query parameters) and credential headers are
checked for acceptable text here, before routing reaches a handler (server/http/api/query.py
``check_url``); JSON bodies are checked where they are parsed (server/http/api/jsonbody.py).
Every API answer that sets no ``Cache-Control`` of its own gets ``no-store``: answers carry keys
and links with keys (as keyed pages are sent: docs/client.md).
"""

from __future__ import annotations

import structlog
from aiohttp import web

from ..domain.errors import ApiError, Unavailable
from ..store.redis_store import UNAVAILABLE_ERRORS
from .api.query import TextError, check_url, is_whereby, text_refused

log = structlog.get_logger("antechamber.http")

_STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 416: "range_not_satisfiable", 422: "validation_error",
    429: "too_many_requests",
}


def error_response(err: ApiError) -> web.Response:
    return web.json_response(err.body(), status=err.status, headers=err.headers)


def store_unavailable() -> Unavailable:
    """A request that needs the store while it is unreachable (Redis down or hung): 503, soon again."""
    return Unavailable("the store is unreachable right now; try again shortly", headers={"Retry-After": "2"})


def _is_api(request: web.Request) -> bool:
    p = request.path
    return p.startswith(("/api/", "/meet/api/", "/v1/", "/internal/"))


@web.middleware
async def errors_middleware(request: web.Request, handler):
    resp = await _answer(request, handler)
    if _is_api(request) and not resp.prepared and "Cache-Control" not in resp.headers:
        resp.headers["Cache-Control"] = "no-store"   # answers carry keys, links and private data
    return resp


async def _answer(request: web.Request, handler):
    try:
        if _is_api(request):
            try:
                check_url(request)
            except TextError as err:
                raise text_refused(err, is_whereby(request)) from None
        return await handler(request)
    except ApiError as err:
        return error_response(err)
    except UNAVAILABLE_ERRORS as exc:
        log.warning("store unreachable", path=request.path, method=request.method, error=type(exc).__name__)
        if not _is_api(request):
            raise web.HTTPServiceUnavailable(text="service unavailable, try again shortly") from None
        return error_response(store_unavailable())
    except web.HTTPException as exc:
        if exc.status < 400 or not _is_api(request):
            raise
        code = _STATUS_CODES.get(exc.status, "error")
        message = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
        if exc.status == 413:
            message = "request body is too large"
        return web.json_response({"error": code, "code": code, "message": message}, status=exc.status)
    except Exception:
        log.exception("unhandled error", path=request.path, method=request.method)
        body = {"error": "internal_error", "code": "internal_error", "message": "internal server error"}
        return web.json_response(body, status=500)
