"""REST rate limits per API key in Whereby's shape (docs/compatibility.md "Rate limits"): points per
minute (GET 1, DELETE 2, writes 3), the X-RateLimit-* headers on every keyed response, 429 with
Retry-After; one counter for the whole cluster in a real Redis, shared by two nodes."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from email.utils import parsedate_to_datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.credentials import load_or_create
from tests.conftest import TEST_API_KEY
from tests.helpers.signaling import serve

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


async def _start_of_a_minute(room: float = 20.0) -> None:
    """The budget is per wall-clock minute: a sequence that counts it down must not cross into the
    next one. With less than `room` seconds left in this minute, wait for the next to begin."""
    left = 60 - time.time() % 60
    if left < room:
        await asyncio.sleep(left + 0.05)


def _budget(resp) -> tuple[int, int]:
    return int(resp.headers["X-RateLimit-Limit"]), int(resp.headers["X-RateLimit-Remaining"])


async def test_points_per_key_headers_on_every_response_and_429(settings_factory, auth):
    async with serve(settings_factory(rest_rate_limit_per_minute=10)) as client:
        await _start_of_a_minute()
        resp = await client.post("/api/v1/rooms", json={"roomName": "R"}, headers=auth)     # 3 points
        assert resp.status == 201 and _budget(resp) == (10, 7)
        room = await resp.json()
        reset = parsedate_to_datetime(resp.headers["X-RateLimit-Reset"])
        assert 0 < reset.timestamp() % 60 + 1 and reset.second == 0
        resp = await client.get(f"/api/v1/rooms/{room['roomId']}", headers=auth)           # 1
        assert resp.status == 200 and _budget(resp) == (10, 6)
        resp = await client.get("/api/v1/rooms/nosuchroom", headers=auth)                   # errors too
        assert resp.status == 404 and _budget(resp) == (10, 5)
        resp = await client.delete(f"/api/v1/rooms/{room['roomId']}", headers=auth)         # 2
        assert resp.status in (200, 202, 204) and _budget(resp) == (10, 3)
        resp = await client.get("/v1/meetings", headers={"Authorization": f"Bearer {TEST_API_KEY}"})  # Whereby's
        assert _budget(resp) == (10, 2)
        resp = await client.post("/v1/meetings", json={"endDate": "2099-01-01T00:00:00Z"}, headers=auth)
        assert resp.status == 429
        assert _budget(resp) == (10, 2)                     # refused: nothing spent
        retry = int(resp.headers["Retry-After"])
        assert 1 <= retry <= 60
        body = await resp.json()
        assert body["code"] == "too_many_requests" and 0 < body["data"]["msLeft"] <= 60_000
        assert TEST_API_KEY not in await resp.text()
        metrics = await (await client.get("/metrics", headers=auth)).text()     # counted for operators
        assert 'antechamber_rate_limited_total{scope="rest"} 1.0' in metrics
        resp = await client.get("/api/v1/rooms", headers=auth)
        assert resp.status == 200 and _budget(resp) == (10, 1)     # a read still fits
        # no key, a wrong key: 401 as before, not counted and no budget headers
        for headers in ({}, {"X-API-KEY": "wrong-key-0123456789abcdef"}):
            resp = await client.get("/api/v1/rooms", headers=headers)
            assert resp.status == 401 and "X-RateLimit-Limit" not in resp.headers
        assert "X-RateLimit-Limit" not in (await client.get("/healthz")).headers


async def test_zero_means_no_limit(settings_factory, auth):
    async with serve(settings_factory(rest_rate_limit_per_minute=0)) as client:
        for _ in range(5):
            resp = await client.post("/api/v1/rooms", json={}, headers=auth)
            assert resp.status == 201 and "X-RateLimit-Limit" not in resp.headers


async def test_one_budget_for_the_whole_cluster_on_redis(settings_factory, redis_url, tmp_path, auth):
    url = f"{redis_url}{'&' if '?' in redis_url else '?'}prefix=t{uuid.uuid4().hex[:12]}:"
    credentials = load_or_create(tmp_path / "identity", (TEST_API_KEY,))
    async with contextlib.AsyncExitStack() as stack:
        nodes = []
        for i in (1, 2):
            settings = settings_factory(data_dir=tmp_path / f"n{i}", redis_url=url, node_id=f"n{i}",
                                        rest_rate_limit_per_minute=12)
            app = create_app(settings, credentials)
            nodes.append(await stack.enter_async_context(TestClient(TestServer(app, host="127.0.0.1"))))
        one, two = nodes
        await _start_of_a_minute()
        resp = await one.post("/api/v1/rooms", json={}, headers=auth)
        assert resp.status == 201 and _budget(resp) == (12, 9)
        resp = await two.get("/api/v1/rooms", headers=auth)
        assert _budget(resp) == (12, 8)                     # node two counts on the same counter
        statuses = []
        for n in range(8):                                  # alternately, 8 reads: 8 points exactly
            resp = await (one if n % 2 else two).get("/api/v1/rooms", headers=auth)
            statuses.append(resp.status)
        assert statuses == [200] * 8 and _budget(resp) == (12, 0)
        for node in nodes:
            resp = await node.get("/api/v1/rooms", headers=auth)
            assert resp.status == 429 and "Retry-After" in resp.headers
