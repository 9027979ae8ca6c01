"""Contract tests: Whereby v1's insights (/v1/insights/rooms, /room-sessions, /participants,
/participant) as its REST reference documents them, on meetings run here by real signaling
clients: the participants' join/leave log is written from the live events into the store. Answers
are validated against schemas written from the reference (tests/helpers/whereby_insights_schemas.py).
Both stores, through the ``client`` fixture."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from server.store.records import Participation
from tests.helpers.signaling import clients, hub, store
from tests.helpers.whereby_insights_schemas import PARTICIPANT_PAGE, ROOM_INSIGHT_PAGE, SESSION_INSIGHT_PAGE
from tests.helpers.whereby_schemas import ERROR, check


def future(days: int = 1) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _json(resp, status: int, schema=None):
    body = await resp.json()
    assert resp.status == status, body
    if schema is not None:
        check(schema, body)
    return body


async def _meeting(client, auth) -> str:
    created = await _json(await client.post("/v1/meetings", json={"endDate": future()}, headers=auth), 201)
    return created["meetingId"]


async def _until(fetch, check_page, timeout: float = 10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        page = await fetch()
        if check_page(page):
            return page
        assert loop.time() < deadline, page
        await asyncio.sleep(0.02)


async def _one_meeting(client, auth, rid: str) -> None:
    """Gus and Gia meet; Gia leaves; the API ends the meeting."""
    async with clients(client) as cs:
        gus = await cs.joined(rid, "Gus")
        gia = await cs.joined(rid, "Gia")
        await gia.send("leave")
        await gus.wait_for("participant_left", lambda m: m["participantId"] == gia.participant_id)
        await _json(await client.delete(f"/api/v1/meetings/{rid}", headers=auth), 200)
        await gus.wait_for("ended")
    await hub(client).idle()


async def test_sessions_participants_and_rooms_after_a_meeting(client, auth):
    rid = await _meeting(client, auth)
    await _one_meeting(client, auth, rid)

    async def sessions():
        return await _json(await client.get(f"/v1/insights/room-sessions?roomName=/{rid}", headers=auth), 200,
                           SESSION_INSIGHT_PAGE)
    # the meeting's end and each stay's end are written separately (in order, off the room's flow):
    # wait until both stays are closed, as a caller polling after a meeting would
    page = await _until(sessions, lambda p: p["results"] and p["results"][0]["endedAt"]
                        and p["results"][0]["totalParticipantMinutes"] >= 2)
    assert page["cursor"] is None and len(page["results"]) == 1
    session = page["results"][0]
    assert session["roomName"] == f"/{rid}" and session["totalUniqueParticipants"] == 2
    assert session["totalParticipantMinutes"] == 2          # two short stays, each rounded up to a minute
    assert session["totalRecorderMinutes"] == 0 and session["totalUniqueStreamers"] == 0
    sid = session["roomSessionId"]

    async def people():
        return await _json(await client.get(f"/v1/insights/participants?roomSessionId={sid}", headers=auth), 200,
                           PARTICIPANT_PAGE)
    page = await _until(people, lambda p: len(p["results"]) == 2 and all(x["leftAt"] for x in p["results"]))
    names = [p["displayName"] for p in page["results"]]
    assert names == ["Gus", "Gia"]                           # joinedAt:asc by default
    assert {p["roleName"] for p in page["results"]} == {"visitor"}
    assert all(p["roomSessionId"] == sid and p["joinedAt"] <= p["leftAt"] for p in page["results"])
    by_left = await people_sorted(client, auth, sid, "leftAt:asc")
    assert [p["displayName"] for p in by_left] == ["Gia", "Gus"]

    rooms = await _json(await client.get(f"/v1/insights/rooms?roomName[exact]=/{rid}", headers=auth), 200,
                        ROOM_INSIGHT_PAGE)
    assert len(rooms["results"]) == 1
    room = rooms["results"][0]
    assert room["totalSessions"] == 1 and room["totalUniqueParticipants"] == 2
    assert room["firstSessionStartedAt"] == room["lastSessionStartedAt"] == session["startedAt"]
    assert room["totalParticipantMinutes"] == 2
    one_session = await _json(await client.get(f"/v1/insights/room-sessions?roomName={rid}&roomSessionId={sid}",
                                               headers=auth), 200, SESSION_INSIGHT_PAGE)
    assert [s["roomSessionId"] for s in one_session["results"]] == [sid]
    # the meeting deleted: its room is no longer listed, its sessions still are
    assert (await client.delete(f"/v1/meetings/{rid}", headers=auth)).status == 204
    gone = await _json(await client.get(f"/v1/insights/rooms?roomName[exact]=/{rid}", headers=auth), 200,
                       ROOM_INSIGHT_PAGE)
    assert gone["results"] == []
    assert len((await sessions())["results"]) == 1


async def people_sorted(client, auth, sid: str, sort: str) -> list[dict]:
    page = await _json(await client.get(f"/v1/insights/participants?roomSessionId={sid}&sortBy={sort}",
                                        headers=auth), 200, PARTICIPANT_PAGE)
    return page["results"]


async def test_room_filters_sorting_and_cursor(client, auth):
    a, b, c = [await _meeting(client, auth) for _ in range(3)]
    await _one_meeting(client, auth, b)

    async def by_sessions():
        return await _json(await client.get("/v1/insights/rooms?sortBy=totalSessions:desc&limit=100", headers=auth),
                           200, ROOM_INSIGHT_PAGE)
    page = await _until(by_sessions, lambda p: p["results"] and p["results"][0]["totalSessions"] == 1)
    assert page["results"][0]["roomName"] == f"/{b}"
    fresh = {r["roomName"]: r for r in page["results"]}[f"/{a}"]
    assert fresh["totalSessions"] == 0 and fresh["firstSessionStartedAt"] is None
    contains = await _json(await client.get(f"/v1/insights/rooms?roomName[contains]={c[-6:]}", headers=auth), 200,
                           ROOM_INSIGHT_PAGE)
    assert [r["roomName"] for r in contains["results"]] == [f"/{c}"]
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    none = await _json(await client.get(f"/v1/insights/rooms?createdAt[from]={later}", headers=auth), 200,
                       ROOM_INSIGHT_PAGE)
    assert none == {"results": [], "cursor": None}

    seen, cursor = [], None
    while True:
        query = "/v1/insights/rooms?sortBy=roomName:asc&limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = await _json(await client.get(query, headers=auth), 200, ROOM_INSIGHT_PAGE)
        seen += [r["roomName"] for r in page["results"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and {f"/{a}", f"/{b}", f"/{c}"} <= set(seen)
    first = await _json(await client.get("/v1/insights/rooms?sortBy=roomName:asc&limit=1", headers=auth), 200)
    other_query = f"/v1/insights/rooms?sortBy=roomName:desc&limit=1&cursor={first['cursor']}"
    err = await _json(await client.get(other_query, headers=auth), 400, ERROR)
    assert err["details"][0]["field"] == "cursor"


async def test_a_running_meeting_counts_up_to_now(client, auth):
    rid = await _meeting(client, auth)
    async with clients(client) as cs:
        await cs.joined(rid, "Gus")

        async def sessions():
            return await _json(await client.get(f"/v1/insights/room-sessions?roomName=/{rid}", headers=auth), 200,
                               SESSION_INSIGHT_PAGE)
        page = await _until(sessions, lambda p: p["results"])
        running = page["results"][0]
        assert running["endedAt"] is None and running["endAt"] is None and running["totalUniqueParticipants"] == 1
        people = await _json(await client.get(
            f"/v1/insights/participants?roomSessionId={running['roomSessionId']}", headers=auth), 200,
            PARTICIPANT_PAGE)
        assert people["results"][0]["leftAt"] is None and people["results"][0]["displayName"] == "Gus"


async def test_participant_minutes_are_rounded_up_per_connection(client, auth):
    """Stays written straight into the store (the log's record type): 61 s -> 2 min, 60 s -> 1 min."""
    rid = await _meeting(client, auth)
    from server.store.records import Meeting
    s = store(client)
    await s.create_meeting(Meeting(room_session_id="sess-1", room_id=rid, start_date=1_000_000,
                                   end_date=1_200_000, peak_participants=2))
    for pid, stay in (("p1", 61_000), ("p2", 60_000)):
        await s.put_participation(Participation(room_session_id="sess-1", participant_id=pid, room_id=rid,
                                                joined_at=1_000_000, left_at=1_000_000 + stay, role="host"))
    page = await _json(await client.get(f"/v1/insights/room-sessions?roomName=/{rid}", headers=auth), 200,
                       SESSION_INSIGHT_PAGE)
    assert page["results"][0]["totalParticipantMinutes"] == 3
    people = await _json(await client.get("/v1/insights/participants?roomSessionId=sess-1", headers=auth), 200,
                         PARTICIPANT_PAGE)
    assert {p["roleName"] for p in people["results"]} == {"host"}


@pytest.mark.parametrize("path, status, code, field", [
    ("/v1/insights/room-sessions", 400, "validation_error", "roomName"),
    ("/v1/insights/room-sessions?roomName=/x&sortBy=nope", 400, "validation_error", "sortBy"),
    ("/v1/insights/rooms?limit=0", 400, "validation_error", "limit"),
    ("/v1/insights/rooms?limit=101", 400, "validation_error", "limit"),
    ("/v1/insights/rooms?sortBy=totalSessions:up", 400, "validation_error", "sortBy"),
    ("/v1/insights/rooms?createdAt[from]=yesterday", 400, "validation_error", "createdAt[from]"),
    ("/v1/insights/rooms?cursor=forged", 400, "validation_error", "cursor"),
    ("/v1/insights/participants", 400, "validation_error", "roomSessionId"),
    ("/v1/insights/participants?roomSessionId=s&sortBy=displayName", 400, "validation_error", "sortBy"),
    ("/v1/insights/participants?externalId=abc", 403, "external_id_not_supported", None),
    ("/v1/insights/participant?roomSessionId=s", 400, "validation_error", "participantId"),
    ("/v1/insights/participant?roomSessionId=s&participantId=p", 403, "participant_samples_not_supported", None),
])
async def test_errors(client, auth, path, status, code, field):
    err = await _json(await client.get(path, headers=auth), status, ERROR)
    assert err["code"] == code
    if field:
        assert err["details"][0]["field"] == field


async def test_insights_need_the_key(client):
    for path in ("/v1/insights/rooms", "/v1/insights/room-sessions?roomName=/x",
                 "/v1/insights/participants?roomSessionId=s"):
        await _json(await client.get(path), 401, ERROR)


async def test_a_meeting_handed_to_another_node_ends_the_stays_logged_here(client, auth):
    rid = await _meeting(client, auth)
    async with clients(client) as cs:
        gus = await cs.joined(rid, "Gus")
        assert hub(client).hand_over(rid, "moved")
        await gus.wait_for("reconnect")

        async def people():
            sessions = await _json(await client.get(f"/v1/insights/room-sessions?roomName=/{rid}", headers=auth), 200,
                                   SESSION_INSIGHT_PAGE)
            if not sessions["results"]:
                return {"results": []}
            sid = sessions["results"][0]["roomSessionId"]
            return await _json(await client.get(f"/v1/insights/participants?roomSessionId={sid}", headers=auth), 200,
                               PARTICIPANT_PAGE)
        page = await _until(people, lambda p: p["results"] and p["results"][0]["leftAt"])
        assert page["results"][0]["displayName"] == "Gus"
