"""Whereby-compatible /v1/meetings API on both stores."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from server.http.appkeys import CREDENTIALS
from server.domain.access.keys import key_matches

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def future(days: int = 1) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def meeting(client, auth, **body):
    body.setdefault("endDate", future())
    resp = await client.post("/v1/meetings", json=body, headers=auth)
    data = await resp.json()
    assert resp.status == 201, data
    return data


async def count_meetings(client, auth) -> int:
    resp = await client.get("/v1/meetings", headers=auth)
    return len((await resp.json())["results"])


async def test_create_minimal_meeting(client, auth):
    resp = await client.post("/v1/meetings", json={"endDate": "2099-08-11T07:56:01-05:00"}, headers=auth)
    m = await resp.json()
    assert resp.status == 201, m
    assert set(m) == {"meetingId", "roomName", "roomUrl", "startDate", "endDate"}
    assert m["endDate"] == "2099-08-11T12:56:01.000Z"           # offset converted to UTC
    assert UUID4.fullmatch(m["meetingId"])
    assert m["roomName"] == "/" + m["meetingId"]
    assert m["roomUrl"] == "http://meet.test/" + m["meetingId"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", m["startDate"])

    room = await (await client.get(f"/api/v1/rooms/{m['meetingId']}", headers=auth)).json()
    # deleted by the sweeper 23 h after endDate (Whereby: within 24 h; server/domain/end_dates.py)
    end = int(datetime(2099, 8, 11, 12, 56, 1, tzinfo=timezone.utc).timestamp()) * 1000
    assert room["autoDeletionDate"] == end + 23 * 3_600_000
    assert room["isLocked"] is False and room["roomMode"] == "normal"

    got = await client.get(f"/v1/meetings/{m['meetingId']}", headers=auth)
    assert got.status == 200 and await got.json() == m


async def test_naive_end_date_is_utc_and_deprecated_start_date_is_ignored(client, auth):
    m = await meeting(client, auth, endDate="2099-01-02T03:04:05", startDate="2098-01-01T00:00:00Z")
    assert m["endDate"] == "2099-01-02T03:04:05.000Z"
    assert m["startDate"].startswith(str(datetime.now(timezone.utc).year))


async def test_links_prefix_pattern_lock_and_recording(client, auth):
    m = await meeting(client, auth, roomNamePrefix="acme-", roomNamePattern="human-short", isLocked=True,
                      roomMode="group", fields=["hostRoomUrl", "viewerRoomUrl"],
                      recording={"type": "cloud", "startTrigger": "automatic-2nd-participant"})
    assert re.fullmatch(r"/acme-[abcdefghjkmnpqrtwxy346789]{6}", m["roomName"])
    rid = m["meetingId"]
    assert m["roomName"] == "/" + rid
    host_key = m["hostRoomUrl"].split("?roomKey=", 1)[1]
    viewer_key = m["viewerRoomUrl"].split("?viewerKey=", 1)[1]
    assert m["hostRoomUrl"].startswith(m["roomUrl"] + "?") and m["viewerRoomUrl"].startswith(m["roomUrl"] + "?")
    secret = client.server.app[CREDENTIALS].server_secret
    assert key_matches(secret, rid, "host", 0, host_key) and key_matches(secret, rid, "viewer", 0, viewer_key)

    room = await (await client.get(f"/api/v1/rooms/{rid}", headers=auth)).json()
    assert room["isLocked"] is True and room["roomMode"] == "group"
    cfg = await (await client.get(f"/api/v1/rooms/{rid}/config", headers=auth)).json()
    assert cfg["recording"] == {"enabled": True, "type": "cloud", "startTrigger": "automatic-2nd-participant"}

    plain = await (await client.get(f"/v1/meetings/{rid}", headers=auth)).json()
    assert "hostRoomUrl" not in plain and "viewerRoomUrl" not in plain
    full = await (await client.get(f"/v1/meetings/{rid}?fields=hostRoomUrl", headers=auth)).json()
    assert full["hostRoomUrl"] == m["hostRoomUrl"] and "viewerRoomUrl" not in full


async def test_viewer_mode_forces_locked_group_and_returns_both_links(client, auth):
    """Whereby: viewerMode "will be locked, roomMode set to group and fields like hostRoomUrl and
    viewerRoomUrl will be added to the response" -- without asking for them."""
    m = await meeting(client, auth, templateType="viewerMode", isLocked=False, roomMode="normal")
    assert "?viewerKey=" in m["viewerRoomUrl"] and "?roomKey=" in m["hostRoomUrl"]
    room = await (await client.get(f"/api/v1/rooms/{m['meetingId']}", headers=auth)).json()
    assert room["isLocked"] is True and room["roomMode"] == "group" and room["maxParticipants"] == 200


@pytest.mark.parametrize("body, field", [
    ({}, "endDate"),
    ({"endDate": "tomorrow"}, "endDate"),
    ({"endDate": "2001-01-01T00:00:00Z"}, "endDate"),
    ({"endDate": 4102444800000}, "endDate"),
    ({"endDate": "FUTURE", "roomNamePrefix": "a" * 40}, "roomNamePrefix"),
    ({"endDate": "FUTURE", "roomNamePrefix": "a/b"}, "roomNamePrefix"),
    ({"endDate": "FUTURE", "roomNamePattern": "words"}, "roomNamePattern"),
    ({"endDate": "FUTURE", "roomMode": "huge"}, "roomMode"),
    ({"endDate": "FUTURE", "isLocked": "yes"}, "isLocked"),
    ({"endDate": "FUTURE", "templateType": "webinar"}, "templateType"),
    ({"endDate": "FUTURE", "fields": ["secret"]}, "fields[0]"),
    ({"endDate": "FUTURE", "recording": {"type": "tape"}}, "recording.type"),
    ({"endDate": "FUTURE", "recording": {"type": "cloud", "startTrigger": "later"}}, "recording.startTrigger"),
    ({"endDate": "FUTURE", "color": "red"}, "color"),
])
async def test_bad_input_is_400_naming_the_field_and_stores_nothing(client, auth, body, field):
    body = {k: (future() if v == "FUTURE" else v) for k, v in body.items()}
    resp = await client.post("/v1/meetings", json=body, headers=auth)
    data = await resp.json()
    assert resp.status == 400, data
    assert "error" in data and field in [d["field"] for d in data["details"]], data
    assert await count_meetings(client, auth) == 0


async def test_list_pages_with_cursor(client, auth):
    made = [(await meeting(client, auth))["meetingId"] for _ in range(5)]
    await client.post("/api/v1/rooms", json={}, headers=auth)       # native rooms are not Whereby meetings

    seen, cursor, pages = [], None, 0
    while True:
        url = "/v1/meetings?limit=2&fields=hostRoomUrl" + (f"&cursor={cursor}" if cursor else "")
        resp = await client.get(url, headers=auth)
        page = await resp.json()
        assert resp.status == 200, page
        assert all("hostRoomUrl" in r for r in page["results"])
        seen += [r["meetingId"] for r in page["results"]]
        pages += 1
        cursor = page["cursor"]
        if cursor is None:
            break
    assert pages == 3 and sorted(seen) == sorted(made)

    everything = await (await client.get("/v1/meetings", headers=auth)).json()
    assert len(everything["results"]) == 5 and everything["cursor"] is None


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
    ("cursor=not-a-cursor", "cursor"), ("fields=roomKey", "fields"),
])
async def test_list_rejects_bad_parameters(client, auth, query, field):
    resp = await client.get(f"/v1/meetings?{query}", headers=auth)
    data = await resp.json()
    assert resp.status == 400, data
    assert data["details"][0]["field"] == field


async def test_get_and_delete(client, auth):
    m = await meeting(client, auth)
    rid = m["meetingId"]
    assert (await client.get("/v1/meetings/unknown", headers=auth)).status == 404
    resp = await client.delete(f"/v1/meetings/{rid}", headers=auth)
    assert resp.status == 204 and await resp.read() == b""
    assert (await client.get(f"/v1/meetings/{rid}", headers=auth)).status == 404
    assert (await client.get(f"/api/v1/rooms/{rid}", headers=auth)).status == 404
    assert (await client.delete(f"/v1/meetings/{rid}", headers=auth)).status == 204   # idempotent
    assert (await client.delete("/v1/meetings/never-existed", headers=auth)).status == 204


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key-0123456789"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
async def test_requires_a_valid_key(client, headers):
    for method, path in [("POST", "/v1/meetings"), ("GET", "/v1/meetings"), ("GET", "/v1/meetings/x"),
                         ("DELETE", "/v1/meetings/x")]:
        resp = await client.request(method, path, json={"endDate": future()}, headers=headers)
        data = await resp.json()
        assert resp.status == 401, (method, path)
        assert isinstance(data["error"], str) and data["error"]
    assert (await client.get("/v1/meetings", headers={"Authorization": "Bearer test-api-key-0123456789abcdef"})
            ).status == 200


async def test_delete_keeps_recordings_and_the_meeting_is_gone(client, auth):
    """Whereby: deleting a meeting ends it, but its recordings outlive it."""
    from server.http.appkeys import SETTINGS, STORE
    from server.store.records import Recording

    m = await meeting(client, auth)
    rid = m["meetingId"]
    app = client.server.app
    folder = app[SETTINGS].data_dir / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"rec-{rid}.mkv").write_bytes(b"\x1a\x45\xdf\xa3 matroska bytes")
    await app[STORE].create_recording(Recording(recording_id=f"rec-{rid}", room_id=rid, status="complete",
                                                start_date=1, filename=f"rec-{rid}.mkv"))
    assert (await client.delete(f"/v1/meetings/{rid}", headers=auth)).status == 204
    assert (await client.get(f"/v1/meetings/{rid}", headers=auth)).status == 404
    resp = await client.get(f"/v1/recordings/rec-{rid}", headers=auth)
    assert resp.status == 200, await resp.text()
    media = await client.get(f"/api/v1/recordings/rec-{rid}/media", headers=auth)
    assert media.status == 200 and await media.read() == b"\x1a\x45\xdf\xa3 matroska bytes"
