"""OpenVidu Meet 3.8 recordings, as its clients call them: the requests its docs show, the answers
validated against schemas written from its spec (tests/helpers/openvidu_recording_schemas.py),
on both stores; plus the recording media formats (Matroska by default, an MP4 remux without
re-encoding for H.264 + Opus, a clear 406 for VP8), read back with PyAV and ffprobe.

Files are real recordings written by the recorder's writer from real encoded packets; the
start/stop test records a real aiortc peer through the real SFU.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import av
import pytest

from media.ports import MediaConfig
from media.recording.codecs import codec_info
from media.recording.writer import RecordingWriter, TrackSpec
from media.sfu import MediaService
from server.http.appkeys import RECORDINGS, STORE
from server.live.recording_media import SfuRecordingMedia
from server.store.records import Recording, Room
from tests.helpers import openvidu_recording_schemas as S
from tests.helpers.encoded_media import h264_clip, opus_clip, vp8_clip
from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack, ToneTrack, join_room, publish
from tests.helpers.rest_app import running_app

pytestmark = pytest.mark.timeout(90)
R = "/api/v1/recordings"
ROOM, ROOM_NAME = "room-123", "Daily standup"


@pytest.fixture(scope="module")
def clips():
    return {"vp8": vp8_clip(2), "h264": h264_clip(2), "opus": opus_clip(2)}


def write_file(path: Path, video, audio, video_codec: str) -> None:
    w = RecordingWriter(path, "matroska", header_window_ms=0)
    w.add_track(TrackSpec("v", codec_info(video_codec), "Alice (camera)"))
    w.add_track(TrackSpec("a", codec_info("opus"), "Alice (microphone)"))
    frames = [(f.offset, "v", f) for f in video] + [(f.offset, "a", f) for f in audio]
    for at, track, f in sorted(frames, key=lambda e: e[0]):
        w.write(track, int(at * 1000), f.data, f.keyframe)
    w.close()


class World:
    def __init__(self, client, app, clips) -> None:
        self.client, self.app, self.clips = client, app, clips

    async def recording(self, rid: str, *, room_id: str = ROOM, status: str = "complete", start: int = 1000,
                        video: str | None = "vp8") -> Recording:
        rec = Recording(recording_id=rid, room_id=room_id, status=status, start_date=start,
                        end_date=start + 2000 if status == "complete" else None, filename=f"{rid}.mkv")
        if video is not None:
            path = self.app[RECORDINGS].dir / rec.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file(path, self.clips[video], self.clips["opus"], video.upper())
            rec.size, rec.duration = path.stat().st_size, 2.0
        await self.app[STORE].create_recording(rec)
        return rec

    def path(self, name: str) -> Path:
        return self.app[RECORDINGS].dir / name


@pytest.fixture
async def world(settings, clips):
    async with running_app(settings) as (client, app, _creds):
        await app[STORE].create_room(Room(room_id=ROOM, room_name=ROOM_NAME, creation_date=1))
        yield World(client, app, clips)


async def answer(resp, status: int, schema=None):
    assert resp.status == status, await resp.text()
    if schema is None:
        return None
    assert resp.content_type == "application/json"
    return S.check(await resp.json(), schema)


# --- the recording object and the list ---------------------------------------------------


async def test_get_recording_has_every_always_present_field(world, auth):
    await world.recording("rec_1")
    body = await answer(await world.client.get(f"{R}/rec_1", headers=auth), 200, S.RECORDING)
    assert body["roomName"] == ROOM_NAME and body["roomId"] == ROOM and body["status"] == "complete"
    assert body["filename"] == "rec_1.mkv" and body["startDate"] == 1000 and body["endDate"] == 3000
    assert body["duration"] == 2.0 and body["size"] > 0
    # the meet prefix answers the same
    again = await answer(await world.client.get(f"/meet/api/v1/recordings/rec_1", headers=auth), 200, S.RECORDING)
    assert again == body


async def test_a_deleted_rooms_recordings_keep_a_room_name(world, auth):
    await world.recording("rec_orphan", room_id="gone-room")
    body = await answer(await world.client.get(f"{R}/rec_orphan", headers=auth), 200, S.RECORDING)
    assert body["roomName"] == "gone-room"


async def test_list_validates_and_max_items_above_100_is_clamped(world, auth):
    for i in range(3):
        await world.recording(f"rec_{i}", start=1000 + i, video=None)
    body = await answer(await world.client.get(R, headers=auth), 200, S.RECORDING_LIST)
    assert [r["recordingId"] for r in body["recordings"]] == ["rec_2", "rec_1", "rec_0"]   # newest first
    assert {r["roomName"] for r in body["recordings"]} == {ROOM_NAME}
    assert body["pagination"] == {"isTruncated": False, "nextPageToken": None, "maxItems": 10}
    for asked, used in (("101", 100), ("5000", 100), ("2.7", 2), ("1", 1)):
        page = await answer(await world.client.get(R, headers=auth, params={"maxItems": asked}), 200,
                            S.RECORDING_LIST)
        assert page["pagination"]["maxItems"] == used, asked
    page = await answer(await world.client.get(R, headers=auth, params={"maxItems": "2", "roomId": ROOM}), 200,
                        S.RECORDING_LIST)
    assert len(page["recordings"]) == 2 and page["pagination"]["isTruncated"]
    rest = await answer(await world.client.get(R, headers=auth, params={
        "maxItems": "2", "roomId": ROOM, "nextPageToken": page["pagination"]["nextPageToken"]}), 200,
        S.RECORDING_LIST)
    assert [r["recordingId"] for r in rest["recordings"]] == ["rec_0"] and not rest["pagination"]["isTruncated"]


@pytest.mark.parametrize("bad", ["0", "-3", "abc", "nan", "0.5"])
async def test_max_items_that_is_not_a_positive_number_is_422(world, auth, bad):
    body = await answer(await world.client.get(R, headers=auth, params={"maxItems": bad}), 422, S.ERROR)
    assert "maxItems" in body["message"] or any(d["field"] == "maxItems" for d in body.get("details", []))


async def test_status_filter_takes_every_documented_status(world, auth):
    await world.recording("rec_done", video=None)
    await world.recording("rec_live", status="active", video=None)
    for status in ("starting", "active", "ending", "complete", "failed", "aborted", "limit_reached"):
        body = await answer(await world.client.get(R, headers=auth, params={"status": status}), 200,
                            S.RECORDING_LIST)
        assert all(r["status"] == status for r in body["recordings"])
    live = await (await world.client.get(R, headers=auth, params={"status": "active"})).json()
    assert [r["recordingId"] for r in live["recordings"]] == ["rec_live"]
    await answer(await world.client.get(R, headers=auth, params={"status": "paused"}), 422, S.ERROR)
    await answer(await world.client.get(R, headers=auth, params={"sortOrder": "up"}), 422, S.ERROR)


async def test_fields_and_x_fields_select_fields(world, auth):
    await world.recording("rec_1", video=None)
    only = await (await world.client.get(R, headers=auth, params={"fields": "recordingId"})).json()
    assert only["recordings"] == [{"recordingId": "rec_1"}]
    both = await (await world.client.get(f"{R}/rec_1", headers={**auth, "X-Fields": "status,size"},
                                         params={"fields": "recordingId,roomId,nonsense"})).json()
    assert set(both) == {"recordingId", "roomId", "status", "size"}
    # only unknown names: the whole object, as OpenVidu does
    whole = await answer(await world.client.get(f"{R}/rec_1", headers=auth, params={"fields": "nonsense"}), 200,
                         S.RECORDING)
    assert "roomName" in whole


async def test_get_errors(world, auth):
    await answer(await world.client.get(f"{R}/nope", headers=auth), 404, S.ERROR)
    await answer(await world.client.get(f"{R}/nope"), 401, S.ERROR)
    await answer(await world.client.get(R), 401, S.ERROR)
    await answer(await world.client.get(R, headers={"Authorization": "Bearer wrong"}), 401, S.ERROR)


# --- deletes -------------------------------------------------------------------------------


async def test_delete_answers_200_with_a_message(world, auth):
    await world.recording("rec_1")
    body = await answer(await world.client.delete(f"{R}/rec_1", headers=auth), 200, S.DELETED)
    assert "rec_1" in body["message"]
    assert not world.path("rec_1.mkv").exists()
    await answer(await world.client.delete(f"{R}/rec_1", headers=auth), 404, S.ERROR)
    await world.recording("rec_live", status="active", video=None)
    await answer(await world.client.delete(f"{R}/rec_live", headers=auth), 409, S.ERROR)
    await answer(await world.client.delete(f"{R}/rec_live"), 401, S.ERROR)


async def test_bulk_delete_all_200_mixed_400(world, auth):
    for rid in ("rec_a", "rec_b", "rec_c"):
        await world.recording(rid, video=None)
    await world.recording("rec_live", status="active", video=None)
    ok = await answer(await world.client.delete(R, headers=auth, params={"recordingIds": "rec_a,rec_b"}), 200,
                      S.BULK_DELETED)
    assert ok["deleted"] == ["rec_a", "rec_b"] and ok["failed"] == []
    mixed = await answer(await world.client.delete(R, headers=auth, params={
        "recordingIds": "rec_c,rec_live,nope"}), 400, S.BULK_MIXED)
    assert mixed["deleted"] == ["rec_c"]
    assert {f["recordingId"] for f in mixed["failed"]} == {"rec_live", "nope"}
    assert mixed["message"] == "2 recording(s) could not be deleted"
    none = await answer(await world.client.delete(R, headers=auth, params={"recordingIds": "nope"}), 400,
                        S.BULK_MIXED)
    assert none["deleted"] == []
    await answer(await world.client.delete(R, headers=auth), 422, S.ERROR)
    await answer(await world.client.delete(R, params={"recordingIds": "rec_live"}), 401, S.ERROR)


# --- url -------------------------------------------------------------------------------------


async def test_recording_url(world, auth):
    await world.recording("rec_1")
    for private in (None, "true", "false"):
        params = {} if private is None else {"privateAccess": private}
        body = await answer(await world.client.get(f"{R}/rec_1/url", headers=auth, params=params), 200,
                            S.RECORDING_URL)
        path = body["url"].split("://", 1)[1].split("/", 1)[1]
        media = await world.client.get("/" + path)
        assert media.status == 200 and media.content_type == "video/x-matroska"
    await answer(await world.client.get(f"{R}/rec_1/url", headers=auth, params={"privateAccess": "maybe"}), 422,
                 S.ERROR)
    await answer(await world.client.get(f"{R}/nope/url", headers=auth), 404, S.ERROR)
    await answer(await world.client.get(f"{R}/rec_1/url"), 401, S.ERROR)


# --- start / stop -----------------------------------------------------------------------------


async def test_start_and_stop_errors(world, auth):
    await answer(await world.client.post(R, headers=auth, json={"roomId": "nope"}), 404, S.ERROR)
    await answer(await world.client.post(R, headers=auth, json={"roomId": ROOM}), 409, S.ERROR)  # no meeting
    await answer(await world.client.post(R, headers=auth, json={}), 422, S.ERROR)
    for config in ({"layout": "mosaic"}, {"encoding": "H265_4K"}, {"quality": 1}, "grid"):
        await answer(await world.client.post(R, headers=auth, json={"roomId": ROOM, "config": config}), 422,
                     S.ERROR)
    await answer(await world.client.post(R, json={"roomId": ROOM}), 401, S.ERROR)
    await world.recording("rec_done", video=None)
    await answer(await world.client.post(f"{R}/rec_done/stop", headers=auth), 409, S.ERROR)
    await answer(await world.client.post(f"{R}/nope/stop", headers=auth), 404, S.ERROR)
    await answer(await world.client.post(f"{R}/rec_done/stop"), 401, S.ERROR)


async def test_start_201_and_stop_202_with_a_live_meeting(settings, auth, clips):
    """The spec's start body (with a config override), then stop: 202 with the recording and a Location.
    The SFU records what aiortc publishes (VP8): MP4 of it answers 406, saying why."""
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    alice = PeerClient("alice", decode=False)
    try:
        async with running_app(settings, recording_media=SfuRecordingMedia(sfu)) as (client, app, _):
            await app[STORE].create_room(Room(room_id=ROOM, room_name=ROOM_NAME, creation_date=1))
            room = sfu.open_room(ROOM)
            await join_room(room, alice)
            await publish(room, alice, {"microphone": ToneTrack(), "camera": SolidColourTrack(COLOURS["blue"])})
            deadline = time.monotonic() + 20
            while len(room.publications()) < 2 or any(room.pubs[p.publication_id].frames_in < 3
                                                      for p in room.publications()):
                assert time.monotonic() < deadline, "alice's media never reached the SFU"
                await asyncio.sleep(0.05)

            resp = await client.post(R, headers=auth, json={"roomId": ROOM, "config": {"layout": "speaker"}})
            started = await answer(resp, 201, S.STARTED)
            rid = started["recordingId"]
            assert started["roomName"] == ROOM_NAME and started["status"] == "active"
            assert resp.headers["Location"] == f"{R}/{rid}"
            await answer(await client.post(R, headers=auth, json={"roomId": ROOM}), 409, S.ERROR)
            await answer(await client.get(f"{R}/{rid}/media", headers=auth), 409, S.ERROR)
            await answer(await client.delete(f"{R}/{rid}", headers=auth), 409, S.ERROR)
            await asyncio.sleep(1.0)   # a second of media

            resp = await client.post(f"{R}/{rid}/stop", headers=auth)
            stopped = await answer(resp, 202, S.RECORDING)
            assert stopped["recordingId"] == rid and stopped["status"] in ("ending", "complete")
            assert resp.headers["Location"] == f"{R}/{rid}"
            await answer(await client.post(f"{R}/{rid}/stop", headers=auth), 409, S.ERROR)
            deadline = time.monotonic() + 20
            while (await (await client.get(f"{R}/{rid}", headers=auth)).json())["status"] != "complete":
                assert time.monotonic() < deadline, "the recording never completed"
                await asyncio.sleep(0.1)

            media = await client.get(f"{R}/{rid}/media", headers=auth)
            assert media.status == 200 and media.content_type in ("video/x-matroska", "video/webm")
            refused = await answer(await client.get(f"{R}/{rid}/media", headers={**auth, "Accept": "video/mp4"}),
                                   406, S.ERROR)
            assert "VP8" in refused["message"] and "re-encode" in refused["message"]
    finally:
        await alice.close()
        await sfu.close()


# --- media formats ----------------------------------------------------------------------------


def probe(path: Path) -> dict:
    run = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,codec_type:format=format_name",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def packets(path: Path) -> dict[str, int]:
    with av.open(str(path)) as c:
        counts: dict[str, int] = {}
        for p in c.demux():
            if p.dts is not None:
                counts[p.stream.type] = counts.get(p.stream.type, 0) + 1
        return counts


async def test_matroska_is_the_default(world, auth):
    await world.recording("rec_h", video="h264")
    for headers in ({}, {"Accept": "*/*"}, {"Accept": "video/*"}, {"Accept": "video/x-matroska, video/mp4"},
                    {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}):
        resp = await world.client.get(f"{R}/rec_h/media", headers={**auth, **headers})
        assert resp.status == 200 and resp.content_type == "video/x-matroska", headers
        assert resp.headers["Content-Disposition"].endswith('.mkv"')
        assert await resp.read() == world.path("rec_h.mkv").read_bytes()


@pytest.mark.parametrize("how", [{"params": {"format": "mp4"}}, {"headers": {"Accept": "video/mp4"}},
                                 {"headers": {"Accept": "video/x-matroska;q=0.5, video/mp4"}}])
async def test_h264_opus_is_offered_as_mp4_without_re_encoding(world, auth, tmp_path, how):
    await world.recording("rec_h", video="h264")
    resp = await world.client.get(f"{R}/rec_h/media", headers={**auth, **how.get("headers", {})},
                                  params=how.get("params", {}))
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "video/mp4"
    assert resp.headers["Content-Disposition"].endswith('.mp4"') and "Accept" in resp.headers.get("Vary", "")
    got = tmp_path / "got.mp4"
    got.write_bytes(await resp.read())
    info = probe(got)
    assert "mp4" in info["format"]["format_name"]
    assert sorted(s["codec_name"] for s in info["streams"]) == ["h264", "opus"]
    # a remux: every packet of the stored file, none added or dropped (nothing decoded, nothing encoded)
    assert packets(got) == packets(world.path("rec_h.mkv"))
    with av.open(str(got)) as c:
        assert sum(1 for _ in c.decode(video=0)) == len(world.clips["h264"])


async def test_mp4_range_requests_join_to_the_whole_file(world, auth):
    await world.recording("rec_h", video="h264")
    whole = await world.client.get(f"{R}/rec_h/media", headers=auth, params={"format": "mp4"})
    data = await whole.read()
    assert whole.headers.get("Accept-Ranges") == "bytes" and int(whole.headers["Content-Length"]) == len(data)
    cut = len(data) // 3
    first = await world.client.get(f"{R}/rec_h/media", headers={**auth, "Range": f"bytes=0-{cut - 1}"},
                                   params={"format": "mp4"})
    rest = await world.client.get(f"{R}/rec_h/media", headers={**auth, "Range": f"bytes={cut}-"},
                                  params={"format": "mp4"})
    assert first.status == 206 and rest.status == 206
    assert first.headers["Content-Range"] == f"bytes 0-{cut - 1}/{len(data)}"
    assert first.content_type == "video/mp4"
    assert await first.read() + await rest.read() == data
    beyond = await world.client.get(f"{R}/rec_h/media", headers={**auth, "Range": f"bytes={len(data) + 10}-"},
                                    params={"format": "mp4"})
    assert beyond.status == 416


async def test_the_mp4_copy_goes_with_the_recording(world, auth):
    await world.recording("rec_h", video="h264")
    assert (await world.client.get(f"{R}/rec_h/media", headers=auth, params={"format": "mp4"})).status == 200
    assert world.path("rec_h.mp4").is_file()
    await answer(await world.client.delete(f"{R}/rec_h", headers=auth), 200, S.DELETED)
    assert not world.path("rec_h.mp4").exists() and not world.path("rec_h.mkv").exists()


async def test_vp8_cannot_be_mp4_and_says_why(world, auth):
    await world.recording("rec_v", video="vp8")
    for how in ({"params": {"format": "mp4"}}, {"headers": {"Accept": "video/mp4"}}):
        resp = await world.client.get(f"{R}/rec_v/media", headers={**auth, **how.get("headers", {})},
                                      params=how.get("params", {}))
        body = await answer(resp, 406, S.ERROR)
        assert "VP8" in body["message"] and "MP4" in body["message"] and "re-encode" in body["message"]
    assert not world.path("rec_v.mp4").exists()
    # MP4 preferred but impossible, Matroska also taken: the stored file
    ok = await world.client.get(f"{R}/rec_v/media", headers={**auth, "Accept": "video/mp4, video/x-matroska;q=0.1"})
    assert ok.status == 200 and ok.content_type == "video/x-matroska"
    assert await ok.read() == world.path("rec_v.mkv").read_bytes()


async def test_media_errors(world, auth):
    await world.recording("rec_v", video="vp8")
    await world.recording("rec_live", status="active", video=None)
    await world.recording("rec_nofile", video=None)
    await answer(await world.client.get(f"{R}/rec_v/media", headers={**auth, "Accept": "application/json"}), 406,
                 S.ERROR)
    await answer(await world.client.get(f"{R}/rec_v/media", headers=auth, params={"format": "avi"}), 422, S.ERROR)
    await answer(await world.client.get(f"{R}/rec_live/media", headers=auth), 409, S.ERROR)
    await answer(await world.client.get(f"{R}/rec_nofile/media", headers=auth), 404, S.ERROR)
    await answer(await world.client.get(f"{R}/nope/media", headers=auth), 404, S.ERROR)
    await answer(await world.client.get(f"{R}/rec_v/media"), 401, S.ERROR)


# --- ZIP download -------------------------------------------------------------------------------


async def test_download_zip_holds_mp4_where_possible(world, auth, tmp_path):
    import zipfile

    await world.recording("rec_h", video="h264")
    await world.recording("rec_v", video="vp8")
    await world.recording("rec_live", status="active", video=None)
    resp = await world.client.get(f"{R}/download", headers=auth,
                                  params={"recordingIds": "rec_h,rec_v,rec_live,nope"})
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/zip"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="recordings.zip"'
    got = tmp_path / "recordings.zip"
    got.write_bytes(await resp.read())
    with zipfile.ZipFile(got) as z:
        assert sorted(z.namelist()) == ["rec_h.mp4", "rec_v.mkv"]
        z.extractall(tmp_path)
        assert z.read("rec_v.mkv") == world.path("rec_v.mkv").read_bytes()
    info = probe(tmp_path / "rec_h.mp4")
    assert "mp4" in info["format"]["format_name"]
    assert sorted(s["codec_name"] for s in info["streams"]) == ["h264", "opus"]
    deadline = time.monotonic() + 10   # the temporary ZIP goes once the handler has sent it
    while list(world.path("").glob(".download-*")):
        assert time.monotonic() < deadline, "the temporary ZIP stayed"
        await asyncio.sleep(0.02)
    body = await answer(await world.client.get(f"{R}/download", headers=auth,
                                               params={"recordingIds": "rec_live,nope"}), 400, S.ERROR)
    assert "ZIP" in body["message"]
    await answer(await world.client.get(f"{R}/download", headers=auth), 422, S.ERROR)
    await answer(await world.client.get(f"{R}/download", params={"recordingIds": "rec_h"}), 401, S.ERROR)


# --- recordingSecret -----------------------------------------------------------------------------


async def test_recording_secret_opens_the_recording_and_a_wrong_one_is_400(world, auth):
    from server.domain.access.keys import derive_key
    from server.http.appkeys import CREDENTIALS

    await world.recording("rec_v", video="vp8")
    secret = derive_key(world.app[CREDENTIALS].server_secret, ROOM, "recording", 0)
    body = await answer(await world.client.get(f"{R}/rec_v", params={"recordingSecret": secret}), 200, S.RECORDING)
    assert body["roomName"] == ROOM_NAME
    media = await world.client.get(f"{R}/rec_v/media", params={"recordingSecret": secret})
    assert media.status == 200 and await media.read() == world.path("rec_v.mkv").read_bytes()
    wrong = await answer(await world.client.get(f"{R}/rec_v", params={"recordingSecret": "123456"}), 400, S.ERROR)
    missing = await answer(await world.client.get(f"{R}/nope", params={"recordingSecret": "123456"}), 400, S.ERROR)
    assert wrong == missing   # a wrong secret tells nothing about which recordings exist
    await answer(await world.client.get(f"{R}/rec_v/media", params={"recordingSecret": "123456"}), 400, S.ERROR)
    # the secret reads; it does not delete
    await answer(await world.client.delete(f"{R}/rec_v", params={"recordingSecret": secret}), 403, S.ERROR)
