"""Cluster tests on the real Redis: a unique key prefix per test, and a TCP proxy that can cut the
way to Redis (a Redis outage for one client only, while the others keep theirs)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import AsyncIterator, Awaitable, Callable

from server.cluster.redis_client import connect
from tests.helpers.redis_server import drop_prefix


def prefixed(url: str, store_prefix: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}prefix={store_prefix}"


class Namespace:
    """A test's own cluster keys on the real Redis; ``client()`` connects (directly, or through a
    TcpProxy's URL) and the clients are closed at the end."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.store_prefix = f"t{uuid.uuid4().hex[:12]}:"
        self.url = prefixed(redis_url, self.store_prefix)
        self.prefix = self.store_prefix + "cluster:"
        self._clients: list = []

    def client(self, via: str | None = None):
        client, prefix = connect(prefixed(via, self.store_prefix) if via else self.url)
        assert prefix == self.prefix
        self._clients.append(client)
        return client


@contextlib.asynccontextmanager
async def cluster_namespace(redis_url: str) -> AsyncIterator[Namespace]:
    """A Namespace; every key under its prefix is deleted after, and its clients closed."""
    ns = Namespace(redis_url)
    try:
        yield ns
    finally:
        for client in ns._clients:
            await client.aclose()
        await drop_prefix(redis_url, ns.store_prefix)


async def wait_for(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0,
                   every: float = 0.01) -> float:
    """Poll ``condition`` until true; the seconds it took. Fails the test after ``timeout``."""
    start = time.monotonic()
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(every)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` closes it and every connection (the client
    sees Redis go away: refused connections), ``restore()`` listens on the same port again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    async def to_redis(cls, redis_url: str) -> TcpProxy:
        """A started proxy in front of the Redis at ``redis_url`` (redis://host:port/db)."""
        host, _, port = redis_url.split("//", 1)[1].split("/", 1)[0].rpartition(":")
        proxy = cls(host, int(port))
        await proxy.start()
        return proxy

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.close()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)
