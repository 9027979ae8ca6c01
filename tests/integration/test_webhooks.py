"""Webhooks end to end (docs/webhooks.md): a real server on the parametrised store (SQLite, Redis: on
Redis the app runs as a cluster node and delivers under leader:webhooks), real websocket clients, a
real local receiver that checks signatures as Whereby's and OpenVidu Meet's receivers do."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest
import structlog

from server.app import HUB
from server.http.appkeys import RECORDINGS, STORE, WEBHOOKS
from server.store.records import Recording
from tests.helpers.signaling import clients, host_key, make_room, serve, until
from tests.helpers.webhook_receiver import Receiver, signature_ok

SECRET_W = "whsec-whereby-0123456789abcdef"
SECRET_O = "whsec-openvidu-0123456789abcdef"
FAST = dict(webhook_backoff_seconds=0.05, webhook_backoff_max_seconds=0.2, webhook_poll_seconds=0.05)


def hooked(settings, receiver: Receiver, **extra):
    """Two endpoints on ``receiver``: whereby at /w, openvidu at /o (``extra`` overrides)."""
    return settings.replace(**{"webhook_urls": (receiver.url("/w"), receiver.url("/o")),
                               "webhook_secrets": (SECRET_W, SECRET_O), "webhook_formats": ("whereby", "openvidu"),
                               **FAST, **extra})


@pytest.fixture
async def receiver():
    r = await Receiver().start()
    yield r
    await r.stop()


async def deliveries(client, auth, **query) -> list[dict]:
    resp = await client.get("/api/v1/webhooks/deliveries", params={"maxItems": "100", **query}, headers=auth)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["deliveries"]


async def test_meeting_events_signed_in_both_formats(settings, receiver, auth):
    async with serve(hooked(settings, receiver)) as client:
        room = await make_room(client, auth, roomName="Standup")
        async with clients(client) as cs:
            host = await cs.joined(room["roomId"], "Hana", host_key(room))
            await host.send("leave")
            await until(lambda: len(receiver.ok("/w")) >= 4 and len(receiver.ok("/o")) >= 2, 15, "deliveries")
    whereby, openvidu = receiver.ok("/w"), receiver.ok("/o")
    assert [r.body["type"] for r in whereby] == ["room.session.started", "room.client.joined", "room.client.left",
                                                 "room.session.ended"]
    assert [r.body["event"] for r in openvidu] == ["meetingStarted", "meetingEnded"]
    for r in whereby:
        assert signature_ok("whereby", SECRET_W, r.body, r.headers), r.headers
        assert not signature_ok("whereby", SECRET_O, r.body, r.headers)
        assert set(r.body) == {"id", "apiVersion", "createdAt", "type", "data", "sequence"}
        assert r.body["data"]["meetingId"] == room["roomId"] and r.body["data"]["roomName"] == "/" + room["roomId"]
    for r in openvidu:
        assert signature_ok("openvidu", SECRET_O, r.body, r.headers), r.headers
        assert set(r.body) == {"event", "creationDate", "data", "sequence"}
        assert r.body["data"]["roomId"] == room["roomId"] and r.body["data"]["roomName"] == "Standup"
    joined = whereby[1].body["data"]
    assert (joined["displayName"], joined["roleName"], joined["numClients"]) == ("Hana", "host", 1)
    assert whereby[2].body["data"]["numClients"] == 0
    assert openvidu[0].body["data"]["status"] == "active_meeting"
    assert [r.body["sequence"] for r in whereby] == [1, 2, 3, 4]
    assert [r.body["sequence"] for r in openvidu] == [1, 2]
    assert [int(r.headers["Antechamber-Sequence"]) for r in whereby] == [1, 2, 3, 4]


async def test_retried_on_500_then_delivered_once(settings, receiver, auth):
    answers = iter([500, 500])
    receiver.answer = lambda path, body: next(answers, 200)
    async with serve(hooked(settings, receiver, webhook_urls=(receiver.url("/w"),), webhook_secrets=(SECRET_W,),
                            webhook_formats=("whereby",), webhook_events=("room.client.knocked",))) as client:
        room = await make_room(client, auth, roomName="Door", isLocked=True)
        async with clients(client) as cs:
            await cs.joined(room["roomId"], "Hana", host_key(room))
            await cs.knocking(room["roomId"], "Gus")
            await until(lambda: receiver.ok(), 15, "the knock delivered")
            [d] = await deliveries(client, auth, type="room.client.knocked")
    assert [r.status for r in receiver.got] == [500, 500, 200]
    assert len(receiver.ok()) == 1 and receiver.ok()[0].body["data"]["displayName"] == "Gus"
    assert d["status"] == "delivered" and d["attemptCount"] == 3
    assert [a["responseCode"] for a in d["attempts"]] == [500, 500, 200]
    assert d["attempts"][0]["error"] == "HTTP 500" and d["error"] is None


async def test_receiver_down_then_up_and_replay(settings, auth):
    receiver = Receiver()          # not started yet: the port refuses connections
    async with serve(hooked(settings, receiver, webhook_max_attempts=20)) as client:
        room = await make_room(client, auth, roomName="Down")
        async with clients(client) as cs:
            await cs.joined(room["roomId"], "Hana", host_key(room))

            async def failed_attempts() -> int:
                return sum(len(d["attempts"]) for d in await deliveries(client, auth))
            while await failed_attempts() < 3:
                await asyncio.sleep(0.05)
            logged = await deliveries(client, auth, status="pending")
            assert logged and all(a["responseCode"] is None and a["error"].startswith("connection failed")
                                  for d in logged for a in d["attempts"])
            await receiver.start()
            try:
                await until(lambda: len(receiver.ok("/w")) >= 2 and len(receiver.ok("/o")) >= 1, 15, "delivered")
                first = receiver.ok("/w")[0]
                assert signature_ok("whereby", SECRET_W, first.body, first.headers)
                [started] = await deliveries(client, auth, type="room.session.started")
                resp = await client.post(f"/api/v1/webhooks/deliveries/{started['id']}/replay", headers=auth)
                assert resp.status == 202, await resp.text()
                again = await resp.json()
                await until(lambda: len([r for r in receiver.ok("/w")
                                         if r.body["type"] == "room.session.started"]) == 2, 15, "the replay")
                resent = [r for r in receiver.ok("/w") if r.body["type"] == "room.session.started"]
                assert resent[0].body == resent[1].body       # same id, sequence and data
                assert signature_ok("whereby", SECRET_W, resent[1].body, resent[1].headers)
                assert again["replayOf"] == started["id"] and again["sequence"] == started["sequence"]
                missing = await client.post("/api/v1/webhooks/deliveries/whd_nope/replay", headers=auth)
                assert missing.status == 404 and (await missing.json())["code"] == "delivery_not_found"
            finally:
                await receiver.stop()


async def test_delivered_after_restart(settings, auth):
    receiver = Receiver()          # down while the event happens
    with_hooks = hooked(settings, receiver, webhook_backoff_seconds=0.2, webhook_backoff_max_seconds=0.5)
    async with serve(with_hooks) as client:
        room = await make_room(client, auth, roomName="Restart")
        async with clients(client) as cs:
            host = await cs.joined(room["roomId"], "Hana", host_key(room))
            await host.send("leave")
            while len(await deliveries(client, auth)) < 6:
                await asyncio.sleep(0.05)
    await receiver.start()
    try:
        async with serve(with_hooks):
            await until(lambda: len(receiver.ok("/w")) >= 4 and len(receiver.ok("/o")) >= 2, 20, "after restart")
        assert [r.body["type"] for r in receiver.ok("/w")] == [
            "room.session.started", "room.client.joined", "room.client.left", "room.session.ended"]
        assert [r.body["sequence"] for r in receiver.ok("/o")] == [1, 2]
        assert all(signature_ok("openvidu", SECRET_O, r.body, r.headers) for r in receiver.ok("/o"))
    finally:
        await receiver.stop()


async def test_order_and_sequence_under_50_concurrent_events(settings, receiver, auth):
    rng = random.Random(13)
    first_try: set[str] = set()

    def answer(path, body):       # a third of the events fail on their first try
        pid = body["data"]["participantId"]
        if pid not in first_try and rng.random() < 0.33:
            first_try.add(pid)
            return 503
        first_try.add(pid)
        return 200
    receiver.answer = answer
    receiver.delay = lambda path, body: rng.random() * 0.01
    async with serve(hooked(settings, receiver, webhook_urls=(receiver.url("/w"),), webhook_secrets=(SECRET_W,),
                            webhook_formats=("whereby",), webhook_events=("room.client.joined",))) as client:
        room = await make_room(client, auth, roomName="Crowd")
        events = client.server.app[HUB].events

        async def join(i: int) -> None:
            events.emit("room.client.joined", room_id=room["roomId"], participant_id=f"p{i:02d}",
                        display_name=f"Guest {i}", role="guest", room_session_id="s1")
        await asyncio.gather(*(join(i) for i in range(50)))
        await until(lambda: len(receiver.ok()) >= 50, 30, "50 deliveries")
    ok = receiver.ok()
    assert [r.body["sequence"] for r in ok] == list(range(1, 51))
    assert [r.body["data"]["participantId"] for r in ok] == [f"p{i:02d}" for i in range(50)]
    assert len({r.body["id"] for r in ok}) == 50
    assert [r.body["data"]["numClients"] for r in ok] == list(range(1, 51))
    # one in flight per (endpoint, room): nothing after a failed delivery arrived before its retry
    seen = [r.body["sequence"] for r in receiver.got]
    assert all(b >= a for a, b in zip(seen, seen[1:])), seen


async def test_recording_events(settings, receiver, auth):
    async with serve(hooked(settings, receiver)) as client:
        room = await make_room(client, auth, roomName="Rec")
        store, recordings = client.server.app[STORE], client.server.app[RECORDINGS]
        recordings = getattr(recordings, "local", recordings)
        rec = Recording(recording_id="rec_test1", room_id=room["roomId"], status="starting", start_date=1000,
                        filename="rec_test1.mkv")
        await store.create_recording(rec)
        for status in ("starting", "active", "ending", "complete"):
            rec.status = status
            await recordings.status_stored(rec)
        await until(lambda: len(receiver.ok("/o")) >= 4 and len(receiver.ok("/w")) >= 1, 15, "recording hooks")
    assert [r.body["event"] for r in receiver.ok("/o")] == ["recordingStarted", "recordingUpdated",
                                                             "recordingUpdated", "recordingEnded"]
    assert [r.body["data"]["status"] for r in receiver.ok("/o")] == ["starting", "active", "ending", "complete"]
    assert receiver.ok("/o")[0].body["data"]["roomName"] == "Rec"
    [finished] = receiver.ok("/w")
    assert finished.body["type"] == "recording.finished"
    assert finished.body["data"].items() >= {"recordingId": "rec_test1", "filename": "rec_test1.mkv",
                                             "status": "completed", "roomName": "/" + room["roomId"]}.items()


async def test_config_api_hides_secrets_and_tests_endpoints(settings, receiver, auth):
    with structlog.testing.capture_logs() as logs:
        async with serve(settings.replace(**FAST)) as client:
            assert (await client.get("/api/v1/config/webhooks")).status == 401
            body = {"endpoints": [{"url": receiver.url("/w"), "secret": SECRET_W, "format": "whereby"},
                                  {"url": receiver.url("/o"), "secret": SECRET_O, "format": "openvidu",
                                   "events": ["meetingStarted"]}]}
            resp = await client.put("/api/v1/config/webhooks", json=body, headers=auth)
            assert resp.status == 200, await resp.text()
            got = await (await client.get("/api/v1/config/webhooks", headers=auth)).json()
            assert [(e["url"], e["format"], e["hasSecret"]) for e in got["endpoints"]] == [
                (receiver.url("/w"), "whereby", True), (receiver.url("/o"), "openvidu", True)]
            tested = await (await client.post("/api/v1/config/webhooks/test", headers=auth)).json()
            assert tested["ok"] and [r["responseCode"] for r in tested["results"]] == [200, 200]
            assert signature_ok("whereby", SECRET_W, receiver.got[0].body, receiver.got[0].headers) or \
                signature_ok("whereby", SECRET_W, receiver.got[1].body, receiver.got[1].headers)
            assert {r.body.get("event") or r.body.get("type") for r in receiver.got} == {"testEvent",
                                                                                         "antechamber.test"}
            # a PUT without the secret keeps the stored one
            resp = await client.put("/api/v1/config/webhooks", json={"endpoints": [
                {"url": receiver.url("/w"), "format": "whereby"}]}, headers=auth)
            assert resp.status == 200
            room = await make_room(client, auth, roomName="Quiet")
            async with clients(client) as cs:
                await cs.joined(room["roomId"], "Hana", host_key(room))
                await until(lambda: any(r.body.get("type") == "room.client.joined" for r in receiver.ok()), 15,
                            "the join delivered")
            hit = next(r for r in receiver.ok() if r.body.get("type") == "room.client.joined")
            assert signature_ok("whereby", SECRET_W, hit.body, hit.headers)
            for bad in ({"endpoints": [{"url": "ftp://x", "secret": "s"}]},
                        {"endpoints": [{"url": receiver.url(), "secret": "s", "format": "zoom"}]},
                        {"endpoints": [{"url": receiver.url(), "secret": "s", "events": ["room.nope"]}]},
                        {"endpoints": [{"url": receiver.url()}]}, {"other": []}):
                resp = await client.put("/api/v1/config/webhooks", json=bad, headers=auth)
                assert resp.status == 422, (bad, await resp.text())
                assert SECRET_W not in await resp.text()
            everything = [await (await client.get(p, headers=auth)).text() for p in (
                "/api/v1/config/webhooks", "/api/v1/webhooks/deliveries", "/api/openapi.json")]
    for text in everything:
        assert SECRET_W not in text and SECRET_O not in text
    assert logs and not [e for e in logs if SECRET_W in repr(e) or SECRET_O in repr(e)]


async def test_openapi_describes_webhooks(client):
    spec = await (await client.get("/api/openapi.json")).json()
    hooks = spec["webhooks"]
    for name in ("room.client.joined", "room.client.knockCancelled", "room.session.ended", "recording.finished",
                 "meetingStarted", "meetingEnded", "recordingStarted", "recordingUpdated", "recordingEnded"):
        body = hooks[name]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert "sequence" in body["properties"]
    assert {p["name"] for p in hooks["meetingStarted"]["post"]["parameters"]} >= {"X-Timestamp", "X-Signature"}
    assert "Whereby-Signature" in {p["name"] for p in hooks["room.client.joined"]["post"]["parameters"]}
    assert "/api/v1/webhooks/deliveries" in spec["paths"] and "/api/v1/config/webhooks" in spec["paths"]


async def test_timers_abandoned_admission_and_hand_over(settings, receiver, auth):
    """The meeting timers' and abandoned admission's events (extensions, only when asked for), an end
    by max_duration in both formats, and a cluster hand-over (room.session.moved) that sends nothing."""
    opted = hooked(settings, receiver, webhook_events=("*",))
    async with serve(opted) as client:
        room = await make_room(client, auth, roomName="Timers")
        rid, events = room["roomId"], client.server.app[HUB].events
        events.emit("room.session.started", room_id=rid, room_session_id="s1", start_ms=1)
        events.emit("room.session.ending_soon", room_id=rid, room_session_id="s1", minutes_left=5,
                    ends_at=1796238991000)
        events.emit("room.session.extended", room_id=rid, room_session_id="s1", minutes=10, ends_at=1796239591000,
                    by="p_host")
        events.emit("room.client.admission_abandoned", room_id=rid, knock_id="k_1", display_name="Gus")
        events.emit("room.session.moved", room_id=rid, reason="draining")
        events.emit("room.session.ended", room_id=rid, room_session_id="s1", start_ms=1, end_ms=2, peak=1,
                    reason="max_duration")
        await until(lambda: len(receiver.ok("/w")) >= 5 and len(receiver.ok("/o")) >= 2, 15, "deliveries")
        await client.server.app[WEBHOOKS].source.written()
        logged = await deliveries(client, auth, roomId=rid)
    whereby = [r.body for r in receiver.ok("/w")]
    assert [b["type"] for b in whereby] == ["room.session.started", "antechamber.session.endingSoon",
                                            "antechamber.session.extended", "antechamber.client.admissionAbandoned",
                                            "room.session.ended"]
    assert whereby[1]["data"]["minutesLeft"] == 5 and whereby[1]["data"]["endsAt"].endswith("Z")
    assert (whereby[2]["data"]["minutes"], whereby[2]["data"]["extendedBy"]) == (10, "p_host")
    assert (whereby[3]["data"]["knockId"], whereby[3]["data"]["displayName"]) == ("k_1", "Gus")
    assert whereby[4]["data"]["endReason"] == "max_duration"
    assert [b["sequence"] for b in whereby] == [1, 2, 3, 4, 5]
    assert [r.body["event"] for r in receiver.ok("/o")] == ["meetingStarted", "meetingEnded"]
    assert len(logged) == 7          # nothing for the hand-over, nothing more


async def test_extensions_not_sent_unless_asked(settings, receiver, auth):
    async with serve(hooked(settings, receiver, webhook_urls=(receiver.url("/w"),), webhook_secrets=(SECRET_W,),
                            webhook_formats=("whereby",))) as client:
        room = await make_room(client, auth, roomName="Plain")
        events = client.server.app[HUB].events
        events.emit("room.session.ending_soon", room_id=room["roomId"], minutes_left=1, ends_at=5)
        events.emit("room.session.started", room_id=room["roomId"], room_session_id="s1", start_ms=1)
        await until(lambda: receiver.ok(), 15, "a delivery")
        await client.server.app[WEBHOOKS].source.written()
        assert [d["type"] for d in await deliveries(client, auth)] == ["room.session.started"]
    assert receiver.ok()[0].body["sequence"] == 1


def test_settings_pair_urls_with_secrets():
    from server.config import ConfigError, load_settings
    with pytest.raises(ConfigError, match="secret"):
        load_settings({"webhook_urls": ("http://a.example/h",)}, env={})
    s = load_settings({}, env={"ANTECHAMBER_WEBHOOK_URLS": "http://a.example/h,http://b.example/h",
                               "ANTECHAMBER_WEBHOOK_SECRETS": "s1,s2",
                               "ANTECHAMBER_WEBHOOK_FORMATS": "whereby,openvidu",
                               "ANTECHAMBER_WEBHOOK_EVENTS": "room.client.joined|room.client.left"})
    assert s.webhook_formats == ("whereby", "openvidu") and "s1" not in repr(s)
    from server.domain.webhooks.endpoints import EndpointError, from_settings
    [a, b] = from_settings(s.webhook_urls, s.webhook_secrets, s.webhook_formats, s.webhook_events)
    assert a.events == ("room.client.joined", "room.client.left") and b.format == "openvidu" and b.events == ()
    with pytest.raises(EndpointError, match="unknown openvidu event"):
        from_settings(("http://x.example",), ("s",), ("openvidu",), ("room.client.joined",))


async def test_two_nodes_deliver_each_event_once(settings_factory, redis_url, receiver, auth):
    """Two cluster nodes on one Redis: each writes its own events to the shared outbox, only the
    holder of leader:webhooks sends, so every delivery arrives once, numbered in one sequence."""
    sep = "&" if "?" in redis_url else "?"
    base = settings_factory(redis_url=f"{redis_url}{sep}prefix=twh{random.getrandbits(40)}:")
    opted = hooked(base, receiver, webhook_urls=(receiver.url("/w"),), webhook_secrets=(SECRET_W,),
                   webhook_formats=("whereby",), webhook_events=("room.client.knocked",))
    async with serve(opted.replace(node_id="wh-a")) as a, serve(opted.replace(node_id="wh-b")) as b:
        room = await make_room(a, auth, roomName="Both")
        for i in range(10):
            node = a if i % 2 == 0 else b
            node.server.app[HUB].events.emit("room.client.knocked", room_id=room["roomId"], knock_id=f"k{i}",
                                             display_name=f"Guest {i}", state="waiting")
            await node.server.app[WEBHOOKS].source.written()
        await until(lambda: len(receiver.ok()) >= 10, 20, "ten deliveries")
        leaders = [n.server.app[WEBHOOKS].dispatcher.may_act() for n in (a, b)]
    assert leaders.count(True) == 1
    ok = receiver.ok()
    assert len(ok) == 10 and len({r.headers["Antechamber-Delivery-Id"] for r in receiver.got}) == len(receiver.got)
    assert [r.body["data"]["knockId"] for r in ok] == [f"k{i}" for i in range(10)]
    assert [r.body["sequence"] for r in ok] == list(range(1, 11))


async def test_cli_flags_configure_a_real_server_and_its_log_keeps_no_secret(tmp_path, receiver):
    """`antechamber serve --webhook-url ... --webhook-secret ...` as a real process: events are
    delivered signed, GET shows the endpoint without its secret, and the process's log has no secret."""
    import aiohttp

    from tests.conftest import TEST_API_KEY
    from tests.helpers.server_process import ServerProcess

    args = ["--webhook-url", receiver.url("/o"), "--webhook-secret", SECRET_O, "--webhook-format", "openvidu"]
    proc = await asyncio.to_thread(ServerProcess(tmp_path / "data", api_key=TEST_API_KEY, extra_args=args).start)
    try:
        headers = {"Authorization": f"Bearer {TEST_API_KEY}"}
        async with aiohttp.ClientSession(proc.url, headers=headers) as http:
            async with http.get("/api/v1/config/webhooks") as resp:
                config = await resp.json()
            async with http.post("/api/v1/rooms", json={"roomName": "Process"}) as resp:
                room = await resp.json()
            async with http.post("/api/v1/config/webhooks/test") as resp:
                tested = await resp.json()
        assert [(e["source"], e["format"], e["hasSecret"]) for e in config["endpoints"]] == [
            ("config", "openvidu", True)]
        assert tested["ok"], tested
        probe = receiver.ok("/o")[0]
        assert probe.body["event"] == "testEvent" and signature_ok("openvidu", SECRET_O, probe.body, probe.headers)
        assert room["roomName"] == "Process"
    finally:
        await asyncio.to_thread(proc.stop)
    text = proc.output()
    assert SECRET_O not in text and SECRET_O not in json.dumps(config)


async def test_whereby_room_sends_nothing_an_hour_after_its_end_date(settings, receiver, auth):
    async with serve(hooked(settings, receiver)) as client:
        room = await make_room(client, auth, roomName="Old")
        store, events = client.server.app[STORE], client.server.app[HUB].events

        def expire(r):
            r.api, r.auto_deletion_date = "whereby", int(time.time() * 1000) - 3601 * 1000
        await store.modify_room(room["roomId"], expire)
        events.emit("room.session.started", room_id=room["roomId"], room_session_id="s1", start_ms=1)
        await client.server.app[WEBHOOKS].source.written()
        assert await deliveries(client, auth) == []
        bad = await client.get("/api/v1/webhooks/deliveries", params={"nextPageToken": "nope"}, headers=auth)
        assert bad.status == 400 and (await bad.json())["code"] == "invalid_page_token"
        bad = await client.get("/api/v1/webhooks/deliveries", params={"status": "lost"}, headers=auth)
        assert bad.status == 422


async def test_a_composed_mp4_ready_is_announced(settings, receiver, auth):
    """A real composition of a real recording file: OpenVidu's recordingUpdated carries the recording with
    composition "ready"; Whereby endpoints that ask for extensions get antechamber.recording.compositionReady."""
    from server.store.records import Room
    from tests.helpers.stored_recordings import add_recording, unpaced

    async with serve(hooked(settings, receiver, webhook_events=("*",))) as client:
        app = client.server.app
        unpaced(app)
        await app[STORE].create_room(Room(room_id="room-c", room_name="Design review", creation_date=1))
        await add_recording(app, "rec_hooked")
        asked = await client.post("/api/v1/recordings/rec_hooked/composition", headers=auth)
        assert asked.status == 202, await asked.text()

        def ready(path: str, key: str, value: str) -> list:
            return [r.body for r in receiver.ok(path) if r.body.get(key) == value]
        await until(lambda: ready("/o", "event", "recordingUpdated") and
                    ready("/w", "type", "antechamber.recording.compositionReady"), 90, "composition hooks")
    [updated] = ready("/o", "event", "recordingUpdated")
    assert updated["data"]["recordingId"] == "rec_hooked" and updated["data"]["composition"] == "ready"
    assert updated["data"]["roomName"] == "Design review"
    [extension] = ready("/w", "type", "antechamber.recording.compositionReady")
    assert extension["data"]["recordingId"] == "rec_hooked" and extension["data"]["composition"] == "ready"
    assert all(signature_ok("openvidu", SECRET_O, r.body, r.headers) for r in receiver.ok("/o"))
