"""Contract tests: OpenVidu Meet 3.8's ``roomName`` filter of GET /rooms (rooms/parameters/room-name*.yaml):
``roomNameMatchMode`` exact (default) | prefix | partial | regex, ``roomNameCaseInsensitive`` (default false).
Both stores (the ``client`` fixture), both base paths."""

from __future__ import annotations

import pytest

from tests.helpers import openvidu_schemas as S

PREFIXES = ["/api/v1", "/meet/api/v1"]
NAMES = ["Team sync", "team sync", "Team sync weekly", "Daily team", "a.b", "axb"]


async def _json(resp, status: int, schema=None):
    body = await resp.json()
    assert resp.status == status, body
    return S.check(schema, body) if schema is not None else body


async def _seed(client, auth, prefix):
    for name in NAMES:
        resp = await client.post(f"{prefix}/rooms", json={"roomName": name}, headers=auth)
        assert resp.status == 201, await resp.text()


async def _names(client, auth, prefix, **params) -> list[str]:
    params = {"maxItems": "100", "sortField": "roomName", **params}
    body = await _json(await client.get(f"{prefix}/rooms", params=params, headers=auth), 200, S.ROOM_LIST)
    return sorted(r["roomName"] for r in body["rooms"])


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_room_name_match_modes(client, auth, prefix):
    await _seed(client, auth, prefix)
    assert await _names(client, auth, prefix, roomName="Team sync") == ["Team sync"]          # exact by default
    assert await _names(client, auth, prefix, roomName="team SYNC") == []
    assert await _names(client, auth, prefix, roomName="team SYNC", roomNameCaseInsensitive="TRUE") == [
        "Team sync", "team sync"]
    assert await _names(client, auth, prefix, roomName="Team", roomNameMatchMode="prefix") == [
        "Team sync", "Team sync weekly"]
    assert await _names(client, auth, prefix, roomName="team", roomNameMatchMode="partial") == [
        "Daily team", "team sync"]
    assert await _names(client, auth, prefix, roomName="TEAM", roomNameMatchMode="partial",
                        roomNameCaseInsensitive="true") == ["Daily team", "Team sync", "Team sync weekly", "team sync"]
    assert await _names(client, auth, prefix, roomName="a.b", roomNameMatchMode="partial") == ["a.b"]  # literal
    assert await _names(client, auth, prefix, roomName="^a.b$", roomNameMatchMode="regex") == ["a.b", "axb"]
    assert await _names(client, auth, prefix, roomName="^team sync( weekly)?$", roomNameMatchMode="regex",
                        roomNameCaseInsensitive="true") == ["Team sync", "Team sync weekly", "team sync"]
    assert await _names(client, auth, prefix, roomName="", roomNameMatchMode="regex") == sorted(NAMES)  # no filter


async def test_room_name_filter_pages_with_its_mode(client, auth):
    await _seed(client, auth, "/api/v1")
    params = {"roomName": "sync", "roomNameMatchMode": "partial", "roomNameCaseInsensitive": "true",
              "maxItems": "1", "sortField": "roomName", "sortOrder": "asc"}
    seen = []
    while True:
        body = await _json(await client.get("/api/v1/rooms", params=params, headers=auth), 200, S.ROOM_LIST)
        seen += [r["roomName"] for r in body["rooms"]]
        if not body["pagination"]["nextPageToken"]:
            break
        params["nextPageToken"] = body["pagination"]["nextPageToken"]
    assert sorted(seen) == ["Team sync", "Team sync weekly", "team sync"] and len(seen) == 3
    # a token belongs to its query: another match mode refuses it
    other = {**params, "roomNameMatchMode": "prefix"}
    resp = await client.get("/api/v1/rooms", params=other, headers=auth)
    assert resp.status == 400


@pytest.mark.parametrize("query, field", [
    ("roomNameMatchMode=fuzzy&roomName=x", "roomNameMatchMode"),
    ("roomName=(&roomNameMatchMode=regex", "roomName"),
    ("roomNameCaseInsensitive=maybe", "roomNameCaseInsensitive"),
])
async def test_room_name_bad_parameters_are_422(client, auth, query, field):
    resp = await client.get(f"/api/v1/rooms?{query}", headers=auth)
    err = await _json(resp, 422, S.ERROR)
    assert err["details"][0]["field"] == field


async def test_room_name_regex_that_backtracks_without_end_is_422(client, auth):
    resp = await client.post("/api/v1/rooms", json={"roomName": "a" * 40 + "!"}, headers=auth)
    assert resp.status == 201, await resp.text()
    resp = await client.get("/api/v1/rooms", params={"roomName": "^(a|aa)+$", "roomNameMatchMode": "regex"},
                            headers=auth)
    err = await _json(resp, 422, S.ERROR)
    assert err["details"][0]["field"] == "roomName" and "too long" in err["details"][0]["message"]
