"""API key authentication: ``X-API-KEY: <key>`` or ``Authorization: Bearer <key>``.

Keys are compared in constant time (server.domain.access.keys.api_key_matches) and never logged.
"""

from __future__ import annotations

import functools
from typing import Awaitable, Callable, Iterable

from aiohttp import web

from ..appkeys import CREDENTIALS
from ...domain.errors import Unauthorized
from ...domain.access.keys import api_key_matches

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def presented_key(request: web.Request) -> str | None:
    key = request.headers.get("X-API-KEY")
    if key:
        return key.strip()
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def check_api_key(request: web.Request) -> None:
    key = presented_key(request)
    if key is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'X-API-KEY: <key>'",
                           headers={"WWW-Authenticate": 'Bearer realm="antechamber"'})
    if not api_key_matches(request.app[CREDENTIALS].api_keys, key):
        raise Unauthorized("invalid API key", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def require_api_key(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        check_api_key(request)
        return await handler(request)

    return wrapped


def add_routes(app: web.Application, prefixes: Iterable[str], routes: Iterable[tuple[str, str, Handler]], *,
               api_key: bool = True) -> None:
    """Add each ``(method, path, handler)`` under every prefix; with ``api_key`` behind the API key
    (else the handler decides who may call it)."""
    r = app.router
    add = {"GET": r.add_get, "POST": r.add_post, "PUT": r.add_put, "DELETE": r.add_delete}
    for prefix in prefixes:
        for method, path, handler in routes:
            add[method](prefix + path, require_api_key(handler) if api_key else handler)
