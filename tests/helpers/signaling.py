"""Helpers for signaling tests: rooms through the REST API, keys, connected clients."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator
from urllib.parse import parse_qs, urlparse

from aiohttp.test_utils import TestClient

from server.app import HUB
from server.domain.access.keys import derive_key
from server.http.appkeys import CREDENTIALS, STORE
from signaling.client import SignalingClient


async def make_room(client: TestClient, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/v1/rooms", json=body, headers=auth)
    assert resp.status == 201, await resp.text()
    return await resp.json()


def host_key(room: dict[str, Any]) -> str:
    url = room["access"]["anonymous"]["moderator"]["url"]
    return parse_qs(urlparse(url).query)["roomKey"][0]


def viewer_key(client: TestClient, room_id: str) -> str:
    return derive_key(client.server.app[CREDENTIALS].server_secret, room_id, "viewer", 0)


def ws_url(client: TestClient) -> str:
    return str(client.make_url("/ws"))


def hub(client: TestClient):
    return client.server.app[HUB]


def store(client: TestClient):
    return client.server.app[STORE]


class Clients:
    """Opens clients against one server and closes them all at the end."""

    def __init__(self, client: TestClient):
        self.client = client
        self.opened: list[SignalingClient] = []

    async def open(self, use_msgpack: bool = False) -> SignalingClient:
        c = SignalingClient(ws_url(self.client), use_msgpack=use_msgpack)
        await c.connect()
        self.opened.append(c)
        return c

    async def joined(self, room_id: str, name: str, key: str | None = None, use_msgpack: bool = False
                     ) -> SignalingClient:
        c = await self.open(use_msgpack)
        reply = await c.join(room_id, name, key)
        assert reply["type"] == "joined", reply
        return c

    async def knocking(self, room_id: str, name: str) -> SignalingClient:
        c = await self.open()
        reply = await c.join(room_id, name)
        assert reply["type"] == "knock_status" and reply["state"] == "waiting", reply
        return c

    async def admitted(self, host: SignalingClient, room_id: str, name: str
                       ) -> tuple[SignalingClient, dict[str, Any]]:
        """A guest knocks (the room is locked) and `host` admits that guest's knock:
        the guest's client and its `joined` message."""
        guest = await self.knocking(room_id, name)
        mine = lambda m: [k for k in m["knocks"] if k["displayName"] == name and k["state"] == "waiting"]  # noqa: E731
        knocks = await host.wait_for("knocks", mine)
        await host.request("admit", knockId=mine(knocks)[0]["knockId"])
        return guest, await guest.wait_for("joined")

    async def close(self) -> None:
        for c in self.opened:
            with contextlib.suppress(Exception):
                await c.close()


@contextlib.asynccontextmanager
async def clients(client: TestClient) -> AsyncIterator[Clients]:
    cs = Clients(client)
    try:
        yield cs
    finally:
        await cs.close()


@contextlib.asynccontextmanager
async def room_with_host(client: TestClient, auth: dict[str, str], **body: Any
                         ) -> AsyncIterator[tuple[str, Clients, SignalingClient]]:
    """A room made through REST (with `body`) and "Hana" joined as its host: the room id, the
    clients (closed at the end) and the host's client."""
    room = await make_room(client, auth, **body)
    async with clients(client) as cs:
        yield room["roomId"], cs, await cs.joined(room["roomId"], "Hana", host_key(room))


@contextlib.asynccontextmanager
async def serve(settings) -> AsyncIterator[TestClient]:
    """A real server on 127.0.0.1 with these settings (for tests that need other limits)."""
    from aiohttp.test_utils import TestServer

    from server.app import create_app
    from server.credentials import load_or_create

    app = create_app(settings, load_or_create(settings.data_dir, settings.api_keys))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def until(condition, timeout: float = 5.0, what: str = "condition") -> None:
    """Wait for a condition (polled on the event loop) with a generous timeout."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
