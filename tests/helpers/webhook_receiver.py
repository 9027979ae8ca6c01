"""A real local webhook receiver for tests: an aiohttp server on 127.0.0.1 that checks each request's
signature the way Whereby's and OpenVidu Meet's documented receivers do (HMAC-SHA256 of
"<timestamp>.<JSON.stringify(body)>"), written here independently of the server's code."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web
from multidict import CIMultiDict

from tests.helpers.redis_server import free_port


def stringify(body: Any) -> bytes:
    """What JavaScript's JSON.stringify(JSON.parse(raw)) gives back (the receivers' examples sign that)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signature_ok(fmt: str, secret: str, body: Any, headers: Any) -> bool:
    if fmt == "openvidu":
        t, sig = headers.get("x-timestamp", ""), headers.get("x-signature", "")
    else:
        parts = dict(p.split("=", 1) for p in headers.get("whereby-signature", "").split(",") if "=" in p)
        t, sig = parts.get("t", ""), parts.get("v1", "")
    if not t or not sig:
        return False
    want = hmac.new(secret.encode(), f"{t}.".encode() + stringify(body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig)


@dataclass
class Received:
    path: str
    headers: CIMultiDict  # case-insensitive, as HTTP headers are
    raw: bytes
    body: Any
    status: int


@dataclass
class Receiver:
    """``answer(path, body) -> status`` decides each answer (default 200); ``got`` lists every request."""
    port: int = field(default_factory=free_port)
    answer: Callable[[str, Any], int] = lambda path, body: 200
    delay: Callable[[str, Any], float] = lambda path, body: 0.0
    got: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ok(self, path: str | None = None) -> list[Received]:
        """The requests answered 2xx (in the order they arrived), on ``path`` if given."""
        return [r for r in self.got if 200 <= r.status < 300 and (path is None or r.path == path)]

    async def start(self) -> "Receiver":
        async def handle(request: web.Request) -> web.Response:
            raw = await request.read()
            body = json.loads(raw)
            wait = self.delay(request.path, body)
            if wait:
                await asyncio.sleep(wait)
            status = self.answer(request.path, body)
            self.got.append(Received(request.path, CIMultiDict(request.headers), raw, body, status))
            return web.Response(status=status, text="ok")
        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
