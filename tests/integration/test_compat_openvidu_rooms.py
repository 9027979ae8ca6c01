"""Contract tests: the requests OpenVidu Meet 3.8's docs show for rooms and members, answers
validated against schemas written from its spec and types (tests/helpers/openvidu_schemas.py).
Both stores (the ``client`` fixture), both base paths."""

from __future__ import annotations

import pytest

from tests.helpers import openvidu_schemas as S
from tests.helpers.signaling import clients, host_key, make_room

PREFIXES = ["/api/v1", "/meet/api/v1"]

# rooms/schemas/meet-room-options.yaml: the documented example values
CREATE_EXAMPLE = {
    "roomName": "room",
    "autoDeletionDate": 1900000000000,
    "autoDeletionPolicy": {"withMeeting": "when_meeting_ends", "withRecordings": "close"},
    "config": {"chat": {"enabled": True}, "recording": {"enabled": True, "layout": "grid", "encoding": "H264_720P_30"},
               "virtualBackground": {"enabled": True}, "e2ee": {"enabled": False}, "captions": {"enabled": True}},
    "access": {"anonymous": {"moderator": {"enabled": True}, "speaker": {"enabled": True},
                             "recording": {"enabled": True}}, "user": {"enabled": False}},
}
# rooms/requests/update-room-config.yaml: the spec's own example body
UPDATE_CONFIG_EXAMPLE = {"config": {"recording": {"enabled": True, "encoding": "H264_720P_30"},
                                    "chat": {"enabled": True}, "virtualBackground": {"enabled": True}}}
ENCODING_OPTIONS = {  # rooms/schemas/meet-room-config.yaml MeetRecordingEncodingOptions example
    "video": {"width": 1280, "height": 720, "framerate": 30, "codec": "H264_MAIN", "bitrate": 3000,
              "keyFrameInterval": 4, "depth": 24},
    "audio": {"codec": "OPUS", "bitrate": 128, "frequency": 44100},
}


async def _json(resp, status: int, schema=None):
    body = await resp.json()
    assert resp.status == status, body
    return S.check(schema, body) if schema is not None else body


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_create_get_list_rooms(client, auth, prefix):
    resp = await client.post(f"{prefix}/rooms", json=CREATE_EXAMPLE, headers=auth)
    room = await _json(resp, 201, S.ROOM)
    assert room["roomName"] == "room" and room["autoDeletionDate"] == 1900000000000
    assert room["owner"] == "admin" and room["meetingEndAction"] == "none" and room["status"] == "open"
    assert room["rolesUpdatedAt"] == room["creationDate"]
    assert room["config"]["recording"] == {"enabled": True, "layout": "grid", "encoding": "H264_720P_30"}
    assert room["config"]["captions"] == {"enabled": True}
    assert room["access"]["user"]["enabled"] is False and room["access"]["user"]["url"].endswith(room["roomId"])
    got = await _json(await client.get(f"{prefix}/rooms/{room['roomId']}", headers=auth), 200, S.ROOM)
    assert got == room
    # no body at all: every always-present field still there, autoDeletionDate absent (optional)
    bare = await _json(await client.post(f"{prefix}/rooms", headers=auth), 201, S.ROOM)
    assert "autoDeletionDate" not in bare and bare["config"]["captions"] == {"enabled": False}
    listed = await _json(await client.get(f"{prefix}/rooms?maxItems=1", headers=auth), 200, S.ROOM_LIST)
    assert listed["pagination"]["isTruncated"] is True and listed["pagination"]["maxItems"] == 1
    config = await _json(await client.get(f"{prefix}/rooms/{room['roomId']}/config", headers=auth), 200, S.CONFIG)
    assert config == room["config"]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_max_items_above_100_is_clamped(client, auth, prefix):
    await make_room(client, auth)
    listed = await _json(await client.get(f"{prefix}/rooms?maxItems=500", headers=auth), 200, S.ROOM_LIST)
    assert listed["pagination"]["maxItems"] == 100
    room = await make_room(client, auth)
    members = await _json(await client.get(f"{prefix}/rooms/{room['roomId']}/members?maxItems=101", headers=auth),
                          200, S.MEMBER_LIST)
    assert members["pagination"]["maxItems"] == 100


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_updates_answer_the_updated_object(client, auth, prefix):
    room = await make_room(client, auth)
    url = f"{prefix}/rooms/{room['roomId']}"
    config = await _json(await client.put(url + "/config", json=UPDATE_CONFIG_EXAMPLE, headers=auth), 200, S.CONFIG)
    assert config["recording"] == {"enabled": True, "encoding": "H264_720P_30"}
    body = {"config": {"recording": {"layout": "speaker", "encoding": ENCODING_OPTIONS}, "captions": {"enabled": True}}}
    config = await _json(await client.put(url + "/config", json=body, headers=auth), 200, S.CONFIG)
    assert config["recording"] == {"enabled": True, "layout": "speaker", "encoding": ENCODING_OPTIONS}
    assert config["captions"] == {"enabled": True}
    assert await _json(await client.get(url + "/config", headers=auth), 200, S.CONFIG) == config

    # the real backend (room.controller.ts) reads ``roles`` (the spec's YAML says ``config``)
    roles = await _json(await client.put(url + "/roles", json={"roles": {"speaker": {"permissions": {
        "canRecord": True}}}}, headers=auth), 200, S.ROLES)
    assert roles["speaker"]["permissions"]["canRecord"] is True
    after_roles = await _json(await client.get(url, headers=auth), 200, S.ROOM)
    assert after_roles["rolesUpdatedAt"] >= room["rolesUpdatedAt"]

    access = await _json(await client.put(url + "/access", json={"access": {
        "anonymous": {"speaker": {"enabled": False}}, "user": {"enabled": True}}}, headers=auth), 200, S.ACCESS)
    assert access["anonymous"]["speaker"]["enabled"] is False and access["user"]["enabled"] is True
    assert access["anonymous"]["moderator"]["enabled"] is True

    closed = await _json(await client.put(url + "/status", json={"status": "closed"}, headers=auth), 200, S.ROOM)
    assert closed["status"] == "closed" and closed["meetingEndAction"] == "none"


@pytest.mark.parametrize("path, body, field", [
    ("/config", {"config": {"recording": {"layout": "mosaic"}}}, "config.recording.layout"),
    ("/config", {"config": {"recording": {"encoding": "H265_4K"}}}, "config.recording.encoding"),
    ("/config", {"config": {"recording": {"encoding": {"video": ENCODING_OPTIONS["video"]}}}},
     "config.recording.encoding"),
    ("/config", {"config": {"captions": {"enabled": "yes"}}}, "config.captions.enabled"),
    ("/access", {"access": {"user": {"enabled": 1}}}, "access.user.enabled"),
    ("/status", {"status": "paused"}, "status"),
])
async def test_update_errors_are_422_with_details(client, auth, path, body, field):
    room = await make_room(client, auth)
    resp = await client.put(f"/api/v1/rooms/{room['roomId']}{path}", json=body, headers=auth)
    err = await _json(resp, 422, S.ERROR)
    assert any(d["field"].startswith(field) for d in err["details"]), err


async def test_unknown_room_is_404_error(client, auth):
    for method, path in [("GET", "/rooms/nope"), ("GET", "/rooms/nope/config"), ("GET", "/rooms/nope/members"),
                         ("DELETE", "/rooms/nope")]:
        resp = await client.request(method, f"/api/v1{path}", headers=auth)
        await _json(resp, 404, S.ERROR)
    resp = await client.put("/api/v1/rooms/nope/config", json=UPDATE_CONFIG_EXAMPLE, headers=auth)
    await _json(resp, 404, S.ERROR)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_delete_and_bulk_delete(client, auth, prefix):
    a, b, c = [(await make_room(client, auth))["roomId"] for _ in range(3)]
    done = await _json(await client.delete(f"{prefix}/rooms/{a}", headers=auth), 200, S.ROOM_DELETION)
    assert done["successCode"] == "room_deleted"
    bulk = await _json(await client.delete(f"{prefix}/rooms?roomIds={b}", headers=auth), 200, S.BULK_DELETE_ROOMS)
    assert [d["successCode"] for d in bulk["deleted"]] == ["room_deleted"] and bulk["failed"] == []
    mixed = await _json(await client.delete(f"{prefix}/rooms?roomIds={c},missing", headers=auth), 400,
                        S.BULK_DELETE_ROOMS)
    assert [d["roomId"] for d in mixed["deleted"]] == [c]
    assert [f["roomId"] for f in mixed["failed"]] == ["missing"]
    await _json(await client.delete(f"{prefix}/rooms", headers=auth), 422, S.ERROR)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_members_list_filters_and_pages(client, auth, prefix):
    room = await make_room(client, auth)
    base = f"{prefix}/rooms/{room['roomId']}/members"
    made = {}
    for name, role in [("Alice Smith", "moderator"), ("alice jones", "speaker"), ("Bob", "speaker")]:
        resp = await client.post(base, json={"name": name, "baseRole": role,
                                             "customPermissions": {"canShareScreen": False}}, headers=auth)
        made[name] = await _json(resp, 201, S.MEMBER)
    alice = made["Alice Smith"]
    assert alice["type"] == "identified_guest" and alice["permissionsUpdatedAt"] == alice["membershipDate"]
    assert await _json(await client.get(f"{base}/{alice['memberId']}", headers=auth), 200, S.MEMBER) == alice

    async def names(query: str) -> list[str]:
        page = await _json(await client.get(f"{base}?{query}", headers=auth), 200, S.MEMBER_LIST)
        return sorted(m["name"] for m in page["members"])

    assert await names("") == ["Alice Smith", "Bob", "alice jones"]
    assert await names("baseRole=speaker") == ["Bob", "alice jones"]
    assert await names("name=Bob") == ["Bob"]                                     # exact by default
    assert await names("name=Alice") == []
    assert await names("name=Alice&nameMatchMode=prefix") == ["Alice Smith"]
    assert await names("name=alice&nameMatchMode=prefix&nameCaseInsensitive=true") == ["Alice Smith", "alice jones"]
    assert await names("name=ALICE SMITH&nameCaseInsensitive=TRUE") == ["Alice Smith"]
    assert await names("name=o&nameMatchMode=partial") == ["Bob", "alice jones"]
    assert await names("name=^B.b$&nameMatchMode=regex") == ["Bob"]
    assert await names("type=user") == []
    page = await _json(await client.get(f"{base}?maxItems=2&sortField=name&sortOrder=asc", headers=auth), 200,
                       S.MEMBER_LIST)
    assert [m["name"] for m in page["members"]] == ["Alice Smith", "Bob"]
    assert page["pagination"]["isTruncated"] is True
    token = page["pagination"]["nextPageToken"]
    rest = await _json(await client.get(f"{base}?maxItems=2&sortField=name&sortOrder=asc&nextPageToken={token}",
                                        headers=auth), 200, S.MEMBER_LIST)
    assert [m["name"] for m in rest["members"]] == ["alice jones"] and rest["pagination"]["isTruncated"] is False

    # a room roles change changes the members' effective permissions: permissionsUpdatedAt follows
    await client.put(f"{prefix}/rooms/{room['roomId']}/roles", headers=auth,
                     json={"roles": {"speaker": {"permissions": {"canWriteChat": False}}}})
    bob = await _json(await client.get(f"{base}/{made['Bob']['memberId']}", headers=auth), 200, S.MEMBER)
    assert bob["effectivePermissions"]["canWriteChat"] is False
    assert bob["permissionsUpdatedAt"] >= made["Bob"]["permissionsUpdatedAt"]


@pytest.mark.parametrize("query, field", [
    ("baseRole=viewer", "baseRole"), ("nameMatchMode=fuzzy&name=x", "nameMatchMode"),
    ("name=(&nameMatchMode=regex", "name"), ("sortField=creationDate", "sortField"), ("maxItems=0", "maxItems"),
    ("nameCaseInsensitive=maybe", "nameCaseInsensitive"), ("type=robot", "type"),
])
async def test_members_list_bad_parameters_are_422(client, auth, query, field):
    room = await make_room(client, auth)
    resp = await client.get(f"/api/v1/rooms/{room['roomId']}/members?{query}", headers=auth)
    err = await _json(resp, 422, S.ERROR)
    assert err["details"][0]["field"] == field


async def test_members_regex_that_backtracks_without_end_is_422(client, auth):
    room = await make_room(client, auth)
    base = f"/api/v1/rooms/{room['roomId']}/members"
    resp = await client.post(base, json={"name": "a" * 60 + "b", "baseRole": "speaker"}, headers=auth)
    assert resp.status == 201
    resp = await client.get(base, params={"name": "(a|aa)+$", "nameMatchMode": "regex"}, headers=auth)
    err = await _json(resp, 422, S.ERROR)
    assert err["details"][0]["field"] == "name" and "too long" in err["details"][0]["message"]


async def test_members_bad_page_token_is_400(client, auth):
    room = await make_room(client, auth)
    resp = await client.get(f"/api/v1/rooms/{room['roomId']}/members?nextPageToken=garbage", headers=auth)
    await _json(resp, 400, S.ERROR)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_member_delete_and_bulk_delete(client, auth, prefix):
    room = await make_room(client, auth)
    base = f"{prefix}/rooms/{room['roomId']}/members"
    ids = []
    for name in ("A", "B", "C"):
        resp = await client.post(base, json={"name": name, "baseRole": "speaker"}, headers=auth)
        ids.append((await _json(resp, 201, S.MEMBER))["memberId"])
    gone = await _json(await client.delete(f"{base}/{ids[0]}", headers=auth), 200, S.MESSAGE)
    assert ids[0] in gone["message"]
    await _json(await client.delete(f"{base}/{ids[0]}", headers=auth), 404, S.ERROR)
    bulk = await _json(await client.delete(f"{base}?memberIds={ids[1]}", headers=auth), 200, S.BULK_DELETE_MEMBERS)
    assert bulk["deleted"] == [ids[1]] and bulk["failed"] == []
    mixed = await _json(await client.delete(f"{base}?memberIds={ids[2]},{ids[0]}", headers=auth), 400,
                        S.BULK_DELETE_MEMBERS)
    assert mixed["deleted"] == [ids[2]] and [f["memberId"] for f in mixed["failed"]] == [ids[0]]
    listed = await _json(await client.get(base, headers=auth), 200, S.MEMBER_LIST)
    assert listed["members"] == []


async def test_user_members_are_refused_naming_the_capability(client, auth):
    room = await make_room(client, auth)
    resp = await client.post(f"/api/v1/rooms/{room['roomId']}/members", headers=auth,
                             json={"userId": "alice_smith", "baseRole": "speaker"})
    err = await _json(resp, 422, S.ERROR)
    assert err["code"] == "user_members_not_supported" and "user accounts" in err["message"]
    for body in ({"baseRole": "speaker"}, {"name": "x", "baseRole": "viewer"},
                 {"name": "x", "baseRole": "speaker", "customPermissions": {"canFly": True}}):
        resp = await client.post(f"/api/v1/rooms/{room['roomId']}/members", headers=auth, json=body)
        await _json(resp, 422, S.ERROR)


# --- meetings (OpenVidu Meet's meetings.yaml) on a live meeting ------------------------------------------

MEETING_PREFIXES = ["/api/v1", "/meet/api/v1", "/meet/internal-api/v1"]


@pytest.mark.parametrize("prefix", MEETING_PREFIXES)
async def test_meeting_role_kick_and_end(client, auth, prefix):
    room = await make_room(client, auth)
    rid = room["roomId"]
    base = f"{prefix}/meetings/{rid}"
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        guest = await cs.joined(rid, "Gus")
        other = await cs.joined(rid, "Olga")
        part = f"{base}/participants/{guest.participant_id}"

        await _json(await client.put(part + "/role", json={"action": "downgrade"}, headers=auth), 409, S.ERROR)
        done = await _json(await client.put(part + "/role", json={"action": "upgrade"}, headers=auth), 200, S.MESSAGE)
        assert "upgrade" in done["message"]
        perms = await guest.wait_for("permissions", lambda m: m["role"] == "host")
        assert perms["permissions"]["canKickParticipants"] is True
        await _json(await client.put(part + "/role", json={"action": "upgrade"}, headers=auth), 409, S.ERROR)
        await _json(await client.put(part + "/role", json={"action": "downgrade"}, headers=auth), 200, S.MESSAGE)
        await guest.wait_for("permissions", lambda m: m["role"] == "guest")

        kicked = await _json(await client.delete(f"{base}/participants/{other.participant_id}", headers=auth), 200,
                             S.MESSAGE)
        assert other.participant_id in kicked["message"]
        assert (await other.wait_for("ended"))["reason"] == "kicked"
        await host.wait_for("participant_left", lambda m: m["participantId"] == other.participant_id)
        await _json(await client.delete(f"{base}/participants/{other.participant_id}", headers=auth), 404, S.ERROR)

        ended = await _json(await client.delete(base, headers=auth), 200, S.MESSAGE)
        assert rid in ended["message"]
        assert (await host.wait_for("ended"))["reason"] == "meeting_ended"
        assert (await guest.wait_for("ended"))["reason"] == "meeting_ended"
    # idempotent: no meeting running any more
    await _json(await client.delete(base, headers=auth), 200, S.MESSAGE)


@pytest.mark.parametrize("method, path, body, status", [
    ("DELETE", "/meetings/nope", None, 404),
    ("DELETE", "/meetings/nope/participants/p1", None, 404),
    ("PUT", "/meetings/nope/participants/p1/role", {"action": "upgrade"}, 404),
    ("DELETE", "/meetings/{rid}/participants/nobody", None, 404),
    ("PUT", "/meetings/{rid}/participants/nobody/role", {"action": "upgrade"}, 404),
    ("PUT", "/meetings/{rid}/participants/nobody/role", {"action": "promote"}, 422),
    ("PUT", "/meetings/{rid}/participants/nobody/role", {}, 422),
])
async def test_meeting_errors(client, auth, method, path, body, status):
    room = await make_room(client, auth)
    resp = await client.request(method, "/api/v1" + path.format(rid=room["roomId"]), json=body, headers=auth)
    await _json(resp, status, S.ERROR)
    assert (await client.delete(f"/api/v1/meetings/{room['roomId']}")).status == 401
