"""Requests between the nodes of a cluster (docs/architecture.md "Seams for the cluster", recordings
from any node): signed with an HMAC of the shared server secret, never with an API key, and a
response streamed through from another node's internal URL.

A signed request carries ``X-Antechamber-Node`` (the sender's node id), ``X-Antechamber-Time``
(unix seconds) and ``X-Antechamber-Signature``: hex HMAC-SHA256, under a key derived from the server
secret for this purpose only, of ``method, raw path with query, node, time`` (one per line). The
receiver accepts it within ``MAX_SKEW`` seconds of its own clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import aiohttp
import structlog
from aiohttp import web
from yarl import URL

from ..domain.errors import Unauthorized, Unavailable

log = structlog.get_logger("antechamber.http")

NODE, TIME, SIGNATURE = "X-Antechamber-Node", "X-Antechamber-Time", "X-Antechamber-Signature"
MAX_SKEW = 30                       # seconds
CONNECT_TIMEOUT = 2.0               # to the other node
READ_TIMEOUT = 15.0                 # between two chunks of its answer
CHUNK = 256 * 1024
# what a download's request and answer carry through the proxy (Range: 206 and its headers as they are)
REQUEST_HEADERS = ("Range", "If-Range", "Accept", "If-None-Match", "If-Modified-Since")
RESPONSE_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Content-Disposition",
                    "ETag", "Last-Modified", "Cache-Control", "Vary", "X-Content-Type-Options", "Referrer-Policy")


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, b"antechamber node link v1", hashlib.sha256).digest()


def signature(secret: bytes, method: str, path_qs: str, node_id: str, at: int) -> str:
    text = f"{method.upper()}\n{path_qs}\n{node_id}\n{at}".encode()
    return hmac.new(_key(secret), text, hashlib.sha256).hexdigest()


def signed_headers(secret: bytes, method: str, path_qs: str, node_id: str) -> dict[str, str]:
    at = int(time.time())
    return {NODE: node_id, TIME: str(at), SIGNATURE: signature(secret, method, path_qs, node_id, at)}


def verify(secret: bytes, request: web.Request) -> str:
    """The sending node's id of a correctly signed request; else 401 (nothing said about why)."""
    node, at, sig = (request.headers.get(h, "") for h in (NODE, TIME, SIGNATURE))
    try:
        fresh = abs(time.time() - int(at)) <= MAX_SKEW
    except ValueError:
        fresh = False
    if node and fresh and sig:
        expected = signature(secret, request.method, request.raw_path, node, int(at))
        if hmac.compare_digest(expected, sig):
            return node
    raise Unauthorized("this endpoint is for the nodes of the cluster")


async def proxy(request: web.Request, base_url: str, path_qs: str, secret: bytes, node_id: str) -> web.StreamResponse:
    """GET ``path_qs`` from the node at ``base_url``, signed as ``node_id``, and stream its answer
    (status, the headers of RESPONSE_HEADERS, body) to ``request``'s client. 503 ``unavailable``
    when that node cannot be reached; if it breaks off midway, the client's connection is cut."""
    headers = {h: request.headers[h] for h in REQUEST_HEADERS if h in request.headers}
    headers.update(signed_headers(secret, "GET", path_qs, node_id))
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
    resp: web.StreamResponse | None = None
    try:
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
            async with session.get(URL(base_url.rstrip("/") + path_qs, encoded=True), headers=headers,
                                   allow_redirects=False) as upstream:
                resp = web.StreamResponse(status=upstream.status, headers={
                    h: upstream.headers[h] for h in RESPONSE_HEADERS if h in upstream.headers})
                await resp.prepare(request)
                async for chunk in upstream.content.iter_chunked(CHUNK):
                    await resp.write(chunk)
                await resp.write_eof()
                return resp
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        log.warning("node link failed", node=base_url, path=path_qs.split("?", 1)[0], error=type(exc).__name__)
        if resp is not None and resp.prepared:     # too late for a status: cut the client off
            resp.force_close()
            return resp
        raise Unavailable("the node holding this file cannot be reached; try again shortly") from None
