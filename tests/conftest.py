"""Shared fixtures: settings in a temporary data dir, a real Redis, a live app."""

from __future__ import annotations

import inspect
import os
import uuid

import pytest
import pytest_asyncio
from hypothesis import settings as hypothesis_settings
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.config import Settings
from server.credentials import load_or_create
from tests.helpers.limits import SUITE_LIMITS
from tests.helpers.redis_server import RedisProvider

TEST_API_KEY = "test-api-key-0123456789abcdef"

# hypothesis: modest example counts by default (``ci``); tests that set their own keep them.
# ``HYPOTHESIS_PROFILE=thorough`` runs the property tests longer.
hypothesis_settings.register_profile("ci", max_examples=40, deadline=None, database=None)
hypothesis_settings.register_profile("thorough", max_examples=1000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def redis_provider():
    provider = RedisProvider()
    yield provider
    provider.stop()


@pytest.fixture
def redis_url(redis_provider) -> str:
    """A URL to a real Redis, with a key prefix-free database flushed of our keys per test."""
    return redis_provider.get()


@pytest.fixture
def settings_factory(tmp_path):
    def make(**overrides) -> Settings:
        base = dict(data_dir=tmp_path / "data", api_keys=(TEST_API_KEY,), public_url="http://meet.test", **SUITE_LIMITS)
        base.update(overrides)
        return Settings(**base)

    return make


@pytest.fixture(params=["sqlite", "redis"])
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def settings(settings_factory, store_kind, request) -> Settings:
    if store_kind == "redis":
        url = request.getfixturevalue("redis_url")
        # one logical namespace per test: a fresh db index is not available everywhere, so
        # stores take their key prefix from the URL's query (?prefix=...)
        sep = "&" if "?" in url else "?"
        return settings_factory(redis_url=f"{url}{sep}prefix=t{uuid.uuid4().hex[:12]}:")
    return settings_factory()


@pytest_asyncio.fixture
async def client(settings) -> TestClient:
    """An aiohttp test client against a real server on 127.0.0.1, on the parametrised store."""
    creds = load_or_create(settings.data_dir, settings.api_keys)
    app = create_app(settings, creds)
    server = TestServer(app, host="127.0.0.1")
    async with TestClient(server) as c:
        yield c


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TEST_API_KEY}"}


def pytest_collection_modifyitems(session, config, items):
    """Playwright (sync API) tests last: it keeps an event loop running in the main thread for
    the rest of the session, which asyncio tests collected after it cannot share."""
    def playwright_sync(item) -> bool:
        is_e2e = "tests/e2e/" in str(item.path).replace("\\", "/")
        return is_e2e and not inspect.iscoroutinefunction(getattr(item, "function", None))

    items.sort(key=playwright_sync)   # stable: everything else keeps its order
