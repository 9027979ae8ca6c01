"""Native rooms API (OpenVidu Meet 3.8 shape) on both stores and both base paths."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
import pytest_asyncio

from server.domain.access.keys import key_matches
from server.http.appkeys import ROOMS
from server.store.records import Recording
from signaling.client import SignalingErrorReply
from signaling.rules.permissions import PERMISSIONS
from tests.conftest import TEST_API_KEY
from tests.helpers.rest_app import RecordingLive, running_app, store_of
from tests.helpers.signaling import clients, host_key, make_room, store

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# OpenVidu Meet 3.8's always-present MeetRoom fields (autoDeletionDate is optional: absent when unset)
# plus Antechamber's own isLocked, roomMode, maxParticipants, the meeting timing extensions and embedOrigins
ROOM_FIELDS = {"roomId", "roomName", "owner", "creationDate", "autoDeletionPolicy", "config", "roles",
               "access", "status", "rolesUpdatedAt", "meetingEndAction", "isLocked", "roomMode", "maxParticipants",
               "meetingEndsAtEndDate", "maxDurationMinutes", "soloTimeoutMinutes", "embedOrigins"}


@pytest.fixture(params=["/api/v1", "/meet/api/v1"])
def base(request) -> str:
    return request.param


@pytest_asyncio.fixture
async def env(settings):
    live = RecordingLive()
    async with running_app(settings, live=live) as (client, app, creds):
        yield client, app, creds, live


async def create(client, base, auth, body=None, status=201):
    resp = await client.post(f"{base}/rooms", json=body if body is not None else {}, headers=auth)
    data = await resp.json()
    assert resp.status == status, data
    return data


async def test_create_with_defaults(env, base, auth):
    client, app, creds, _ = env
    before = int(time.time() * 1000)
    resp = await client.post(f"{base}/rooms", headers=auth)   # no body at all
    room = await resp.json()
    assert resp.status == 201, room
    assert set(room) == ROOM_FIELDS
    assert UUID4.match(room["roomId"])
    assert resp.headers["Location"] == f"{base}/rooms/{room['roomId']}"
    assert room["roomName"] == "Room"
    assert before <= room["creationDate"] <= int(time.time() * 1000)
    assert "autoDeletionDate" not in room
    assert room["owner"] == "admin" and room["meetingEndAction"] == "none"
    assert room["rolesUpdatedAt"] == room["creationDate"]
    assert room["autoDeletionPolicy"] == {"withMeeting": "when_meeting_ends", "withRecordings": "close"}
    assert room["config"] == {"chat": {"enabled": True}, "recording": {"enabled": True},
                              "virtualBackground": {"enabled": True}, "e2ee": {"enabled": False},
                              "captions": {"enabled": False}}
    assert room["roles"]["moderator"]["permissions"] == {p: True for p in PERMISSIONS}
    denied = {"canRecord", "canDeleteRecordings", "canShareAccessLinks", "canMakeModerator",
              "canKickParticipants", "canEndMeeting"}
    assert room["roles"]["speaker"]["permissions"] == {p: p not in denied for p in PERMISSIONS}
    assert (room["status"], room["isLocked"], room["roomMode"], room["maxParticipants"]) == ("open", False,
                                                                                            "normal", 4)
    anon = room["access"]["anonymous"]
    guest = f"http://meet.test/{room['roomId']}"
    assert anon["speaker"] == {"enabled": True, "url": guest}
    host_url = anon["moderator"]["url"]
    assert host_url.startswith(guest + "?roomKey=")
    host_key = host_url.split("roomKey=", 1)[1]
    assert key_matches(creds.server_secret, room["roomId"], "host", 0, host_key)
    assert not key_matches(creds.server_secret, room["roomId"], "viewer", 0, host_key)
    assert anon["recording"]["enabled"] is True and anon["recording"]["url"].startswith(guest)

    got = await client.get(f"{base}/rooms/{room['roomId']}", headers=auth)
    assert got.status == 200
    assert await got.json() == room


async def test_create_with_every_field(env, base, auth):
    client, *_ = env
    deletion = int(time.time() * 1000) + 2 * 3_600_000
    room = await create(client, base, auth, {
        "roomName": "Weekly sync",
        "autoDeletionDate": deletion,
        "autoDeletionPolicy": {"withMeeting": "force", "withRecordings": "force"},
        "config": {"chat": {"enabled": False}, "e2ee": {"enabled": True}},
        "roles": {"speaker": {"permissions": {"canRecord": True, "canShareScreen": False}}},
        "access": {"anonymous": {"moderator": {"enabled": False}}},
        "isLocked": True, "roomMode": "group", "roomNamePrefix": "team-", "roomNamePattern": "human-short",
    })
    assert re.fullmatch(r"team-[abcdefghjkmnpqrtwxy346789]{6}", room["roomId"])
    assert room["roomName"] == "Weekly sync"
    assert room["autoDeletionDate"] == deletion
    assert room["autoDeletionPolicy"] == {"withMeeting": "force", "withRecordings": "force"}
    assert room["config"]["chat"] == {"enabled": False} and room["config"]["e2ee"] == {"enabled": True}
    assert room["config"]["recording"] == {"enabled": True}
    speaker = room["roles"]["speaker"]["permissions"]
    assert speaker["canRecord"] is True and speaker["canShareScreen"] is False and speaker["canKickParticipants"] is False
    assert room["access"]["anonymous"]["moderator"]["enabled"] is False   # its link grants nothing
    assert room["isLocked"] is True and room["roomMode"] == "group" and room["maxParticipants"] == 200


async def test_unknown_room_is_404(env, base, auth):
    client, *_ = env
    for method, path, body in [("GET", "/rooms/nope", None), ("DELETE", "/rooms/nope", None),
                               ("GET", "/rooms/nope/config", None),
                               ("PUT", "/rooms/nope/lock", {"isLocked": True}),
                               ("PUT", "/rooms/nope/status", {"status": "closed"})]:
        resp = await client.request(method, base + path, json=body, headers=auth)
        data = await resp.json()
        assert resp.status == 404, (method, path)
        assert data["error"] == "room_not_found" and "nope" in data["message"]


async def test_list_paginates_filters_and_sorts(env, base, auth):
    client, *_ = env
    names = ["delta", "Alpha", "charlie", "bravo", "alphabet"]
    ids = [(await create(client, base, auth, {"roomName": n}))["roomId"] for n in names]

    seen, token, pages = [], None, 0
    while True:
        url = f"{base}/rooms?maxItems=2" + (f"&nextPageToken={token}" if token else "")
        resp = await client.get(url, headers=auth)
        page = await resp.json()
        assert resp.status == 200
        assert page["pagination"]["maxItems"] == 2
        seen += [r["roomId"] for r in page["rooms"]]
        pages += 1
        token = page["pagination"]["nextPageToken"]
        assert page["pagination"]["isTruncated"] is (token is not None)
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(ids) and len(set(seen)) == 5

    resp = await client.get(f"{base}/rooms?sortField=roomName&sortOrder=asc", headers=auth)
    assert [r["roomName"] for r in (await resp.json())["rooms"]] == ["Alpha", "alphabet", "bravo", "charlie", "delta"]

    resp = await client.get(f"{base}/rooms?roomName=ALPHA&roomNameMatchMode=partial&roomNameCaseInsensitive=true",
                            headers=auth)
    assert sorted(r["roomName"] for r in (await resp.json())["rooms"]) == ["Alpha", "alphabet"]

    await client.put(f"{base}/rooms/{ids[0]}/status", json={"status": "closed"}, headers=auth)
    resp = await client.get(f"{base}/rooms?status=closed", headers=auth)
    assert [r["roomId"] for r in (await resp.json())["rooms"]] == [ids[0]]

    resp = await client.get(f"{base}/rooms", headers=auth)
    assert (await resp.json())["pagination"]["maxItems"] == 10


@pytest.mark.parametrize("query, field", [
    ("maxItems=0", "maxItems"), ("maxItems=ten", "maxItems"),
    ("sortField=size", "sortField"), ("sortOrder=up", "sortOrder"), ("status=gone", "status"),
])
async def test_list_rejects_bad_parameters(env, base, auth, query, field):
    client, *_ = env
    resp = await client.get(f"{base}/rooms?{query}", headers=auth)
    body = await resp.json()
    assert resp.status == 422
    assert body["details"][0]["field"] == field


async def test_list_rejects_a_foreign_page_token(env, base, auth):
    client, *_ = env
    for _ in range(3):
        await create(client, base, auth)
    page = await (await client.get(f"{base}/rooms?maxItems=1", headers=auth)).json()
    token = page["pagination"]["nextPageToken"]
    for bad in ["garbage", token + "x", token]:
        extra = "&sortField=roomName" if bad == token else ""
        resp = await client.get(f"{base}/rooms?maxItems=1&nextPageToken={bad}{extra}", headers=auth)
        body = await resp.json()
        assert resp.status == 400, body
        assert body["error"] == "invalid_page_token"


async def test_config_roles_access_status_lock_updates(env, base, auth):
    client, app, _, live = env
    room = await create(client, base, auth)
    rid = room["roomId"]
    url = f"{base}/rooms/{rid}"

    # OpenVidu Meet answers PUT config / roles / access with the updated part, PUT status with the room
    resp = await client.put(url + "/config", json={"config": {"chat": {"enabled": False}}}, headers=auth)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["chat"] == {"enabled": False}
    cfg = await (await client.get(url + "/config", headers=auth)).json()
    assert cfg == {"chat": {"enabled": False}, "recording": {"enabled": True},
                   "virtualBackground": {"enabled": True}, "e2ee": {"enabled": False},
                   "captions": {"enabled": False}}

    resp = await client.put(url + "/roles", json={"roles": {"speaker": {"permissions": {"canEndMeeting": True}}}},
                            headers=auth)
    assert resp.status == 200
    assert (await resp.json())["speaker"]["permissions"]["canEndMeeting"] is True
    got = await (await client.get(url, headers=auth)).json()
    assert got["roles"]["speaker"]["permissions"]["canEndMeeting"] is True
    assert got["roles"]["speaker"]["permissions"]["canKickParticipants"] is False
    assert got["rolesUpdatedAt"] > room["rolesUpdatedAt"] - 1

    resp = await client.put(url + "/access", json={"access": {"anonymous": {"speaker": {"enabled": False}}}},
                            headers=auth)
    assert resp.status == 200
    assert (await resp.json())["anonymous"]["speaker"]["enabled"] is False
    got = await (await client.get(url, headers=auth)).json()
    assert got["access"]["anonymous"]["speaker"]["enabled"] is False
    assert got["access"]["anonymous"]["moderator"]["enabled"] is True

    resp = await client.put(url + "/lock", json={"isLocked": True}, headers=auth)
    assert resp.status == 200 and (await resp.json())["room"]["isLocked"] is True
    resp = await client.put(url + "/status", json={"status": "closed"}, headers=auth)
    assert resp.status == 200 and (await resp.json())["status"] == "closed"
    resp = await client.put(url + "/status", json={"status": "open"}, headers=auth)
    assert (await resp.json())["status"] == "open"

    stored = await store_of(app).get_room(rid)
    assert stored.is_locked is True and stored.config["chat"] == {"enabled": False}
    # every change reached the live meeting port, in order
    assert [r.room_id for r in live.updated] == [rid] * 6
    assert live.updated[3].is_locked is True and live.updated[4].status == "closed"


@pytest.mark.parametrize("path, body, field", [
    ("/config", {"config": {"chat": {"enabled": "no"}}}, "config.chat.enabled"),
    ("/config", {"config": {"whiteboard": {"enabled": True}}}, "config.whiteboard"),
    ("/config", {}, "config"),
    ("/roles", {"roles": {"speaker": {"permissions": {"canFly": True}}}}, "roles.speaker.permissions.canFly"),
    ("/roles", {"roles": {"viewer": {"permissions": {}}}}, "roles.viewer"),
    ("/access", {"access": {"anonymous": {"speaker": {"enabled": 1}}}}, "access.anonymous.speaker.enabled"),
    ("/status", {"status": "active_meeting"}, "status"),
    ("/lock", {"isLocked": "true"}, "isLocked"),
    ("/lock", {"isLocked": True, "extra": 1}, "extra"),
])
async def test_updates_reject_bad_bodies_and_change_nothing(env, base, auth, path, body, field):
    client, _, _, live = env
    room = await create(client, base, auth)
    resp = await client.put(f"{base}/rooms/{room['roomId']}{path}", json=body, headers=auth)
    data = await resp.json()
    assert resp.status == 422, data
    assert field in [d["field"] for d in data["details"]]
    assert await (await client.get(f"{base}/rooms/{room['roomId']}", headers=auth)).json() == room
    assert live.updated == []


async def test_delete_without_meeting_or_recordings(env, base, auth):
    client, _, _, live = env
    room = await create(client, base, auth)
    resp = await client.delete(f"{base}/rooms/{room['roomId']}", headers=auth)
    assert resp.status == 200
    assert live.end_calls == [(room["roomId"], "room_deleted")]   # turns away anyone in the lobby
    assert live.ended == []
    assert await resp.json() == {"successCode": "room_deleted", "message": f"room {room['roomId']!r} deleted"}
    assert (await client.get(f"{base}/rooms/{room['roomId']}", headers=auth)).status == 404
    assert (await client.delete(f"{base}/rooms/{room['roomId']}", headers=auth)).status == 404


async def test_delete_with_a_live_meeting(env, base, auth):
    client, app, _, live = env
    rooms = [(await create(client, base, auth))["roomId"] for _ in range(3)]
    live.meetings.update(rooms)

    got = await (await client.get(f"{base}/rooms/{rooms[0]}", headers=auth)).json()
    assert got["status"] == "active_meeting"

    resp = await client.delete(f"{base}/rooms/{rooms[0]}", headers=auth)          # default: fail
    assert resp.status == 409 and (await resp.json())["error"] == "room_has_active_meeting"
    assert (await client.get(f"{base}/rooms/{rooms[0]}", headers=auth)).status == 200

    resp = await client.delete(f"{base}/rooms/{rooms[0]}?withMeeting=force", headers=auth)
    assert resp.status == 200 and (await resp.json())["successCode"] == "room_with_active_meeting_deleted"
    assert live.ended == [(rooms[0], "room_deleted")]
    assert (await client.get(f"{base}/rooms/{rooms[0]}", headers=auth)).status == 404

    resp = await client.delete(f"{base}/rooms/{rooms[1]}?withMeeting=when_meeting_ends", headers=auth)
    body = await resp.json()
    assert resp.status == 202
    assert body["successCode"] == "room_with_active_meeting_scheduled_to_be_deleted"
    assert body["room"]["roomId"] == rooms[1]
    stored = await store_of(app).get_room(rooms[1])
    assert stored.pending_deletion["action"] == "delete"
    assert live.ended == [(rooms[0], "room_deleted")]      # not ended: deleted when it ends
    assert (await client.get(f"{base}/rooms/{rooms[1]}", headers=auth)).status == 200
    live.meetings.discard(rooms[1])                         # the meeting ends; the hub completes the deletion
    done = await app[ROOMS].complete_pending_deletion(rooms[1])
    assert done.success_code == "room_deleted"
    assert (await client.get(f"{base}/rooms/{rooms[1]}", headers=auth)).status == 404
    assert await app[ROOMS].complete_pending_deletion(rooms[1]) is None

    resp = await client.delete(f"{base}/rooms/{rooms[2]}?withMeeting=sometimes", headers=auth)
    assert resp.status == 422 and (await resp.json())["details"][0]["field"] == "withMeeting"


async def _with_recording(app, room_id: str) -> None:
    await store_of(app).create_recording(Recording(recording_id=f"rec-{room_id}", room_id=room_id,
                                                   status="complete", start_date=1))


async def test_delete_with_recordings(env, base, auth):
    client, app, _, live = env
    a, b, c = [(await create(client, base, auth))["roomId"] for _ in range(3)]
    for rid in (a, b, c):
        await _with_recording(app, rid)

    resp = await client.delete(f"{base}/rooms/{a}", headers=auth)
    assert resp.status == 409 and (await resp.json())["error"] == "room_has_recordings"

    resp = await client.delete(f"{base}/rooms/{a}?withRecordings=close", headers=auth)
    body = await resp.json()
    assert resp.status == 200 and body["successCode"] == "room_closed" and body["room"]["status"] == "closed"
    assert await store_of(app).get_recording(f"rec-{a}") is not None

    resp = await client.delete(f"{base}/rooms/{b}?withRecordings=force", headers=auth)
    assert resp.status == 200 and (await resp.json())["successCode"] == "room_and_recordings_deleted"
    assert await store_of(app).get_recording(f"rec-{b}") is None
    assert (await client.get(f"{base}/rooms/{b}", headers=auth)).status == 404

    live.meetings.add(c)
    resp = await client.delete(f"{base}/rooms/{c}?withMeeting=when_meeting_ends", headers=auth)
    assert resp.status == 409
    assert (await resp.json())["error"] == "room_with_active_meeting_has_recordings_cannot_schedule_deletion"
    resp = await client.delete(f"{base}/rooms/{c}?withMeeting=when_meeting_ends&withRecordings=close",
                               headers=auth)
    assert resp.status == 202
    assert (await resp.json())["successCode"] == "room_with_active_meeting_scheduled_to_be_closed"
    assert (await store_of(app).get_room(c)).pending_deletion["action"] == "close"
    resp = await client.delete(f"{base}/rooms/{c}?withMeeting=force&withRecordings=force", headers=auth)
    assert resp.status == 200
    assert (await resp.json())["successCode"] == "room_with_active_meeting_and_recordings_deleted"
    assert live.ended[-1] == (c, "room_deleted")  # the live meeting (and any lobby) was ended


async def test_bulk_delete(env, base, auth):
    client, *_ = env
    a, b, c = [(await create(client, base, auth))["roomId"] for _ in range(3)]
    resp = await client.delete(f"{base}/rooms?roomIds={a},{b}", headers=auth)
    body = await resp.json()
    assert resp.status == 200
    assert sorted(s["roomId"] for s in body["deleted"]) == sorted([a, b]) and body["failed"] == []
    assert {s["successCode"] for s in body["deleted"]} == {"room_deleted"}

    resp = await client.delete(f"{base}/rooms?roomIds={c},missing", headers=auth)
    body = await resp.json()
    assert resp.status == 400
    assert [s["roomId"] for s in body["deleted"]] == [c]
    assert body["failed"] == [{"roomId": "missing", "error": "room_not_found",
                               "message": "room 'missing' does not exist"}]
    listed = await (await client.get(f"{base}/rooms", headers=auth)).json()
    assert listed["rooms"] == []

    resp = await client.delete(f"{base}/rooms", headers=auth)
    assert resp.status == 422 and (await resp.json())["details"][0]["field"] == "roomIds"


async def test_rotating_keys_invalidates_old_links(env, base, auth):
    client, _, creds, live = env
    room = await create(client, base, auth)
    old_host = room["access"]["anonymous"]["moderator"]["url"].split("roomKey=", 1)[1]
    resp = await client.post(f"{base}/rooms/{room['roomId']}/rotate-keys", headers=auth)
    body = await resp.json()
    assert resp.status == 200, body
    new_host = body["room"]["access"]["anonymous"]["moderator"]["url"].split("roomKey=", 1)[1]
    assert new_host != old_host
    assert body["room"]["access"]["anonymous"]["speaker"]["url"] == room["access"]["anonymous"]["speaker"]["url"]
    assert key_matches(creds.server_secret, room["roomId"], "host", 1, new_host)
    assert not key_matches(creds.server_secret, room["roomId"], "host", 1, old_host)
    assert live.updated[-1].key_version == 1
    got = await (await client.get(f"{base}/rooms/{room['roomId']}", headers=auth)).json()
    assert got == body["room"]
    assert (await client.post(f"{base}/rooms/nope/rotate-keys", headers=auth)).status == 404


async def test_concurrent_updates_of_one_room_are_all_kept(env, base, auth):
    client, *_ = env
    room = await create(client, base, auth)
    url = f"{base}/rooms/{room['roomId']}"
    allowed = [p for p, v in room["roles"]["speaker"]["permissions"].items() if v]
    puts = [client.put(url + "/roles", json={"roles": {"speaker": {"permissions": {p: False}}}}, headers=auth)
            for p in allowed]
    puts.append(client.put(url + "/lock", json={"isLocked": True}, headers=auth))
    for resp in await asyncio.gather(*puts):
        assert resp.status == 200
    got = await (await client.get(url, headers=auth)).json()
    assert not any(got["roles"]["speaker"]["permissions"].values())
    assert got["isLocked"] is True


async def test_rest_and_the_live_room_agree_on_the_participant_cap(client, auth):
    """One rule: a room's own config.maxParticipants caps the meeting and is what REST shows."""
    room = await make_room(client, auth)
    rid = room["roomId"]
    assert room["maxParticipants"] == 4

    def cap(r):
        r.config = {**r.config, "maxParticipants": 1}
    await store(client).modify_room(rid, cap)
    assert (await (await client.get(f"/api/v1/rooms/{rid}", headers=auth)).json())["maxParticipants"] == 1
    async with clients(client) as cs:
        await cs.joined(rid, "Hana", host_key(room))
        with pytest.raises(SignalingErrorReply) as exc:
            await (await cs.open()).join(rid, "Hugo", host_key(room))
        assert exc.value.code == "room_full"
