"""The sweeper's autoDeletionPolicy matrix: withMeeting x withRecordings x a meeting running or not,
on both stores, with real websocket meetings and the sweeper's injectable clock (``sweep_once(now)``)."""

from __future__ import annotations

import asyncio
import time

import pytest

from server.app import HUB, SWEEPER
from server.http.appkeys import STORE
from server.store.records import Recording
from tests.helpers.signaling import clients, host_key, make_room, until

pytestmark = pytest.mark.timeout(60)
HOUR = 3_600_000

# (withMeeting, withRecordings, recordings, meeting) -> (the sweep's code, the room at the end)
CASES = {
    ("force", "close", False, False): ("room_deleted", None),
    ("force", "close", True, False): ("room_closed", "closed"),
    ("force", "force", True, False): ("room_and_recordings_deleted", None),
    ("force", "close", False, True): ("room_with_active_meeting_deleted", None),
    ("force", "close", True, True): ("room_with_active_meeting_closed", "closed"),
    ("force", "force", True, True): ("room_with_active_meeting_and_recordings_deleted", None),
    ("when_meeting_ends", "close", False, True): ("room_with_active_meeting_scheduled_to_be_deleted", None),
    ("when_meeting_ends", "close", True, True): ("room_with_active_meeting_scheduled_to_be_closed", "closed"),
    ("when_meeting_ends", "force", True, True):
        ("room_with_active_meeting_and_recordings_scheduled_to_be_deleted", None),
    ("when_meeting_ends", "force", True, False): ("room_and_recordings_deleted", None),
    ("when_meeting_ends", "close", True, False): ("room_closed", "closed"),
    ("when_meeting_ends", "force", False, False): ("room_deleted", None),
}


@pytest.mark.parametrize("with_meeting,with_recordings,recordings,meeting", list(CASES))
async def test_policy_matrix(client, auth, with_meeting, with_recordings, recordings, meeting):
    code, left = CASES[(with_meeting, with_recordings, recordings, meeting)]
    date = int(time.time() * 1000) + 2 * HOUR
    room = await make_room(client, auth, autoDeletionDate=date,
                           autoDeletionPolicy={"withMeeting": with_meeting, "withRecordings": with_recordings})
    rid = room["roomId"]
    app = client.server.app
    store, sweeper = app[STORE], app[SWEEPER]
    if recordings:       # a finished recording of an earlier meeting
        await store.create_recording(Recording(recording_id=f"rec_{rid[:8]}", room_id=rid, status="complete",
                                               start_date=date - HOUR, end_date=date - HOUR + 1000))
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room)) if meeting else None
        assert await sweeper.sweep_once(now=date - 1) == {}          # not due yet
        assert await sweeper.sweep_once(now=date) == {code: 1}
        if meeting and with_meeting == "force":
            assert (await host.wait_for("ended"))["reason"] == "room_expired"
        elif meeting:                                               # goes on until it ends
            assert app[HUB].has_meeting(rid)
            await host.request("chat", text="still on")
            assert await sweeper.sweep_once(now=date + 1) == {}    # scheduled once, not again
            await host.request("leave")
        await until(lambda: not app[HUB].has_meeting(rid))
    await app[HUB].idle()       # the meeting's end handled (a scheduled deletion is carried out then)
    stored = await store.get_room(rid)
    if left is None:
        assert await _gone(store, rid)
    else:
        assert stored is not None and stored.status == left and not stored.pending_deletion
    kept = await store.get_recording(f"rec_{rid[:8]}") if recordings else None
    assert (kept is not None) == (recordings and with_recordings == "close")
    assert await sweeper.sweep_once(now=date + HOUR) == {}          # never acts twice


async def _gone(store, rid, timeout: float = 5.0) -> bool:
    """The room is deleted (polled: the hub's queued work deletes a scheduled room)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await store.get_room(rid) is not None:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
