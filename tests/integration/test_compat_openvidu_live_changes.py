"""Contract tests: room changes while a meeting runs, as OpenVidu Meet 3.8's room service answers
them (meet-ce/backend/src/services/room.service.ts at v3.8.0: config, roles and access refused with
409 ``Room '<id>' has an active meeting``; status ``closed`` scheduled for the meeting's end, 202
with ``meetingEndAction: close``), and Antechamber's ``applyLive=true`` opt-in. Both stores."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import openvidu_schemas as S
from tests.helpers.signaling import clients, host_key, hub, make_room

PREFIXES = ["/api/v1", "/meet/api/v1"]
CHANGES = [
    ("config", {"config": {"chat": {"enabled": False}}}),
    ("roles", {"roles": {"speaker": {"permissions": {"canWriteChat": False}}}}),
    ("access", {"access": {"anonymous": {"speaker": {"enabled": False}}}}),
]


async def _json(resp, status: int, schema=None):
    body = await resp.json()
    assert resp.status == status, body
    return S.check(schema, body) if schema is not None else body


async def _room_until(client, auth, rid: str, check, timeout: float = 10.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        room = await _json(await client.get(f"/api/v1/rooms/{rid}", headers=auth), 200, S.ROOM)
        if check(room):
            return room
        assert loop.time() < deadline, room
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_config_roles_access_refused_with_409_during_a_meeting(client, auth, prefix):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        for part, body in CHANGES:
            err = await _json(await client.put(f"{prefix}/rooms/{rid}/{part}", json=body, headers=auth), 409,
                              S.ERROR)
            assert err["message"] == f"Room '{rid}' has an active meeting" and err["code"] == "room_active_meeting"
        x_api_key = {"X-API-KEY": auth["Authorization"].removeprefix("Bearer ")}   # OpenVidu Meet's own header
        now = await _json(await client.get(f"{prefix}/rooms/{rid}", headers=x_api_key), 200, S.ROOM)
        assert now["config"] == room["config"] and now["roles"] == room["roles"]
        assert now["access"] == room["access"] and now["rolesUpdatedAt"] == room["rolesUpdatedAt"]
        assert host.closed.is_set() is False
        await host.request("end_meeting")
        await host.wait_closed()
    await hub(client).idle()
    await _room_until(client, auth, rid, lambda r: r["status"] == "open")
    for part, body in CHANGES:        # between meetings they apply
        await _json(await client.put(f"{prefix}/rooms/{rid}/{part}", json=body, headers=auth), 200)


async def test_apply_live_opt_in_changes_the_live_meeting(client, auth):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        await cs.joined(rid, "Hana", host_key(room))
        guest = await cs.joined(rid, "Gus")
        resp = await client.put(f"/api/v1/rooms/{rid}/config?applyLive=true",
                                json={"config": {"chat": {"enabled": False}}}, headers=auth)
        assert (await _json(resp, 200, S.CONFIG))["chat"] == {"enabled": False}
        await guest.wait_for("room_updated", lambda m: m["room"]["config"]["chat"]["enabled"] is False)
        bad = await client.put(f"/api/v1/rooms/{rid}/roles?applyLive=yes", json=CHANGES[1][1], headers=auth)
        err = await _json(bad, 422, S.ERROR)
        assert err["details"][0]["field"] == "applyLive"


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_closing_during_a_meeting_is_202_and_closes_when_it_ends(client, auth, prefix):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        resp = await client.put(f"{prefix}/rooms/{rid}/status", json={"status": "closed"}, headers=auth)
        scheduled = await _json(resp, 202, S.ROOM)
        assert scheduled["meetingEndAction"] == "close" and scheduled["status"] == "active_meeting"
        late = await cs.joined(rid, "Gus")          # the room is not closed yet: guests still enter
        assert late.participant_id
        # opening again cancels the scheduled close (3.8: meetingEndAction none)
        reopened = await _json(await client.put(f"{prefix}/rooms/{rid}/status", json={"status": "open"},
                                                headers=auth), 200, S.ROOM)
        assert reopened["meetingEndAction"] == "none"
        await _json(await client.put(f"{prefix}/rooms/{rid}/status", json={"status": "closed"}, headers=auth),
                    202, S.ROOM)
        await _json(await client.delete(f"{prefix}/meetings/{rid}", headers=auth), 200, S.MESSAGE)
        await host.wait_closed()
    await hub(client).idle()
    closed = await _room_until(client, auth, rid, lambda r: r["status"] == "closed")
    assert closed["meetingEndAction"] == "none"
    # no meeting: closing and opening apply at once (200)
    opened = await _json(await client.put(f"{prefix}/rooms/{rid}/status", json={"status": "open"}, headers=auth),
                         200, S.ROOM)
    assert opened["status"] == "open"
    again = await _json(await client.put(f"{prefix}/rooms/{rid}/status", json={"status": "closed"}, headers=auth),
                        200, S.ROOM)
    assert again["status"] == "closed" and again["meetingEndAction"] == "none"
