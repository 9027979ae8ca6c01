"""Meetings that end on time, end dates and abandoned admissions: a fake clock (ManualTimers) in a
real server, real websocket clients (docs/protocol.md "Meetings that end on time")."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timezone
from typing import Any, AsyncIterator
from urllib.parse import parse_qs, urlparse

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import HUB, SWEEPER, create_app
from server.credentials import load_or_create
from server.http.appkeys import STORE
from signaling.client import SignalingErrorReply
from signaling.live.meeting_clock import ManualTimers
from tests.helpers.signaling import clients, host_key, make_room, until

pytestmark = pytest.mark.timeout(60)
MIN = 60


@contextlib.asynccontextmanager
async def timed(settings, **overrides: Any) -> AsyncIterator[tuple[TestClient, ManualTimers, list]]:
    """A server whose meeting deadlines run on a fake clock; the hub's events recorded."""
    timers = ManualTimers(int(time.time() * 1000))
    settings = settings.replace(**overrides) if overrides else settings
    app = create_app(settings, load_or_create(settings.data_dir, settings.api_keys), timers=timers)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        events: list[tuple[str, dict]] = []
        app[HUB].events.subscribe(lambda name, data: events.append((name, data)))
        yield c, timers, events


def named(events, name):
    return [d for n, d in events if n == name]


async def test_countdown_extend_and_end_on_max_duration(settings, auth):
    async with timed(settings) as (client, clock, events):
        room = await make_room(client, auth, maxDurationMinutes=6)
        assert room["maxDurationMinutes"] == 6 and room["soloTimeoutMinutes"] is None
        rid = room["roomId"]
        async with clients(client) as cs:
            host = await cs.open()
            joined = await host.join(rid, "Hana", host_key(room))
            start = joined["meeting"]["startedAt"]
            assert joined["meeting"]["endsAt"] == start + 6 * MIN * 1000
            assert joined["meeting"]["endReason"] == "max_duration"
            guest = await cs.joined(rid, "Gus")
            clock.advance(MIN)       # 5 minutes left
            for c in (host, guest):
                warning = await c.wait_for("meeting_ending")
                assert warning["minutesLeft"] == 5 and warning["endsAt"] == start + 6 * MIN * 1000
            with pytest.raises(SignalingErrorReply) as refused:      # a guest may not extend
                await guest.request("extend", minutes=10)
            assert refused.value.code == "forbidden"
            for bad in (0, 1441, "5", True):
                with pytest.raises(SignalingErrorReply) as err:
                    await host.request("extend", minutes=bad)
                assert err.value.code == "invalid_field"
            ok = await host.request("extend", minutes=10)
            assert ok["endsAt"] == start + 16 * MIN * 1000
            for c in (host, guest):
                told = await c.wait_for("meeting_extended")
                assert told["minutes"] == 10 and told["by"] == host.participant_id
            resp = await client.post(f"/api/v1/rooms/{rid}/meeting/extend", json={"minutes": 1}, headers=auth)
            assert resp.status == 200 and (await resp.json())["endsAt"] == start + 17 * MIN * 1000
            await guest.wait_for("meeting_extended", lambda m: m["by"] is None)
            resp = await client.post(f"/api/v1/rooms/{rid}/meeting/extend", json={"minutes": 0}, headers=auth)
            assert resp.status == 422 and (await resp.json())["code"] == "validation_error"

            clock.advance(11 * MIN)      # start + 12 min: 5 minutes left of 17
            assert (await guest.wait_for("meeting_ending", lambda m: m["endsAt"] == start + 17 * MIN * 1000)
                    )["minutesLeft"] == 5
            clock.advance(4 * MIN)
            assert (await guest.wait_for("meeting_ending", lambda m: m["minutesLeft"] == 1))["endsAt"] \
                == start + 17 * MIN * 1000
            assert not named(events, "room.session.ended")
            clock.advance(MIN)
            for c in (host, guest):
                assert (await c.wait_for("ended"))["reason"] == "max_duration"
        ended = named(events, "room.session.ended")
        assert [e["reason"] for e in ended] == ["max_duration"]
        assert [e["minutes_left"] for e in named(events, "room.session.ending_soon")] == [5, 5, 1]
        assert [(e["minutes"], e["by"]) for e in named(events, "room.session.extended")] == [
            (10, host.participant_id), (1, None)]
        assert all(e["room_session_id"] == joined["meeting"]["roomSessionId"]
                   for e in named(events, "room.session.extended"))


async def test_a_participant_left_alone_for_the_solo_timeout_is_ended(settings, auth):
    async with timed(settings) as (client, clock, events):
        room = await make_room(client, auth, soloTimeoutMinutes=2)
        rid = room["roomId"]
        async with clients(client) as cs:
            host = await cs.joined(rid, "Hana", host_key(room))
            clock.advance(90)
            guest = await cs.joined(rid, "Gus")
            clock.advance(10 * MIN)          # two people: no solo timer
            await guest.request("leave")
            await host.wait_for("participant_left")
            clock.advance(2 * MIN - 1)
            await host.request("ping")       # still in
            assert not named(events, "room.session.ended")
            clock.advance(1)
            assert (await host.wait_for("ended"))["reason"] == "solo_timeout"
        assert [e["reason"] for e in named(events, "room.session.ended")] == ["solo_timeout"]


async def test_a_meeting_ends_at_the_end_date_when_the_room_asks(settings, auth):
    async with timed(settings) as (client, clock, events):
        end = clock.now + 2 * 3600 * 1000
        room = await make_room(client, auth, autoDeletionDate=end, meetingEndsAtEndDate=True,
                               maxDurationMinutes=600)
        async with clients(client) as cs:
            host = await cs.open()
            joined = await host.join(room["roomId"], "Hana", host_key(room))
            assert joined["meeting"]["endsAt"] == end and joined["meeting"]["endReason"] == "end_date"
            clock.advance(2 * 3600)
            assert (await host.wait_for("ended"))["reason"] == "end_date"
        assert [e["reason"] for e in named(events, "room.session.ended")] == ["end_date"]
        resp = await client.post("/api/v1/rooms", json={"meetingEndsAtEndDate": True}, headers=auth)
        assert resp.status == 422 and (await resp.json())["code"] == "validation_error"


async def test_timing_is_validated_and_changes_only_between_meetings(settings, auth):
    async with timed(settings) as (client, clock, events):
        for bad in ({"maxDurationMinutes": 0}, {"soloTimeoutMinutes": 1441}, {"maxDurationMinutes": "5"},
                    {"meetingEndsAtEndDate": "yes"}):
            resp = await client.post("/api/v1/rooms", json=bad, headers=auth)
            body = await resp.json()
            assert resp.status == 422 and body["code"] == "validation_error", body
            assert body["details"][0]["field"] in bad
        room = await make_room(client, auth)
        rid = room["roomId"]
        resp = await client.post(f"/api/v1/rooms/{rid}/meeting/extend", json={"minutes": 5}, headers=auth)
        assert resp.status == 409 and (await resp.json())["code"] == "no_active_meeting"
        resp = await client.put(f"/api/v1/rooms/{rid}/timing", json={"maxDurationMinutes": 30}, headers=auth)
        assert resp.status == 200 and (await resp.json())["maxDurationMinutes"] == 30
        resp = await client.put(f"/api/v1/rooms/{rid}/timing", json={"meetingEndsAtEndDate": True}, headers=auth)
        assert resp.status == 422       # no autoDeletionDate
        async with clients(client) as cs:
            host = await cs.joined(rid, "Hana", host_key(room))
            resp = await client.put(f"/api/v1/rooms/{rid}/timing", json={"maxDurationMinutes": 5}, headers=auth)
            assert resp.status == 409 and (await resp.json())["code"] == "room_active_meeting"
            await host.request("leave")
        await until(lambda: not client.server.app[HUB].has_meeting(rid))
        await client.server.app[HUB].idle()     # the meeting's end is stored
        resp = await client.put(f"/api/v1/rooms/{rid}/timing", json={"maxDurationMinutes": None,
                                                                      "soloTimeoutMinutes": 3}, headers=auth)
        assert resp.status == 200
        got = await (await client.get(f"/api/v1/rooms/{rid}", headers=auth)).json()
        assert got["maxDurationMinutes"] is None and got["soloTimeoutMinutes"] == 3
        # a meeting without an end cannot be extended
        async with clients(client) as cs:
            host = await cs.joined(rid, "Hana", host_key(room))
            with pytest.raises(SignalingErrorReply) as err:
                await host.request("extend", minutes=5)
            assert err.value.code == "no_end_time"
            resp = await client.post(f"/api/v1/rooms/{rid}/meeting/extend", json={"minutes": 5}, headers=auth)
            assert resp.status == 409 and (await resp.json())["code"] == "no_end_time"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


async def test_whereby_end_date_rules(settings, auth):
    async with timed(settings) as (client, clock, events):
        end = clock.now + 2 * 3600 * 1000
        resp = await client.post("/v1/meetings", json={"endDate": _iso(end), "fields": ["hostRoomUrl"],
                                                       "maxDurationMinutes": 0}, headers=auth)
        assert resp.status == 400 and (await resp.json())["code"] == "validation_error"
        resp = await client.post("/v1/meetings", json={"endDate": _iso(end), "fields": ["hostRoomUrl"],
                                                       "soloTimeoutMinutes": 30}, headers=auth)
        meeting = await resp.json()
        assert resp.status == 201 and meeting["soloTimeoutMinutes"] == 30 and "maxDurationMinutes" not in meeting
        mid = meeting["meetingId"]
        assert meeting["endDate"].startswith(_iso(end)[:19])
        key = parse_qs(urlparse(meeting["hostRoomUrl"]).query)["roomKey"][0]
        stored = await client.server.app[STORE].get_room(mid)
        assert stored.end_date == end and stored.auto_deletion_date == end + 23 * 3600 * 1000
        async with clients(client) as cs:
            host = await cs.joined(mid, "Hana", key)
            late = await cs.joined(mid, "Lia")     # two people: the solo timeout does not run
            clock.advance(2 * 3600)            # past endDate: still fully usable for an hour
            await cs.joined(mid, "Mia")
            await host.request("lock", locked=False)
            clock.advance(3600)                # endDate + 1 h: expired
            newcomer = await cs.open()
            with pytest.raises(SignalingErrorReply) as err:
                await newcomer.join(mid, "Nina")
            assert err.value.code == "room_expired"
            with pytest.raises(SignalingErrorReply) as err:
                await host.request("lock", locked=True)
            assert err.value.code == "room_expired"
            await host.request("chat", text="still here")       # not thrown out by the end date
            await late.wait_for("chat", lambda m: m["text"] == "still here")
            resp = await client.post(f"/v1/meetings/{mid}/extend", json={"minutes": 5}, headers=auth)
            assert resp.status == 409 and (await resp.json())["code"] == "no_end_time"
            resp = await client.put(f"/v1/meetings/{mid}/timing", json={"maxDurationMinutes": 9}, headers=auth)
            assert resp.status == 409 and (await resp.json())["code"] == "room_active_meeting"
            resp = await client.put(f"/v1/meetings/{mid}/timing", json={"maxDurationMinutes": -1}, headers=auth)
            assert resp.status == 400 and (await resp.json())["details"][0]["field"] == "maxDurationMinutes"
            sweeper = client.server.app[SWEEPER]
            assert await sweeper.sweep_once(now=end + 22 * 3600 * 1000) == {}
            assert await client.server.app[STORE].get_room(mid) is not None
            counts = await sweeper.sweep_once(now=end + 23 * 3600 * 1000)
            assert counts == {"room_with_active_meeting_deleted": 1}
            assert (await host.wait_for("ended"))["reason"] == "room_expired"
            assert await client.server.app[STORE].get_room(mid) is None
            assert await sweeper.sweep_once(now=end + 24 * 3600 * 1000) == {}     # never twice


async def test_an_expired_whereby_room_takes_no_new_recording(settings, auth):
    async with timed(settings) as (client, clock, events):
        resp = await client.post("/v1/meetings", json={"endDate": _iso(clock.now + 2 * 3600 * 1000)}, headers=auth)
        mid = (await resp.json())["meetingId"]

        def ended_long_ago(room) -> None:     # as if its endDate were two hours ago
            room.end_date = int(time.time() * 1000) - 2 * 3600 * 1000
        await client.server.app[STORE].modify_room(mid, ended_long_ago)
        resp = await client.post("/api/v1/recordings", json={"roomId": mid}, headers=auth)
        assert resp.status == 409 and (await resp.json())["code"] == "room_expired"


async def test_an_admitted_knocker_that_never_comes_back_did_not_arrive(settings, auth):
    async with timed(settings, reconnect_grace_seconds=0.5) as (client, clock, events):
        room = await make_room(client, auth, isLocked=True)
        rid = room["roomId"]
        async with clients(client) as cs:
            host = await cs.joined(rid, "Hana", host_key(room))
            guest = await cs.knocking(rid, "Gus")
            knocks = await host.wait_for("knocks", lambda m: m["knocks"])
            knock_id = knocks["knocks"][0]["knockId"]
            await guest.abort()
            await host.wait_for("knocks", lambda m: (m.get("change") or {}).get("connection") == "reconnecting")
            await host.request("admit", knockId=knock_id)
            gone = await host.wait_for("knocks", lambda m: (m.get("change") or {}).get("arrival") == "did_not_arrive",
                                       timeout=10)
            assert gone["change"]["knockId"] == knock_id and gone["change"]["displayName"] == "Gus"
        assert named(events, "room.client.admission_abandoned") == [
            {"room_id": rid, "knock_id": knock_id, "display_name": "Gus"}]


async def test_the_deadline_survives_a_hand_over(settings, auth):
    async with timed(settings, reconnect_grace_seconds=30) as (client, clock, events):
        room = await make_room(client, auth, maxDurationMinutes=10)
        rid = room["roomId"]
        hub = client.server.app[HUB]
        async with clients(client) as cs:
            host = await cs.open()
            joined = await host.join(rid, "Hana", host_key(room))
            await host.request("extend", minutes=5)
            clock.advance(11 * MIN)                  # 4 minutes left: the 5-minute warning was sent
            await host.wait_for("meeting_ending")
            snap = hub.snapshot(rid)
            assert snap["clock"]["deadline"] == joined["meeting"]["startedAt"] + 15 * MIN * 1000
            info = await hub.directory.resolve(rid)
            assert hub.hand_over(rid)
            hub.restore_room(info, snap)             # as the next owner does
            assert hub.room(rid).clock.deadline == snap["clock"]["deadline"]
            assert hub.room(rid).clock.warned == {5}
            clock.advance(4 * MIN)
            await until(lambda: named(events, "room.session.ended"))
        assert named(events, "room.session.ended")[0]["reason"] == "max_duration"
        assert [e["minutes_left"] for e in named(events, "room.session.ending_soon")] == [5, 1]


async def test_rest_extend_on_another_cluster_node_reaches_the_owner(redis_url, tmp_path):
    from signaling.client import SignalingClient
    from tests.helpers.cluster_nodes import AUTH, cluster_nodes

    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        resp = await n1.client.post("/api/v1/rooms", json={"maxDurationMinutes": 30}, headers=AUTH)
        room = await resp.json()
        rid = room["roomId"]
        assert await n1.cluster.ownership.claim(rid) is not None
        async with SignalingClient(n1.ws_url()) as host:
            joined = await host.join(rid, "Hana", host_key(room))
            resp = await n2.client.post(f"/api/v1/rooms/{rid}/meeting/extend", json={"minutes": 7}, headers=AUTH)
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["endsAt"] == joined["meeting"]["endsAt"] + 7 * MIN * 1000
            told = await host.wait_for("meeting_extended")
            assert told["minutes"] == 7 and told["by"] is None
        await until(lambda: not n1.hub.has_meeting(rid), timeout=10)
        resp = await n2.client.post(f"/v1/meetings/{rid}/extend", json={"minutes": 7}, headers=AUTH)
        assert resp.status == 409 and (await resp.json())["code"] == "no_active_meeting"
