"""Auth, strict JSON bodies, size limit and secrets-free logs on both surfaces and both stores."""

from __future__ import annotations

import json

import pytest
import structlog

from server.http.appkeys import CREDENTIALS, SETTINGS
from server.domain.access.keys import derive_key
from tests.conftest import TEST_API_KEY

NATIVE = ["/api/v1", "/meet/api/v1"]
FUTURE = "2099-01-01T00:00:00Z"


def endpoints(base: str) -> list[tuple[str, str]]:
    return [("POST", f"{base}/rooms"), ("GET", f"{base}/rooms"), ("DELETE", f"{base}/rooms?roomIds=a"),
            ("GET", f"{base}/rooms/r"), ("DELETE", f"{base}/rooms/r"), ("GET", f"{base}/rooms/r/config"),
            ("PUT", f"{base}/rooms/r/config"), ("PUT", f"{base}/rooms/r/roles"), ("PUT", f"{base}/rooms/r/access"),
            ("PUT", f"{base}/rooms/r/status"), ("PUT", f"{base}/rooms/r/lock"),
            ("POST", f"{base}/rooms/r/rotate-keys")]


async def room_count(client, auth) -> int:
    native = await (await client.get("/api/v1/rooms?maxItems=100", headers=auth)).json()
    return len(native["rooms"])


@pytest.mark.parametrize("headers", [
    {}, {"X-API-KEY": "wrong-key-wrong-key-0000"}, {"Authorization": "Bearer wrong-key-wrong-key-0000"},
    {"Authorization": "Bearer"}, {"Authorization": TEST_API_KEY}, {"X-API-KEY": TEST_API_KEY[:-1]},
])
async def test_native_endpoints_require_a_valid_key(client, auth, headers):
    for base in NATIVE:
        for method, path in endpoints(base):
            resp = await client.request(method, path, json={}, headers=headers)
            body = await resp.json()
            assert resp.status == 401, (method, path)
            assert body["error"] == "unauthorized" and body["message"]
            assert TEST_API_KEY not in json.dumps(body)
    assert await room_count(client, auth) == 0


async def test_both_header_styles_are_accepted(client):
    for headers in ({"X-API-KEY": TEST_API_KEY}, {"Authorization": f"Bearer {TEST_API_KEY}"},
                    {"Authorization": f"bearer {TEST_API_KEY}"}):
        for base in NATIVE:
            assert (await client.post(f"{base}/rooms", json={}, headers=headers)).status == 201
        assert (await client.post("/v1/meetings", json={"endDate": FUTURE}, headers=headers)).status == 201


@pytest.mark.parametrize("raw, fragment", [
    (b"{", "malformed JSON"),
    (b'{"roomName": "a", "roomName": "b"}', "duplicate key"),
    (b'{"config": {"chat": {"enabled": true, "enabled": false}}}', "duplicate key"),
    (b"[1, 2]", "JSON object"),
    (b'"text"', "JSON object"),
    (b'{"roomName": NaN}', "malformed JSON"),
    (b"\xff\xfe", "UTF-8"),
])
async def test_malformed_bodies_are_400_and_store_nothing(client, auth, raw, fragment):
    headers = {**auth, "Content-Type": "application/json"}
    for path in ["/api/v1/rooms", "/meet/api/v1/rooms", "/v1/meetings"]:
        resp = await client.post(path, data=raw, headers=headers)
        body = await resp.json()
        assert resp.status == 400, (path, body)
        assert body["error"] == "invalid_json" and fragment in body["message"]
    assert await room_count(client, auth) == 0


async def test_body_over_the_limit_is_413_and_stores_nothing(client, auth):
    limit = client.server.app[SETTINGS].max_body_bytes
    big = json.dumps({"roomName": "x", "pad": "a" * (limit + 10)}).encode()
    for path in ["/api/v1/rooms", "/meet/api/v1/rooms", "/v1/meetings"]:
        resp = await client.post(path, data=big, headers={**auth, "Content-Type": "application/json"})
        body = await resp.json()
        assert resp.status == 413, path
        assert body["error"] == "payload_too_large"
    room = (await (await client.post("/api/v1/rooms", json={}, headers=auth)).json())["roomId"]
    resp = await client.put(f"/api/v1/rooms/{room}/lock", data=big, headers={**auth, "Content-Type": "application/json"})
    assert resp.status == 413
    assert (await (await client.get(f"/api/v1/rooms/{room}", headers=auth)).json())["isLocked"] is False
    assert await room_count(client, auth) == 1


@pytest.mark.parametrize("body, field", [
    ({"roomName": 7}, "roomName"),
    ({"roomName": ""}, "roomName"),
    ({"roomName": "   "}, "roomName"),
    ({"roomName": "x" * 51}, "roomName"),
    ({"autoDeletionDate": "tomorrow"}, "autoDeletionDate"),
    ({"autoDeletionDate": 1000}, "autoDeletionDate"),
    ({"autoDeletionDate": 1.5e12}, "autoDeletionDate"),
    ({"autoDeletionPolicy": {"withMeeting": "fail"}}, "autoDeletionPolicy.withMeeting"),
    ({"config": {"chat": True}}, "config.chat"),
    ({"roles": {"moderator": {"permissions": {"canRecord": "yes"}}}}, "roles.moderator.permissions.canRecord"),
    ({"access": {"anonymous": {"viewer": {"enabled": True}}}}, "access.anonymous.viewer"),
    ({"isLocked": 1}, "isLocked"),
    ({"roomMode": "huge"}, "roomMode"),
    ({"roomNamePrefix": "UPPER"}, "roomNamePrefix"),
    ({"roomNamePrefix": "p" * 40}, "roomNamePrefix"),
    ({"roomNamePattern": "words"}, "roomNamePattern"),
    ({"unknownField": 1}, "unknownField"),
])
async def test_native_validation_is_422_naming_the_field(client, auth, body, field):
    for base in NATIVE:
        resp = await client.post(f"{base}/rooms", json=body, headers=auth)
        data = await resp.json()
        assert resp.status == 422, data
        assert data["error"] == "validation_error"
        assert field in [d["field"] for d in data["details"]], data
        assert field in data["message"]
    assert await room_count(client, auth) == 0


async def test_secrets_never_reach_the_logs(client, auth):
    secret = client.server.app[CREDENTIALS].server_secret
    with structlog.testing.capture_logs() as events:
        room = await (await client.post("/api/v1/rooms", json={"roomName": "Private"}, headers=auth)).json()
        m = await (await client.post("/v1/meetings", json={"endDate": FUTURE, "fields": ["hostRoomUrl"]},
                                     headers=auth)).json()
        await client.put(f"/api/v1/rooms/{room['roomId']}/lock", json={"isLocked": True}, headers=auth)
        await client.get("/api/v1/rooms", headers={"Authorization": "Bearer not-the-key-but-secret-ish"})
        await client.delete(f"/v1/meetings/{m['meetingId']}", headers=auth)
        await client.delete(f"/api/v1/rooms/{room['roomId']}", headers=auth)
    assert events, "the operations above should have been logged"
    text = repr(events)
    secrets = [TEST_API_KEY, "not-the-key-but-secret-ish", secret.hex()]
    for rid in (room["roomId"], m["meetingId"]):
        secrets += [derive_key(secret, rid, role, 0) for role in ("host", "viewer", "recording")]
    for s in secrets:
        assert s not in text
    assert room["roomId"] in text       # the logs do say what happened
    lock = [e for e in events if e["event"] == "room updated" and e.get("what") == "lock"]
    assert [e["change"] for e in lock] == ["False -> True"]
