"""Contract tests: OpenVidu Meet 3.8's response projections on rooms and members — ``fields`` /
``extraFields`` query parameters and ``X-Fields`` / ``X-ExtraFields`` headers (rooms and room-members
openapi at v3.8.0; backend field-filter.helper.ts: fields ∪ extraFields, extra fields only through
``extraFields``, unknown names ignored, top-level names only). Both stores, both base paths."""

from __future__ import annotations

import pytest

from tests.helpers.signaling import make_room

PREFIXES = ["/api/v1", "/meet/api/v1"]


async def _ok(resp, status: int = 200):
    body = await resp.json()
    assert resp.status == status, body
    return body


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_room_fields_and_extra_fields(client, auth, prefix):
    made = await _ok(await client.post(f"{prefix}/rooms?fields=roomName", json={"roomName": "proj"},
                                       headers=auth), 201)
    assert made == {"roomName": "proj"}  # roomId is not kept unless named, as 3.8 does
    room = await make_room(client, auth)
    url = f"{prefix}/rooms/{room['roomId']}"
    assert await _ok(await client.get(f"{url}?fields=roomId,status,nope", headers=auth)) == {
        "roomId": room["roomId"], "status": "open"}
    # extra fields come only through extraFields; named in fields they are ignored
    assert set(await _ok(await client.get(f"{url}?fields=roomId,config", headers=auth))) == {"roomId"}
    got = await _ok(await client.get(f"{url}?fields=roomId&extraFields=config,bogus", headers=auth))
    assert set(got) == {"roomId", "config"} and got["config"] == room["config"]
    # headers: united with the query parameters
    got = await _ok(await client.get(f"{url}?fields=roomName", headers={**auth, "X-Fields": "owner",
                                                                         "X-ExtraFields": "roles"}))
    assert got == {"roomName": room["roomName"], "owner": "admin", "roles": room["roles"]}
    # nothing valid in fields (or extraFields alone): the whole room
    assert await _ok(await client.get(f"{url}?fields=nope", headers=auth)) == room
    assert await _ok(await client.get(f"{url}?extraFields=config", headers=auth)) == room
    listed = await _ok(await client.get(f"{prefix}/rooms?fields=roomId", headers={**auth, "X-Fields": "roomName"}))
    assert listed["rooms"] and all(set(r) == {"roomId", "roomName"} for r in listed["rooms"])
    assert "pagination" in listed
    status = await _ok(await client.put(f"{url}/status?fields=status", json={"status": "closed"}, headers=auth))
    assert status == {"status": "closed"}


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_member_fields_and_extra_fields(client, auth, prefix):
    room = await make_room(client, auth)
    base = f"{prefix}/rooms/{room['roomId']}/members"
    made = await _ok(await client.post(f"{base}?fields=name", json={"name": "Ann", "baseRole": "speaker"},
                                       headers=auth), 201)
    assert made == {"name": "Ann"}
    full = (await _ok(await client.get(base, headers=auth)))["members"][0]
    url = f"{base}/{full['memberId']}"
    assert await _ok(await client.get(f"{url}?fields=memberId,baseRole", headers=auth)) == {
        "memberId": full["memberId"], "baseRole": "speaker"}
    got = await _ok(await client.get(f"{url}?fields=memberId,effectivePermissions", headers=auth))
    assert got == {"memberId": full["memberId"]}
    got = await _ok(await client.get(url, headers={**auth, "X-Fields": "name", "X-ExtraFields": "effectivePermissions"}))
    assert got == {"name": "Ann", "effectivePermissions": full["effectivePermissions"]}
    assert await _ok(await client.get(f"{url}?fields=bogus", headers=auth)) == full
    listed = await _ok(await client.get(f"{base}?fields=memberId&extraFields=effectivePermissions", headers=auth))
    assert [set(m) for m in listed["members"]] == [{"memberId", "effectivePermissions"}]
    updated = await _ok(await client.put(f"{url}?fields=baseRole", json={"baseRole": "moderator"}, headers=auth))
    assert updated == {"baseRole": "moderator"}


async def test_openapi_documents_the_projection_parameters(client):
    spec = await (await client.get("/api/openapi.json")).json()
    for path, method in [("/rooms", "get"), ("/rooms", "post"), ("/rooms/{roomId}", "get"),
                         ("/rooms/{roomId}/status", "put"), ("/rooms/{roomId}/members", "get"),
                         ("/rooms/{roomId}/members/{memberId}", "put")]:
        for prefix in PREFIXES:
            params = {(p["in"], p["name"]) for p in spec["paths"][prefix + path][method].get("parameters", [])}
            assert {("query", "fields"), ("query", "extraFields"), ("header", "X-Fields"),
                    ("header", "X-ExtraFields")} <= params, (prefix + path, method)
