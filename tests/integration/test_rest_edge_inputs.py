"""Inputs that answered 500 before (found by the property tests and schemathesis): each now gets
its ``{code, message}`` refusal and changes nothing."""

from __future__ import annotations

import pytest

from tests.helpers.rest_app import running_app


@pytest.fixture
async def app_client(settings_factory):
    async with running_app(settings_factory(rest_rate_limit_per_minute=0)) as (client, _, _):
        yield client


@pytest.mark.parametrize("path, status", [
    ("/api/v1/rooms?maxItems=%C2%B2", 422),              # '²'.isdigit() is True, int('²') raises
    ("/api/v1/rooms?maxItems=" + "9" * 5000, 200),       # above int()'s 4300 digits: clamped as any big number
    ("/api/v1/rooms/x/members?maxItems=%C2%B2", None),
    ("/v1/meetings?limit=%C2%B2", 400),
    ("/v1/meetings?limit=" + "9" * 5000, 400),
    ("/api/v1/recordings?maxItems=%C2%B2", 422),
    ("/api/v1/recordings/x/media?expires=%C2%B2&signature=abc", 403),
])
async def test_numbers_only_ascii_digits_read(app_client, auth, path, status):
    headers = {} if "signature" in path else auth
    resp = await app_client.get(path, headers=headers)
    body = await resp.json()
    assert resp.status < 500 and (status is None or resp.status == status), (resp.status, body)
    if resp.status >= 400:
        assert body["code"] and body["message"]


@pytest.mark.parametrize("bad", [{}, [], 5])
async def test_webhook_endpoint_with_a_format_of_the_wrong_type(app_client, auth, bad):
    body = {"endpoints": [{"url": "https://hooks.example/x", "secret": "s" * 24, "format": bad, "events": []}]}
    resp = await app_client.put("/api/v1/config/webhooks", json=body, headers=auth)
    assert resp.status == 422 and (await resp.json())["code"] == "validation_error"
    assert (await (await app_client.get("/api/v1/config/webhooks", headers=auth)).json())["endpoints"] == []
