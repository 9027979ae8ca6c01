"""Start and stop a recording over REST while real aiortc peers publish into the real SFU."""

from __future__ import annotations

import asyncio
import subprocess
import time

import av
import pytest

from media.ports import MediaConfig
from media.sfu import MediaService
from server.http.appkeys import RECORDINGS
from server.live.recording_media import SfuRecordingMedia
from server.store.records import Room
from server.http.appkeys import STORE
from tests.helpers.media_check import ffmpeg_decode
from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack, ToneTrack, join_room, publish
from tests.helpers.rest_app import running_app

pytestmark = pytest.mark.timeout(90)
R = "/api/v1/recordings"


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def alice_publishes(app, sfu: MediaService, alice: PeerClient, room_id: str, colour: str):
    """Store the room, have alice publish a tone and a solid `colour` into its SFU room, and wait
    until both reach the SFU: the media room."""
    await app[STORE].create_room(Room(room_id=room_id, creation_date=1))
    room = sfu.open_room(room_id)
    await join_room(room, alice)
    await publish(room, alice, {"microphone": ToneTrack(), "camera": SolidColourTrack(COLOURS[colour])})
    await wait_until(lambda: len(room.publications()) == 2
                     and all(room.pubs[p.publication_id].frames_in > 3 for p in room.publications()),
                     20, "alice's media")
    return room


async def test_rest_start_stop_with_a_live_meeting(settings_factory, auth, tmp_path):
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    announced: list[tuple[str, dict]] = []

    async def announce(room_id, info):
        announced.append((room_id, info))

    port = SfuRecordingMedia(sfu, names=lambda room_id, pid: pid.title(), announce=announce)
    settings = settings_factory()
    alice = PeerClient("alice", decode=False)
    try:
        async with running_app(settings, recording_media=port) as (client, app, _):
            room = await alice_publishes(app, sfu, alice, "live-room", "green")

            resp = await client.post(R, headers=auth, json={"roomId": "live-room"})
            assert resp.status == 201, await resp.text()
            rec = await resp.json()
            rid = rec["recordingId"]
            assert rec["status"] == "active"
            started = time.monotonic()
            again = await client.post(R, headers=auth, json={"roomId": "live-room"})
            assert again.status == 409 and (await again.json())["code"] == "recording_already_started"
            busy = await client.get(f"{R}/{rid}/media", headers=auth)
            assert busy.status == 409
            listed = await (await client.get(R, headers=auth, params={"status": "active"})).json()
            assert [r["recordingId"] for r in listed["recordings"]] == [rid]

            while time.monotonic() < started + 3.0:
                await asyncio.sleep(0.05)
            t_stop = time.monotonic()
            stopped = await client.post(f"{R}/{rid}/stop", headers=auth)
            assert stopped.status == 202   # OpenVidu Meet: 202 Accepted, Location = the recording
            assert stopped.headers["Location"] == f"{R}/{rid}"
            assert time.monotonic() - t_stop < 5
            done = await stopped.json()
            assert done["status"] == "complete", done
            assert abs(done["duration"] - 3.0) < 0.5 and done["size"] > 0 and done["endDate"] >= done["startDate"]
            assert {(t["participantName"], t["kind"]) for t in done["tracks"]} == {("Alice", "audio"), ("Alice", "video")}
            assert [i["status"] for _, i in announced] == ["active", "complete"]

            media = await client.get(f"{R}/{rid}/media", headers=auth)
            assert media.status == 200
            path = tmp_path / "download.mkv"
            path.write_bytes(await media.read())

            # a meeting that ends stops its recording
            second = await (await client.post(R, headers=auth, json={"roomId": "live-room"})).json()
            await asyncio.sleep(0)  # the recorder is attached; end the meeting
            ended = await app[RECORDINGS].stop_room("live-room")
            assert ended is not None and ended.recording_id == second["recordingId"]
            assert ended.status in ("complete", "failed")

            # when the meeting's media room closes, the recording finishes by itself
            third = await (await client.post(R, headers=auth, json={"roomId": "live-room"})).json()
            await asyncio.sleep(1.0)
            await room.close("meeting_ended")
            svc = app[RECORDINGS]
            await wait_until(lambda: svc.active_for_room("live-room") is None, 10, "the recording to finish")
            last = await (await client.get(f"{R}/{third['recordingId']}", headers=auth)).json()
            assert last["status"] == "complete" and last["duration"] > 0.5, last
    finally:
        await alice.close()
        await sfu.close()

    with av.open(str(path)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video"]
        assert abs(c.duration / 1e6 - 3.0) < 0.5
    run = ffmpeg_decode(path)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 KiB tmpfs: a disk that fills up after a couple of seconds of recording."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


async def test_full_disk_fails_the_recording_and_the_meeting_goes_on(settings_factory, auth, tiny_disk):
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    alice = PeerClient("alice", decode=False)
    try:
        async with running_app(settings_factory(), recording_media=SfuRecordingMedia(sfu)) as (client, app, _):
            app[RECORDINGS].dir = tiny_disk
            room = await alice_publishes(app, sfu, alice, "full-room", "red")
            rid = (await (await client.post(R, headers=auth, json={"roomId": "full-room"})).json())["recordingId"]
            svc = app[RECORDINGS]
            await wait_until(lambda: svc.active_for_room("full-room") is None, 30, "the disk to fill up")
            rec = await (await client.get(f"{R}/{rid}", headers=auth)).json()
            assert rec["status"] == "failed" and "space" in (rec["error"] or "").lower(), rec
            # the meeting is untouched: media keeps flowing into the SFU
            counts = [room.pubs[p.publication_id].frames_in for p in room.publications()]
            await wait_until(lambda: all(room.pubs[p.publication_id].frames_in > c + 10
                                         for p, c in zip(room.publications(), counts)), 10, "more media")
            assert not room.closed
    finally:
        await alice.close()
        await sfu.close()


async def test_slow_finalizing_stays_ending_then_completes(settings_factory, auth, monkeypatch):
    """If finalizing outlasts the stop budget (joining parts of a long recording), the
    recording answers `ending` and completes by itself when the writer is done."""
    import server.domain.recordings.service as recordings

    monkeypatch.setattr(recordings, "FINALIZE_SECONDS", 0.0)
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    alice = PeerClient("alice", decode=False)
    try:
        async with running_app(settings_factory(), recording_media=SfuRecordingMedia(sfu)) as (client, app, _):
            room = await alice_publishes(app, sfu, alice, "slow-room", "blue")
            rid = (await (await client.post(R, headers=auth, json={"roomId": "slow-room"})).json())["recordingId"]
            t0 = time.monotonic()
            while time.monotonic() < t0 + 1.5:
                await asyncio.sleep(0.05)
            stopped = await (await client.post(f"{R}/{rid}/stop", headers=auth)).json()
            assert stopped["status"] == "ending"
            svc = app[RECORDINGS]
            assert svc.active_for_room("slow-room") is None      # a new recording may start already
            deadline = time.monotonic() + 15
            while (rec := await (await client.get(f"{R}/{rid}", headers=auth)).json())["status"] == "ending":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            assert rec["status"] == "complete" and rec["duration"] > 1.0, rec
    finally:
        await alice.close()
        await sfu.close()


async def test_deleting_the_room_with_recordings_force_stops_then_deletes_the_active_recording(settings_factory, auth):
    sfu = MediaService(MediaConfig(loopback_candidates=True))

    async def announce(room_id, info):
        return None

    port = SfuRecordingMedia(sfu, names=lambda room_id, pid: pid.title(), announce=announce)
    settings = settings_factory()
    alice = PeerClient("alice", decode=False)
    try:
        async with running_app(settings, recording_media=port) as (client, app, _):
            room = await alice_publishes(app, sfu, alice, "doomed-room", "green")
            resp = await client.post(R, headers=auth, json={"roomId": "doomed-room"})
            assert resp.status == 201, await resp.text()
            rid = (await resp.json())["recordingId"]
            folder = settings.data_dir / "recordings"
            await wait_until(lambda: folder.is_dir() and any(folder.iterdir()), 20, "the recording's file")

            resp = await client.delete("/api/v1/rooms/doomed-room?withMeeting=force&withRecordings=force",
                                       headers=auth)
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["successCode"] == "room_and_recordings_deleted"
            assert await app[STORE].get_recording(rid) is None
            assert (await client.get(f"{R}/{rid}", headers=auth)).status == 404
            assert not [p for p in folder.iterdir() if p.is_file()], "the recording's files are gone"
            assert app[RECORDINGS].active_for_room("doomed-room") is None
    finally:
        await alice.close()
        await sfu.close()
