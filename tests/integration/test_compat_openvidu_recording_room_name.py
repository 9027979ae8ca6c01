"""Contract tests: OpenVidu Meet 3.8's ``roomName`` filter (``roomNameMatchMode``, ``roomNameCaseInsensitive``,
recordings.yaml -> rooms/parameters/room-name*.yaml) and ``sortField=roomName``
(recordings/parameters/recording-sort-field.yaml) of GET /recordings, on both stores (``settings``)."""

from __future__ import annotations

import pytest

from server.http.appkeys import STORE
from server.store.records import Recording, Room
from tests.helpers import openvidu_recording_schemas as S
from tests.helpers.rest_app import running_app

pytestmark = pytest.mark.timeout(60)
R = "/api/v1/recordings"
ROOMS = {"r-team": "Team sync", "r-team2": "team sync", "r-weekly": "Team sync weekly", "r-daily": "Daily"}
# recording -> room (a recording of "gone-room" outlives its room: its roomName is the room id)
RECS = {"rec_a": "r-team", "rec_b": "r-team2", "rec_c": "r-weekly", "rec_d": "r-daily", "rec_e": "r-team",
        "rec_f": "gone-room"}


@pytest.fixture
async def world(settings):
    async with running_app(settings) as (client, app, _creds):
        store = app[STORE]
        for room_id, name in ROOMS.items():
            await store.create_room(Room(room_id=room_id, room_name=name, creation_date=1))
        for i, (rid, room_id) in enumerate(RECS.items()):
            await store.create_recording(Recording(recording_id=rid, room_id=room_id, status="complete",
                                                   start_date=1000 + i, end_date=3000 + i, duration=float(10 - i),
                                                   size=100 * (i % 3), filename=f"{rid}.mkv"))
        yield client


async def listing(client, auth, expect: int = 200, **params):
    resp = await client.get(R, headers=auth, params={"maxItems": "100", **params})
    body = await resp.json()
    assert resp.status == expect, body
    return S.check(body, S.RECORDING_LIST if expect == 200 else S.ERROR)


async def ids(client, auth, **params) -> list[str]:
    return [r["recordingId"] for r in (await listing(client, auth, **params))["recordings"]]


async def test_room_name_match_modes(world, auth):
    c = world
    assert sorted(await ids(c, auth, roomName="Team sync")) == ["rec_a", "rec_e"]               # exact by default
    assert await ids(c, auth, roomName="TEAM SYNC") == []
    assert sorted(await ids(c, auth, roomName="TEAM SYNC", roomNameCaseInsensitive="true")) == [
        "rec_a", "rec_b", "rec_e"]
    assert sorted(await ids(c, auth, roomName="Team", roomNameMatchMode="prefix")) == ["rec_a", "rec_c", "rec_e"]
    assert sorted(await ids(c, auth, roomName="sync", roomNameMatchMode="partial")) == [
        "rec_a", "rec_b", "rec_c", "rec_e"]
    assert sorted(await ids(c, auth, roomName="^(daily|gone-.*)$", roomNameMatchMode="regex",
                            roomNameCaseInsensitive="True")) == ["rec_d", "rec_f"]
    # with the store's own filters and order
    assert await ids(c, auth, roomName="Team sync", roomId="r-team", sortField="startDate", sortOrder="asc") == [
        "rec_a", "rec_e"]
    assert await ids(c, auth, roomName="Team sync", status="failed") == []
    assert await ids(c, auth, roomName="sync", roomNameMatchMode="partial", sortField="duration",
                     sortOrder="asc") == ["rec_e", "rec_c", "rec_b", "rec_a"]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_sort_by_room_name_pages_through_everything_once(world, auth, order):
    want = sorted(RECS, key=lambda r: (ROOMS.get(RECS[r], RECS[r]).casefold(), r), reverse=order == "desc")
    params = {"sortField": "roomName", "sortOrder": order, "maxItems": "2"}
    seen, pages = [], 0
    while True:
        body = await listing(world, auth, **params)
        pages += 1
        seen += [r["recordingId"] for r in body["recordings"]]
        token = body["pagination"]["nextPageToken"]
        assert body["pagination"]["isTruncated"] is (token is not None)
        if not token:
            break
        params["nextPageToken"] = token
    assert seen == want and pages == 3
    # a token belongs to its query
    await listing(world, auth, 400, **{**params, "sortOrder": "asc" if order == "desc" else "desc"})
    await listing(world, auth, 400, sortField="startDate", nextPageToken=params["nextPageToken"])


@pytest.mark.parametrize("query, field", [
    ({"roomName": "x", "roomNameMatchMode": "fuzzy"}, "roomNameMatchMode"),
    ({"roomName": "(", "roomNameMatchMode": "regex"}, "roomName"),
    ({"roomNameCaseInsensitive": "maybe"}, "roomNameCaseInsensitive"),
    ({"sortField": "name"}, "sortField"),
])
async def test_bad_room_name_parameters_are_422(world, auth, query, field):
    body = await listing(world, auth, 422, **query)
    assert field in str(body)


async def test_a_runaway_regex_is_422(world, auth, settings):
    async with running_app(settings) as (client, app, _creds):
        await app[STORE].create_room(Room(room_id="slow", room_name="a" * 40 + "!", creation_date=1))
        await app[STORE].create_recording(Recording(recording_id="rec_slow", room_id="slow", status="complete",
                                                    start_date=1, filename="x.mkv"))
        body = await listing(client, auth, 422, roomName="^(a|aa)+$", roomNameMatchMode="regex")
        assert "too long" in str(body)
