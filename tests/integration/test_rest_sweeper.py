"""The auto-deletion sweeper on both stores: policies, live meetings, the background task."""

from __future__ import annotations

import asyncio
import time

import pytest_asyncio

from server.app import SWEEPER
from server.store.records import Recording
from tests.helpers.rest_app import RecordingLive, running_app, store_of

HOUR = 3_600_000


@pytest_asyncio.fixture
async def env(settings):
    live = RecordingLive()
    async with running_app(settings, live=live) as (client, app, _):
        yield client, app, live


async def make_room(client, auth, policy=None, hours=2):
    body = {"autoDeletionDate": int(time.time() * 1000) + hours * HOUR}
    if policy:
        body["autoDeletionPolicy"] = policy
    resp = await client.post("/api/v1/rooms", json=body, headers=auth)
    room = await resp.json()
    assert resp.status == 201, room
    return room


async def exists(client, auth, room_id) -> bool:
    return (await client.get(f"/api/v1/rooms/{room_id}", headers=auth)).status == 200


async def test_expired_rooms_are_deleted_and_others_kept(env, auth):
    client, app, live = env
    soon = await make_room(client, auth, hours=2)
    later = await make_room(client, auth, hours=5)
    forever = (await (await client.post("/api/v1/rooms", json={}, headers=auth)).json())
    counts = await app[SWEEPER].sweep_once(now=soon["autoDeletionDate"] + 1)
    assert counts == {"room_deleted": 1}
    assert not await exists(client, auth, soon["roomId"])
    assert await exists(client, auth, later["roomId"]) and await exists(client, auth, forever["roomId"])
    assert live.ended == []


async def test_force_policy_ends_the_live_meeting(env, auth):
    client, app, live = env
    room = await make_room(client, auth, {"withMeeting": "force", "withRecordings": "close"})
    live.meetings.add(room["roomId"])
    counts = await app[SWEEPER].sweep_once(now=room["autoDeletionDate"])
    assert counts == {"room_with_active_meeting_deleted": 1}
    assert live.ended == [(room["roomId"], "room_expired")]
    assert not await exists(client, auth, room["roomId"])


async def test_when_meeting_ends_waits_for_the_meeting(env, auth):
    client, app, live = env
    room = await make_room(client, auth, {"withMeeting": "when_meeting_ends", "withRecordings": "close"})
    rid, due = room["roomId"], room["autoDeletionDate"] + 1
    live.meetings.add(rid)
    assert await app[SWEEPER].sweep_once(now=due) == {"room_with_active_meeting_scheduled_to_be_deleted": 1}
    assert (await store_of(app).get_room(rid)).pending_deletion["action"] == "delete"
    assert await app[SWEEPER].sweep_once(now=due) == {}          # meeting still running: nothing more
    assert live.ended == [] and await exists(client, auth, rid)
    live.meetings.discard(rid)                          # the meeting ended without the hub deleting it
    assert await app[SWEEPER].sweep_once(now=due) == {"room_deleted": 1}
    assert not await exists(client, auth, rid)


async def test_recordings_close_or_go_with_the_room(env, auth):
    client, app, _ = env
    keep = await make_room(client, auth, {"withMeeting": "force", "withRecordings": "close"})
    drop = await make_room(client, auth, {"withMeeting": "force", "withRecordings": "force"})
    store = store_of(app)
    for room in (keep, drop):
        await store.create_recording(Recording(recording_id="rec-" + room["roomId"], room_id=room["roomId"],
                                               status="complete", start_date=1))
    due = max(keep["autoDeletionDate"], drop["autoDeletionDate"]) + 1
    counts = await app[SWEEPER].sweep_once(now=due)
    assert counts == {"room_closed": 1, "room_and_recordings_deleted": 1}
    got = await (await client.get(f"/api/v1/rooms/{keep['roomId']}", headers=auth)).json()
    assert got["status"] == "closed"
    assert await store.get_recording("rec-" + keep["roomId"]) is not None
    assert await store.get_recording("rec-" + drop["roomId"]) is None
    assert not await exists(client, auth, drop["roomId"])
    assert await app[SWEEPER].sweep_once(now=due) == {}          # a closed room is left alone


async def test_background_task_deletes_expired_rooms(settings, auth):
    async with running_app(settings, prepare=lambda app: setattr(app[SWEEPER], "interval", 0.05)) as (client, app, _):
        room = await make_room(client, auth)
        store = store_of(app)
        def expire(r):   # as if its hour had passed
            r.auto_deletion_date = int(time.time() * 1000) - 1000
        await store.modify_room(room["roomId"], expire)
        deadline = time.monotonic() + 15
        while await exists(client, auth, room["roomId"]):
            assert time.monotonic() < deadline, "sweeper did not delete the expired room"
            await asyncio.sleep(0.02)


async def test_a_meeting_no_node_runs_is_ended_after_two_passes(env, auth):
    """A crash leaves rooms stored as in a meeting: once two passes saw no node run it, the meeting
    is ended (node_lost) and the room is open again; a meeting that runs is left alone."""
    from server.store.records import Meeting

    client, app, live = env
    store = store_of(app)
    lost, running = await make_room(client, auth), await make_room(client, auth)
    for room in (lost, running):
        await store.create_meeting(Meeting(room_session_id=f"s-{room['roomId']}", room_id=room["roomId"],
                                           start_date=int(time.time() * 1000) - 60_000))
        await app[SWEEPER].rooms.change(room["roomId"], lambda r: setattr(r, "status", "active_meeting"), "status")
    live.meetings.add(running["roomId"])

    assert await app[SWEEPER].settle_lost_meetings() == []          # first sight: not yet
    status = (await (await client.get(f"/api/v1/rooms/{lost['roomId']}", headers=auth)).json())["status"]
    assert status == "active_meeting"
    assert await app[SWEEPER].settle_lost_meetings() == [lost["roomId"]]
    body = await (await client.get(f"/api/v1/rooms/{lost['roomId']}", headers=auth)).json()
    assert body["status"] == "open"
    ended = (await store.list_meetings(lost["roomId"]))[0]
    assert ended.end_date is not None and ended.end_reason == "node_lost"
    assert (await store.get_room(running["roomId"])).status == "active_meeting"
    assert (await store.list_meetings(running["roomId"]))[0].end_date is None
