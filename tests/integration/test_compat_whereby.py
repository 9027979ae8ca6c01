"""Contract tests: Whereby v1 meetings and recordings, as its REST reference documents them.

Requests are the ones the reference shows; answers are validated against schemas written from
it (tests/helpers/whereby_schemas.py). Both stores, through the ``client`` fixture.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from server.http.appkeys import SETTINGS, STORE
from server.store.records import Recording
from tests.helpers.whereby_schemas import (ACCESS_LINK, ERROR, MEETING, MEETING_PAGE, RECORDING,
                                           RECORDING_PAGE, check)


def future(days: int = 1) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def create(client, auth, **body):
    body.setdefault("endDate", future())
    resp = await client.post("/v1/meetings", json=body, headers=auth)
    data = await resp.json()
    assert resp.status == 201, data
    check(MEETING, data)
    return data


async def meeting_count(client, auth) -> int:
    page = await (await client.get("/v1/meetings", headers=auth)).json()
    return len(page["results"])


async def refused(resp, status: int, code: str) -> dict:
    data = await resp.json()
    assert resp.status == status, data
    check(ERROR, data)
    assert data["code"] == code, data
    return data


# --- meetings ----------------------------------------------------------------------------------


async def test_create_with_the_documented_recording_object(client, auth):
    """recording requires type, destination and startTrigger; provider 'whereby' = stored by the host."""
    m = await create(client, auth, endDate=future(), isLocked=False, roomMode="group",
                     roomNamePrefix="example-prefix", roomNamePattern="uuid", fields=["hostRoomUrl"],
                     recording={"type": "cloud", "startTrigger": "automatic",
                                "destination": {"provider": "whereby", "fileFormat": "mkv"}})
    assert m["roomName"].startswith("/example-prefix") and "hostRoomUrl" in m
    cfg = await (await client.get(f"/api/v1/rooms/{m['meetingId']}/config", headers=auth)).json()
    assert cfg["recording"]["enabled"] is True and cfg["recording"]["startTrigger"] == "automatic"


@pytest.mark.parametrize("recording", [
    {"type": "local", "destination": None, "startTrigger": None},      # "should be set to null"
    {"type": "none", "destination": {"provider": "whereby"}, "startTrigger": "none"},
])
async def test_null_or_hosted_destination_is_accepted(client, auth, recording):
    m = await create(client, auth, recording=recording)
    cfg = await (await client.get(f"/api/v1/rooms/{m['meetingId']}/config", headers=auth)).json()
    assert cfg["recording"]["enabled"] is (recording["type"] != "none")


async def test_prefix_is_lower_cased_and_spaces_removed(client, auth):
    m = await create(client, auth, roomNamePrefix="Example Prefix-", roomNamePattern="human-short")
    assert m["roomName"].startswith("/exampleprefix-"), m


@pytest.mark.parametrize("extra, code", [
    ({"recording": {"type": "cloud", "startTrigger": "none",
                    "destination": {"provider": "s3", "authenticationType": "accessKey", "bucket": "b/rec",
                                    "region": "eu-west-1", "accessKeyId": "AKIA", "accessKeySecret": "s3cr3t"}}},
     "s3_destination_not_supported"),
    ({"recording": {"type": "cloud", "startTrigger": "none",
                    "destination": {"provider": "s3", "authenticationType": "roleBased", "bucket": "b",
                                    "oidcRoleArn": "arn:aws:iam::1:role/x"}}}, "s3_destination_not_supported"),
    ({"recording": {"type": "cloud", "startTrigger": "none",
                    "destination": {"provider": "whereby", "fileFormat": "mp4"}}}, "mp4_recording_not_supported"),
    ({"liveTranscription": {"destination": {"provider": "whereby"}, "startTrigger": "automatic"}},
     "transcription_not_supported"),
    ({"streaming": {"destination": {"url": "rtmp://a.rtmp.youtube.com/live2/k"}, "startTrigger": "prompt"}},
     "streaming_not_supported"),
])
async def test_unavailable_capability_is_403_naming_it_and_stores_nothing(client, auth, extra, code):
    resp = await client.post("/v1/meetings", json={"endDate": future(), **extra}, headers=auth)
    data = await refused(resp, 403, code)
    assert "s3cr3t" not in str(data)
    assert await meeting_count(client, auth) == 0


@pytest.mark.parametrize("body, field", [
    ({"recording": {"type": "cloud", "destination": {"provider": "ftp"}}}, "recording.destination.provider"),
    ({"recording": {"type": "cloud", "destination": {}}}, "recording.destination.provider"),
    ({"recording": {"type": "cloud", "destination": {"provider": "whereby", "fileFormat": "avi"}}},
     "recording.destination.fileFormat"),
    ({"streaming": {"startTrigger": "automatic-2nd-participant"}}, "streaming.startTrigger"),
    ({"roomNamePrefix": "a b/c"}, "roomNamePrefix"),
])
async def test_bad_documented_fields_are_400_naming_the_field(client, auth, body, field):
    resp = await client.post("/v1/meetings", json={"endDate": future(), **body}, headers=auth)
    data = await refused(resp, 400, "validation_error")
    assert field in [d["field"] for d in data["details"]], data
    assert await meeting_count(client, auth) == 0


async def test_viewer_mode_adds_both_links_on_create_get_and_list(client, auth):
    m = await create(client, auth, templateType="viewerMode")
    assert "hostRoomUrl" in m and "viewerRoomUrl" in m
    got = await (await client.get(f"/v1/meetings/{m['meetingId']}", headers=auth)).json()
    check(MEETING, got)
    assert got["hostRoomUrl"] == m["hostRoomUrl"] and got["viewerRoomUrl"] == m["viewerRoomUrl"]
    page = await (await client.get("/v1/meetings", headers=auth)).json()
    check(MEETING_PAGE, page)
    assert "hostRoomUrl" in page["results"][0]


async def test_list_get_and_delete_meetings(client, auth):
    made = [(await create(client, auth))["meetingId"] for _ in range(3)]
    resp = await client.get("/v1/meetings?limit=2&fields=hostRoomUrl,viewerRoomUrl", headers=auth)
    page = await resp.json()
    assert resp.status == 200
    check(MEETING_PAGE, page)
    assert len(page["results"]) == 2 and isinstance(page["cursor"], str)
    assert all("hostRoomUrl" in r and "viewerRoomUrl" in r for r in page["results"])
    rest = await (await client.get(f"/v1/meetings?cursor={page['cursor']}", headers=auth)).json()
    check(MEETING_PAGE, rest)
    assert rest["cursor"] is None
    assert sorted(r["meetingId"] for r in page["results"] + rest["results"]) == sorted(made)

    got = await client.get(f"/v1/meetings/{made[0]}?fields=viewerRoomUrl", headers=auth)
    check(MEETING, await got.json())
    await refused(await client.get("/v1/meetings/unknown", headers=auth), 404, "meeting_not_found")
    for _ in range(2):                                           # idempotent
        resp = await client.delete(f"/v1/meetings/{made[0]}", headers=auth)
        assert resp.status == 204 and await resp.read() == b""


# --- recordings --------------------------------------------------------------------------------


async def add_recording(client, rid: str, room_id: str, *, start: int, size: int = 0, duration: float = 1.0,
                        status: str = "complete") -> None:
    app = client.server.app
    folder = app[SETTINGS].data_dir / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rid}.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + b"m" * 16)
    done = status == "complete"
    await app[STORE].create_recording(Recording(
        recording_id=rid, room_id=room_id, room_session_id=f"session-{room_id}", status=status,
        start_date=start, end_date=start + 1000 if done else None, duration=duration, size=size,
        filename=f"{rid}.mkv"))


async def listing(client, auth, **params) -> dict:
    resp = await client.get("/v1/recordings", headers=auth, params=params)
    page = await resp.json()
    assert resp.status == 200, page
    check(RECORDING_PAGE, page)
    return page


async def test_recording_has_size_in_megabytes(client, auth):
    await add_recording(client, "rec-a", "room-a", start=1000, size=2_500_000)
    got = await client.get("/v1/recordings/rec-a", headers=auth)
    rec = await got.json()
    assert got.status == 200
    check(RECORDING, rec)
    assert rec["sizeInMegaBytes"] == 2.5 and rec["roomName"] == "/room-a"
    assert rec["startDate"] == "1970-01-01T00:00:01.000Z" and rec["endDate"] == "1970-01-01T00:00:02.000Z"
    await refused(await client.get("/v1/recordings/nope", headers=auth), 404, "recording_not_found")


async def test_sort_by_room_name_as_the_reference_shows_and_pages(client, auth):
    await add_recording(client, "r1", "room-b", start=1000, size=3_000_000)
    await add_recording(client, "r2", "room-a", start=2000, size=1_000_000)
    await add_recording(client, "r3", "room-c", start=3000, size=2_000_000)
    await add_recording(client, "r4", "room-a", start=4000, size=4_000_000)

    seen, cursor = [], None
    while True:
        page = await listing(client, auth, sortBy="roomName:asc", limit="1", **({"cursor": cursor} if cursor else {}))
        seen += [r["roomName"] for r in page["results"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == ["/room-a", "/room-a", "/room-b", "/room-c"]
    desc = await listing(client, auth, sortBy="roomName:desc")
    assert [r["roomName"] for r in desc["results"]] == ["/room-c", "/room-b", "/room-a", "/room-a"]
    only_a = await listing(client, auth, sortBy="roomName", roomName="/room-a")
    assert sorted(r["recordingId"] for r in only_a["results"]) == ["r2", "r4"]

    by_size = await listing(client, auth, sortBy="sizeInMegaBytes:desc")
    assert [r["sizeInMegaBytes"] for r in by_size["results"]] == [4.0, 3.0, 2.0, 1.0]
    by_start = await listing(client, auth, sortBy="startDate:asc", limit="2")
    assert [r["recordingId"] for r in by_start["results"]] == ["r1", "r2"]
    by_duration = await listing(client, auth, sortBy="duration")
    assert len(by_duration["results"]) == 4


@pytest.mark.parametrize("params, field", [
    ({"sortBy": "filename:asc"}, "sortBy"), ({"sortBy": "roomName:up"}, "sortBy"),
    ({"sortBy": "roomName", "cursor": "not-ours"}, "cursor"), ({"cursor": "not-ours"}, "cursor"),
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"),
])
async def test_list_recordings_bad_parameters(client, auth, params, field):
    resp = await client.get("/v1/recordings", headers=auth, params=params)
    data = await refused(resp, 400, "validation_error")
    assert data["details"][0]["field"] == field


async def test_access_link(client, auth):
    await add_recording(client, "rec-l", "room-a", start=1000)
    resp = await client.get("/v1/recordings/rec-l/access-link", headers=auth, params={"validForSeconds": "60"})
    body = await resp.json()
    assert resp.status == 200
    check(ACCESS_LINK, body)
    media = await client.get(body["accessLink"].replace("http://meet.test", ""))
    assert media.status == 200
    await refused(await client.get("/v1/recordings/nope/access-link", headers=auth), 404, "recording_not_found")


async def test_delete_recording_is_idempotent(client, auth):
    await add_recording(client, "rec-d", "room-a", start=1000)
    for _ in range(2):
        resp = await client.delete("/v1/recordings/rec-d", headers=auth)
        assert resp.status == 204 and await resp.read() == b""
    assert (await client.delete("/v1/recordings/never-existed", headers=auth)).status == 204
    await refused(await client.get("/v1/recordings/rec-d", headers=auth), 404, "recording_not_found")


async def test_delete_of_a_recording_being_written_is_refused(client, auth):
    await add_recording(client, "rec-live", "room-a", start=1000, status="active")
    await refused(await client.delete("/v1/recordings/rec-live", headers=auth), 409, "recording_active")
    assert (await client.get("/v1/recordings/rec-live", headers=auth)).status == 200


async def test_bulk_delete_answers_204_without_body(client, auth):
    for i in range(3):
        await add_recording(client, f"b{i}", "room-a", start=1000 + i)
    body = {"recordingIds": ["b0", "b1", "never-existed"]}
    for _ in range(2):                                           # idempotent
        resp = await client.post("/v1/recordings/bulk-delete", headers=auth, json=body)
        assert resp.status == 204 and await resp.read() == b""
    page = await listing(client, auth)
    assert [r["recordingId"] for r in page["results"]] == ["b2"]


async def test_bulk_delete_keeps_recordings_being_written_and_says_so(client, auth):
    await add_recording(client, "done", "room-a", start=1000)
    await add_recording(client, "live", "room-a", start=2000, status="active")
    resp = await client.post("/v1/recordings/bulk-delete", headers=auth, json={"recordingIds": ["done", "live"]})
    data = await refused(resp, 409, "recording_active")
    assert [d["message"] for d in data["details"]] == ["live"]
    left = await (await client.get("/v1/recordings", headers=auth)).json()
    # endDate is null while the file is still being written (Whereby lists finished recordings only)
    assert [(r["recordingId"], r["endDate"]) for r in left["results"]] == [("live", None)]


@pytest.mark.parametrize("body", [{}, {"recordingIds": "x"}, {"recordingIds": []}, {"recordingIds": [1]}])
async def test_bulk_delete_bad_body(client, auth, body):
    data = await refused(await client.post("/v1/recordings/bulk-delete", headers=auth, json=body),
                         400, "validation_error")
    assert data["details"][0]["field"] == "recordingIds"


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/meetings"), ("GET", "/v1/meetings"), ("GET", "/v1/meetings/x"), ("DELETE", "/v1/meetings/x"),
    ("GET", "/v1/recordings"), ("GET", "/v1/recordings/x"), ("DELETE", "/v1/recordings/x"),
    ("GET", "/v1/recordings/x/access-link"), ("POST", "/v1/recordings/bulk-delete"),
])
async def test_every_operation_needs_the_key(client, method, path):
    resp = await client.request(method, path, json={"endDate": future(), "recordingIds": ["x"]},
                                headers={"Authorization": "Bearer wrong-key-0123456789"})
    data = await resp.json()
    assert resp.status == 401, data
    check(ERROR, data)


async def test_native_openapi_document_describes_the_whereby_shapes(client):
    spec = await (await client.get("/api/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    create_props = schemas["CreateMeetingIn"]["properties"]
    assert {"recording", "liveTranscription", "streaming", "fields", "templateType"} <= set(create_props)
    assert "DestinationIn" in schemas and "s3" in str(schemas["DestinationIn"]["properties"]["provider"])
    assert "sizeInMegaBytes" in schemas["WherebyRecording"]["required"]
    post = spec["paths"]["/v1/meetings"]["post"]["responses"]
    assert "403" in post and "s3_destination_not_supported" in post["403"]["description"]
    bulk = spec["paths"]["/v1/recordings/bulk-delete"]["post"]["responses"]
    assert "204" in bulk and "200" not in bulk
    assert "404" not in spec["paths"]["/v1/recordings/{recordingId}"]["delete"]["responses"]
