"""Metrics and log context of a real app (docs/operations.md): a real flow over the websocket (knock,
admit, media between aiortc peers), REST calls, then /metrics scraped and read as an operator would;
request ids in log lines and the response header; a websocket session's lines carry its ids."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys

import aiohttp
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from server.app import HUB
from server.logs import configure_logging
from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack, answer_over_signaling, \
    colour_close, publish_over_signaling
from tests.helpers.redis_server import free_port
from tests.helpers.signaling import clients, host_key, make_room, serve, until

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


async def scrape(client, auth) -> dict:
    resp = await client.get("/metrics", headers=auth)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    return parse(await resp.text())


def parse(text: str) -> dict:
    """{(sample name, ((label, value), ...)): value}"""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_a_real_flow(client, auth):
    resp = await client.get("/metrics")
    assert resp.status == 401 and (await resp.json())["code"] == "unauthorized"
    before = await scrape(client, auth)
    assert value(before, "antechamber_rooms_live") == 0
    assert value(before, "antechamber_participants", role="host") == 0

    room = await make_room(client, auth, roomName="Metrics", isLocked=True)
    rid = room["roomId"]
    assert (await client.get(f"/api/v1/rooms/{rid}")).status == 401          # refused: no key
    assert (await client.get("/api/v1/no-such-thing", headers=auth)).status == 404
    peers: list[PeerClient] = []
    try:
        async with clients(client) as cs:
            host = await cs.joined(rid, "Hana", host_key(room))
            guest = await cs.knocking(rid, "Gus")
            waiting = await scrape(client, auth)
            assert value(waiting, "antechamber_knocks_waiting") == 1
            assert value(waiting, "antechamber_rooms_live") == 1 and value(waiting, "antechamber_meetings_live") == 1
            assert value(waiting, "antechamber_participants", role="host") == 1
            assert value(waiting, "antechamber_knocks_total") == value(before, "antechamber_knocks_total") + 1

            knock = (await host.wait_for("knocks", lambda m: m["knocks"]))["knocks"][0]
            with pytest.raises(Exception):
                await host.request("admit", knockId="k_nobody")           # a websocket error
            await host.request("admit", knockId=knock["knockId"])
            await guest.wait_for("joined")

            hp, gp = PeerClient(host.participant_id), PeerClient(guest.participant_id)
            peers += [hp, gp]
            answer_over_signaling(guest, gp)
            await publish_over_signaling(host, hp, {"camera": SolidColourTrack(COLOURS["red"])})
            await gp.wait_for(lambda: (r := gp.video_from(host.participant_id)) is not None and r.frames >= 5
                              and colour_close(r.mean_rgb, COLOURS["red"]), timeout=30, what="red video")
            during = await scrape(client, auth)

            # a recording: active while written, its bytes counted as they grow and once finished
            resp = await client.post("/api/v1/recordings", headers=auth, json={"roomId": rid})
            assert resp.status == 201, await resp.text()
            rec_id = (await resp.json())["recordingId"]
            recording: dict = {}

            async def written() -> bool:
                recording.update(await scrape(client, auth))
                return value(recording, "antechamber_recording_bytes_written_total") > 0

            for _ in range(300):                                            # up to 30 s
                if await written():
                    break
                await asyncio.sleep(0.1)
            assert value(recording, "antechamber_recordings_active") == 1
            assert value(recording, "antechamber_recording_bytes_written_total") > 0
            done = await (await client.post(f"/api/v1/recordings/{rec_id}/stop", headers=auth)).json()
            assert done["status"] == "complete", done
            finished = await scrape(client, auth)
            assert value(finished, "antechamber_recordings_active") == 0
            assert value(finished, "antechamber_recording_bytes_written_total") == done["size"] > 0
    finally:
        for p in peers:
            await p.close()

    # people and the knock, as the host saw them
    assert value(during, "antechamber_knocks_waiting") == 0
    assert value(during, "antechamber_participants", role="host") == 1
    assert value(during, "antechamber_participants", role="guest") == 1
    assert value(during, "antechamber_admission_decisions_total", decision="admitted") == 1
    assert value(during, "antechamber_knock_wait_seconds_count", decision="admitted") == 1
    assert 0 < value(during, "antechamber_knock_wait_seconds_sum", decision="admitted") < 30
    assert value(during, "antechamber_participants_joined_total", role="guest") == 1
    assert value(during, "antechamber_meetings_started_total") == 1
    # media: the guest got frames, so packets and bytes were forwarded
    assert value(during, "antechamber_media_forwarded_packets_total") >= 5
    assert value(during, "antechamber_media_forwarded_bytes_total") > 500
    assert value(during, "antechamber_media_streams") == 1
    assert value(during, "antechamber_media_keyframe_requests_total") + value(
        during, "antechamber_media_plis_sent_total") >= 1     # the subscriber started on a keyframe
    # websocket messages and errors by type
    assert value(during, "antechamber_ws_messages_total", type="join") == 2
    assert value(during, "antechamber_ws_messages_total", type="admit") == 2
    assert value(during, "antechamber_ws_messages_total", type="publish") == 1
    assert value(during, "antechamber_ws_errors_total", code="knock_not_found") == 1
    assert value(during, "antechamber_ws_sessions_total") == 2
    # REST by route template and status, with latencies
    assert value(during, "antechamber_http_requests_total", route="/api/v1/rooms", method="POST", status="201") == 1
    assert value(during, "antechamber_http_requests_total", route="/api/v1/rooms/{roomId}", method="GET",
                 status="401") == 1
    assert value(during, "antechamber_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert value(during, "antechamber_http_request_duration_seconds_count", route="/api/v1/rooms",
                 method="POST") == 1
    assert not [k for k in during if "/ws" in str(k) or rid in str(k)]   # no raw URLs, no websocket timing

    # everyone gone: the gauges come back down, the counters stay
    await until(lambda: not client.server.app[HUB].rooms, timeout=10, what="room gone")
    after = await scrape(client, auth)
    assert value(after, "antechamber_rooms_live") == 0 and value(after, "antechamber_participants", role="guest") == 0
    assert value(after, "antechamber_media_streams") == 0
    assert value(after, "antechamber_media_forwarded_packets_total") >= value(
        during, "antechamber_media_forwarded_packets_total")
    left = {k: v for k, v in after.items() if k[0] == "antechamber_participants_left_total"}
    assert sum(left.values()) == 2, left
    assert value(after, "antechamber_meetings_ended_total", reason="last_participant_left") == 1, \
        {k: v for k, v in after.items() if k[0].startswith("antechamber_meetings_ended")}


async def test_metrics_port_serves_without_the_key(settings_factory, auth):
    port = free_port()
    async with serve(settings_factory(metrics_port=port)) as client:
        assert (await client.get("/metrics")).status == 401          # the main port still wants the key
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert resp.status == 200
                samples = parse(await resp.text())
        assert ("antechamber_rooms_live", ()) in samples
        assert value(samples, "antechamber_http_requests_total", route="/metrics", method="GET", status="401") == 1


@contextlib.contextmanager
def json_log_lines():
    """The server's own structlog set-up (JSON) writing into a buffer; the lines, parsed."""
    saved, old_stderr = structlog.get_config(), sys.stderr
    buffer, lines = io.StringIO(), []
    sys.stderr = buffer
    try:
        configure_logging("json", "info")
    finally:
        sys.stderr = old_stderr
    try:
        yield lines
    finally:
        structlog.configure(**saved)
        lines.extend(json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{"))


async def test_request_id_in_log_lines_and_header(client, auth):
    with json_log_lines() as lines:
        resp = await client.post("/api/v1/rooms", json={"roomName": "Logged"}, headers=auth)
        assert resp.status == 201
        generated = resp.headers["X-Request-Id"]
        resp = await client.get("/api/v1/rooms/nope", headers={**auth, "X-Request-Id": "trace-abc.123"})
        assert resp.status == 404 and resp.headers["X-Request-Id"] == "trace-abc.123"
        resp = await client.get("/healthz", headers={"X-Request-Id": "bad id\u00e9"})   # not sane: replaced
        assert resp.headers["X-Request-Id"] != "bad id\u00e9" and len(resp.headers["X-Request-Id"]) == 32
    assert len(generated) == 32
    created = [x for x in lines if x.get("event") == "room created"] or \
        [x for x in lines if x.get("request_id") == generated]
    assert created and all(x["request_id"] == generated for x in created), lines
    assert all("request_id" in x for x in lines), lines


async def test_websocket_lines_carry_session_and_room(client, auth):
    room = await make_room(client, auth, roomName="Sessions", isLocked=True)
    rid = room["roomId"]
    with json_log_lines() as lines:
        async with clients(client) as cs:
            host = await cs.joined(rid, "Hana", host_key(room))
            guest, _ = await cs.admitted(host, rid, "Gus")
            await guest.request("set_muted", kind="audio", muted=True)
            await guest.send("leave")
            await host.wait_for("participant_left")
    opened = [x for x in lines if x.get("event") == "websocket session opened"]
    assert len(opened) == 2 and len({x["session_id"] for x in opened}) == 2
    for event in ("room live on this node", "knock", "knock decided", "participant joined", "participant muted",
                  "participant left"):
        found = [x for x in lines if x.get("event") == event]
        assert found, (event, lines)
        assert all(x.get("room_id") == rid and x.get("session_id", "").startswith("s_") for x in found), found
    decided = next(x for x in lines if x.get("event") == "knock decided")
    host_session = next(x["session_id"] for x in lines if x.get("event") == "participant joined"
                        and x.get("role") == "host")
    assert decided["session_id"] == host_session       # logged while handling the host's admit
    # the upgrade's request id is on the opening line only, for correlation with a proxy's access log
    assert all(x.get("request_id") for x in opened)
    assert not [x for x in lines if "request_id" in x and x.get("session_id") and x not in opened]


@pytest.mark.redis
async def test_relayed_signaling_is_counted_on_both_nodes(redis_url, tmp_path):
    from signaling.client import SignalingClient
    from tests.helpers.cluster_nodes import AUTH, cluster_nodes

    async with cluster_nodes(redis_url, tmp_path) as (n1, n2):
        resp = await n1.client.post("/api/v1/rooms", json={"isLocked": True}, headers=AUTH)
        room = await resp.json()
        rid = room["roomId"]
        assert await n1.cluster.ownership.claim(rid) is not None          # n1 owns the meeting
        host, guest = SignalingClient(n1.ws_url()), SignalingClient(n2.ws_url())
        with json_log_lines() as lines:
            try:
                await host.connect()
                assert (await host.join(rid, "Hana", host_key(room)))["type"] == "joined"
                await guest.connect()
                status = await guest.join(rid, "Gus")                          # relayed from n2 to n1
                assert status["type"] == "knock_status", status
                await host.request("admit", knockId=status["knockId"])
                await guest.wait_for("joined")
                await guest.send("chat", text="hello")
                await host.wait_for("chat")
                owner, edge = await scrape(n1.client, AUTH), await scrape(n2.client, AUTH)
            finally:
                for c in (guest, host):
                    with contextlib.suppress(Exception):
                        await c.close()
    # the owner logged the relayed knock with the relayed session's id and the room
    knock = [x for x in lines if x.get("event") == "knock" and x.get("knock_id") == status["knockId"]]
    assert len(knock) == 1 and knock[0]["room_id"] == rid and knock[0].get("session_id"), knock
    relay = "antechamber_relay_messages_total"
    assert value(edge, relay, direction="sent", kind="join") == 1
    assert value(edge, relay, direction="sent", kind="up") >= 1                      # the chat
    assert value(edge, relay, direction="received", kind="down") >= 2               # knock_status, joined
    assert value(owner, relay, direction="received", kind="join") == 1
    assert value(owner, relay, direction="received", kind="up") >= 1
    assert value(owner, relay, direction="sent", kind="down") >= 2
    assert value(owner, relay, direction="sent", kind="join") == 0
    assert value(owner, "antechamber_participants", role="guest") == 1          # the meeting lives on n1
    assert value(edge, "antechamber_participants", role="guest") == 0


async def test_webhook_deliveries_are_counted_by_result(settings_factory, auth):
    from tests.helpers.webhook_receiver import Receiver

    receiver = await Receiver().start()
    try:
        refused = f"http://127.0.0.1:{free_port()}/nobody"
        settings = settings_factory(webhook_urls=(receiver.url("/w"), refused),
                                    webhook_secrets=("whsec-metrics-0123456789abcdef",) * 2,
                                    webhook_backoff_seconds=0.05, webhook_backoff_max_seconds=0.1,
                                    webhook_poll_seconds=0.05)
        async with serve(settings) as client:
            room = await make_room(client, auth, roomName="Hooked")
            async with clients(client) as cs:
                host = await cs.joined(room["roomId"], "Hana", host_key(room))
                await host.send("leave")
                await until(lambda: len(receiver.ok("/w")) >= 2, 15, "deliveries")
            samples: dict = {}

            async def moved() -> bool:
                samples.update(await scrape(client, auth))
                # the receiver counts a request when it answers; the server counts it when it has read
                # the answer, a moment later — so wait for both counters, not for the first
                return (value(samples, "antechamber_webhook_deliveries_total", result="retry") >= 1
                        and value(samples, "antechamber_webhook_deliveries_total", result="delivered") >= 2)

            for _ in range(300):                           # up to 30 s
                if await moved():
                    break
                await asyncio.sleep(0.1)
    finally:
        await receiver.stop()
    assert value(samples, "antechamber_webhook_deliveries_total", result="delivered") >= 2
    assert value(samples, "antechamber_webhook_deliveries_total", result="retry") >= 1     # the refused endpoint
