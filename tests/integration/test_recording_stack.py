"""Recording through the whole stack: browsers' stand-ins join over /ws and publish into
the SFU; recordings are started over REST; the meeting ending, or a SIGKILL of the real
server process (`python -m server serve`), ends them."""

from __future__ import annotations

import asyncio
import subprocess
import time

import aiohttp
import av
import pytest

from server.app import HUB
from server.http.appkeys import RECORDINGS
from signaling.client import SignalingClient
from tests.conftest import TEST_API_KEY
from tests.helpers.media_check import ffmpeg_decode
from tests.helpers.media_peers import (
    COLOURS,
    PeerClient,
    SolidColourTrack,
    ToneTrack,
    answer_over_signaling,
    publish_over_signaling,
)
from tests.helpers.server_process import ServerProcess
from tests.helpers.signaling import clients, host_key, make_room, room_with_host

pytestmark = pytest.mark.timeout(120)
R = "/api/v1/recordings"


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


def plays(path) -> None:
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                            str(path)], capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0 and sorted(probe.stdout.split()) == ["opus", "vp8"], probe.stderr
    run = ffmpeg_decode(path)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr


async def test_meeting_recorded_over_rest_ends_with_the_meeting(client, auth, tmp_path):
    room = await make_room(client, auth)
    rid = room["roomId"]
    peer = None
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        guest = await cs.joined(rid, "Gus")
        peer = PeerClient(host.participant_id, decode=False)
        try:
            answer_over_signaling(host, peer)
            await publish_over_signaling(host, peer, {"microphone": ToneTrack(),
                                                      "camera": SolidColourTrack(COLOURS["red"])})
            started = await client.post(R, headers=auth, json={"roomId": rid})
            assert started.status == 201, await started.text()
            rec_id = (await started.json())["recordingId"]
            for sig in (host, guest):   # everyone is told that recording is on
                msg = await sig.wait_for("recording", timeout=10)
                assert msg["recording"] == {"recordingId": rec_id, "status": "active"}
            t0 = time.monotonic()
            while time.monotonic() < t0 + 3.0:
                await asyncio.sleep(0.05)
            await host.request("end_meeting", timeout=10)
            deadline = time.monotonic() + 15
            while True:
                rec = await (await client.get(f"{R}/{rec_id}", headers=auth)).json()
                if rec["status"] in ("complete", "failed"):
                    break
                assert time.monotonic() < deadline, rec
                await asyncio.sleep(0.1)
        finally:
            await peer.close()
    assert rec["status"] == "complete", rec
    assert rec["duration"] > 1.5 and rec["size"] > 0
    assert {t["participantName"] for t in rec["tracks"]} == {"Hana"}
    media = await client.get(f"{R}/{rec_id}/media", headers=auth)
    assert media.status == 200
    path = tmp_path / "meeting.mkv"
    path.write_bytes(await media.read())
    plays(path)


async def test_sigkill_of_the_real_server_process_while_recording(tmp_path):
    data_dir = tmp_path / "data"
    auth = {"Authorization": f"Bearer {TEST_API_KEY}"}
    server = ServerProcess(data_dir, api_key=TEST_API_KEY).start()
    peer = sig = None
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.url}/api/v1/rooms", json={}, headers=auth) as resp:
                assert resp.status == 201
                room = await resp.json()
            sig = SignalingClient(server.url.replace("http", "ws") + "/ws")
            await sig.connect()
            assert (await sig.join(room["roomId"], "Hana", host_key(room)))["type"] == "joined"
            peer = PeerClient(sig.participant_id, decode=False)
            answer_over_signaling(sig, peer)
            await publish_over_signaling(sig, peer, {"microphone": ToneTrack(),
                                                     "camera": SolidColourTrack(COLOURS["green"])})
            async with http.post(f"{server.url}{R}", json={"roomId": room["roomId"]}, headers=auth) as resp:
                assert resp.status == 201, await resp.text()
                rec_id = (await resp.json())["recordingId"]
            path = data_dir / "recordings" / f"{rec_id}.mkv"
            sizes: set[int] = set()
            deadline = time.monotonic() + 30
            while len(sizes) < 3:   # header + two clusters of ~1 s on disk
                assert time.monotonic() < deadline, sizes
                if path.exists():
                    sizes.add(path.stat().st_size)
                await asyncio.sleep(0.02)
            server.kill()
    finally:
        if peer is not None:
            await peer.close()
        if sig is not None:
            await sig.close()
        server.stop()
    on_disk = path.stat().st_size
    with ServerProcess(data_dir, api_key=TEST_API_KEY) as again:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{again.url}{R}/{rec_id}", headers=auth) as resp:
                rec = await resp.json()
            assert rec["status"] == "failed" and rec["size"] == on_disk and rec["duration"] > 1.0, rec
            async with http.get(f"{again.url}{R}/{rec_id}/media", headers=auth) as resp:
                assert resp.status == 200
                data = await resp.read()
    out = tmp_path / "after-crash.mkv"
    out.write_bytes(data)
    plays(out)
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 20


async def test_hosts_record_over_the_websocket_and_guests_cannot(client, auth):
    async with room_with_host(client, auth) as (rid, cs, host):
        guest = await cs.joined(rid, "Gus")
        with pytest.raises(Exception) as refused:
            await guest.request("start_recording", timeout=10)
        assert "forbidden" in str(refused.value)
        with pytest.raises(Exception) as nothing:
            await host.request("stop_recording", timeout=10)
        assert "recording_not_active" in str(nothing.value)
        reply = await host.request("start_recording", timeout=10)
        rec_id = reply["recording"]["recordingId"]
        assert reply["recording"]["status"] == "active"
        await guest.wait_for("recording", timeout=10)
        with pytest.raises(Exception) as twice:
            await host.request("start_recording", timeout=10)
        assert "recording_already_started" in str(twice.value)
        late = await cs.joined(rid, "Lea")     # joining while recording: told at once
        msg = await late.wait_for("recording", timeout=10)
        assert msg["recording"] == {"recordingId": rec_id, "status": "active"}
        stopped = await host.request("stop_recording", timeout=15)
        assert stopped["recording"]["recordingId"] == rec_id
        assert stopped["recording"]["status"] in ("complete", "failed")   # failed: nobody published
        ended = await guest.wait_for("recording", predicate=lambda m: m["recording"]["status"] != "active",
                                     timeout=10)
        assert ended["recording"]["recordingId"] == rec_id


async def test_room_trigger_starts_recording_with_the_second_participant(client, auth):
    resp = await client.post("/v1/meetings", headers=auth, json={
        "endDate": "2099-01-01T00:00:00Z", "fields": ["hostRoomUrl"],
        "recording": {"type": "local", "startTrigger": "automatic-2nd-participant"}})
    assert resp.status == 201, await resp.text()
    meeting = await resp.json()
    rid = meeting["meetingId"]
    key = meeting["hostRoomUrl"].split("roomKey=", 1)[1]
    async with clients(client) as cs:
        first = await cs.joined(rid, "Hana", key)
        svc = client.server.app[RECORDINGS]
        await client.server.app[HUB].idle()
        await asyncio.gather(*list(svc._tasks))      # the trigger has looked at one participant
        listed = await (await client.get(R, headers=auth, params={"roomId": rid})).json()
        assert listed["recordings"] == []           # one person: not yet
        second = await cs.joined(rid, "Gus")
        msg = await second.wait_for("recording", timeout=10)
        assert msg["recording"]["status"] == "active"
        await first.wait_for("recording", timeout=10)
        listed = await (await client.get(R, headers=auth, params={"roomId": rid})).json()
        assert [r["status"] for r in listed["recordings"]] == ["active"]
        await first.request("end_meeting", timeout=10)
        deadline = time.monotonic() + 15
        while listed["recordings"][0]["status"] == "active":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
            listed = await (await client.get(R, headers=auth, params={"roomId": rid})).json()
