"""Recordings over HTTP: listing, Range downloads, who may fetch a file, signed links,
both API shapes, and recovery of recordings a crash left behind.

Files are real Matroska recordings written by the recorder's writer from real
VP8/Opus packets; they are read back with PyAV / ffprobe.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import av
import pytest

from media.recording.codecs import codec_info
from media.recording.writer import RecordingWriter, TrackSpec
from server.http.appkeys import CREDENTIALS, RECORDINGS, STORE
from server.domain.access.keys import derive_key
from server.store import open_store
from server.store.records import Recording, Room
from tests.helpers.encoded_media import opus_clip, vp8_clip
from tests.helpers.rest_app import running_app

R = "/api/v1/recordings"


@pytest.fixture(scope="module")
def clip():
    return vp8_clip(3, bitrate=800_000), opus_clip(3)


def write_file(path: Path, clip, seconds: float | None = None) -> None:
    video, audio = clip
    w = RecordingWriter(path, "matroska", header_window_ms=0)
    w.add_track(TrackSpec("v", codec_info("VP8"), "Alice (camera)"))
    w.add_track(TrackSpec("a", codec_info("opus"), "Alice (microphone)"))
    frames = [(f.offset, "v", f) for f in video] + [(f.offset, "a", f) for f in audio]
    for at, track, f in sorted(frames, key=lambda e: e[0]):
        if seconds is None or at <= seconds:
            w.write(track, int(at * 1000), f.data, f.keyframe)
    w.close()


class World:
    """A running app with two rooms and helpers to add recordings with real files."""

    def __init__(self, client, app, clip) -> None:
        self.client, self.app, self.clip = client, app, clip
        self.secret = app[CREDENTIALS].server_secret

    @property
    def store(self):
        return self.app[STORE]

    async def room(self, room_id: str, **kw) -> Room:
        room = Room(room_id=room_id, room_name=room_id, creation_date=1, **kw)
        await self.store.create_room(room)
        return room

    async def recording(self, rid: str, room_id: str, status: str = "complete", start: int = 1000,
                        file: bool = True) -> Recording:
        rec = Recording(recording_id=rid, room_id=room_id, status=status, start_date=start, filename=f"{rid}.mkv")
        if file:
            path = self.app[RECORDINGS].dir / rec.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file(path, self.clip)
            rec.size = path.stat().st_size
        await self.store.create_recording(rec)
        return rec

    def host_key(self, room_id: str) -> str:
        return derive_key(self.secret, room_id, "host", 0)

    def path(self, rid: str) -> Path:
        return self.app[RECORDINGS].dir / f"{rid}.mkv"


@pytest.fixture
async def world(settings, clip):
    async with running_app(settings) as (client, app, _creds):
        w = World(client, app, clip)
        await w.room("room-a")
        await w.room("room-b")
        yield w


async def test_range_requests_join_to_the_whole_file(world, auth):
    await world.recording("rec_1", "room-a")
    whole = world.path("rec_1").read_bytes()
    resp = await world.client.get(f"{R}/rec_1/media", headers=auth)
    assert resp.status == 200
    assert await resp.read() == whole
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Accept-Ranges"] == "bytes"
    n = len(whole)
    pieces = []
    for lo, hi in ((0, 999), (1000, n // 2), (n // 2 + 1, n - 1)):
        r = await world.client.get(f"{R}/rec_1/media", headers={**auth, "Range": f"bytes={lo}-{hi}"})
        assert r.status == 206
        assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{n}"
        pieces.append(await r.read())
    assert hashlib.sha256(b"".join(pieces)).hexdigest() == hashlib.sha256(whole).hexdigest()
    tail = await world.client.get(f"{R}/rec_1/media", headers={**auth, "Range": "bytes=-100"})
    assert tail.status == 206 and await tail.read() == whole[-100:]
    bad = await world.client.get(f"{R}/rec_1/media", headers={**auth, "Range": f"bytes={n + 10}-"})
    assert bad.status == 416
    assert bad.headers.get("Content-Range") == f"bytes */{n}"


async def test_active_recording_cannot_be_fetched_or_deleted(world, auth):
    await world.recording("rec_live", "room-a", status="active")
    for method in ("get", "delete"):
        url = f"{R}/rec_live/media" if method == "get" else f"{R}/rec_live"
        resp = await getattr(world.client, method)(url, headers=auth)
        assert resp.status == 409
        assert (await resp.json())["code"] == "recording_active"
    assert world.path("rec_live").exists()
    resp = await world.client.get(f"{R}/rec_live/media", headers={**auth, "Range": "bytes=0-10"})
    assert resp.status == 409


async def test_who_may_fetch_a_file(world, auth):
    await world.recording("rec_a", "room-a")
    url = f"{R}/rec_a/media"
    # nobody / the guest link (no key at all)
    assert (await world.client.get(url)).status == 401
    # a made-up key, and another room's host key
    assert (await world.client.get(url, params={"roomKey": "not-a-key"})).status == 403
    assert (await world.client.get(url, params={"roomKey": world.host_key("room-b")})).status == 403
    assert (await world.client.get(url, headers={"X-Room-Key": world.host_key("room-b")})).status == 403
    # a wrong API key is refused even with a valid room key beside it
    bad = await world.client.get(url, headers={"Authorization": "Bearer wrong-key-0123456789"},
                                 params={"roomKey": world.host_key("room-a")})
    assert bad.status == 401
    # this room's host key, and its recording key
    ok = await world.client.get(url, params={"roomKey": world.host_key("room-a")})
    assert ok.status == 200 and await ok.read() == world.path("rec_a").read_bytes()
    rk = derive_key(world.secret, "room-a", "recording", 0)
    assert (await world.client.get(url, params={"recordingKey": rk})).status == 200
    # a host whose room denies canRetrieveRecordings
    def deny(room):
        room.roles = {"moderator": {"permissions": {"canRetrieveRecordings": False}}}
    await world.store.modify_room("room-a", deny)
    assert (await world.client.get(url, params={"roomKey": world.host_key("room-a")})).status == 403
    # host keys never delete without canDeleteRecordings... which the default moderator has
    def allow(room):
        room.roles = {}
    await world.store.modify_room("room-a", allow)
    resp = await world.client.delete(f"{R}/rec_a", params={"roomKey": world.host_key("room-b")})
    assert resp.status == 403 and world.path("rec_a").exists()



async def test_a_link_the_room_turned_off_opens_no_recording(world, auth):
    """The one access rule (as for joining): a turned-off host or recording link grants nothing."""
    await world.recording("rec_off", "room-a")
    url = f"{R}/rec_off/media"
    host, rk = world.host_key("room-a"), derive_key(world.secret, "room-a", "recording", 0)
    assert (await world.client.get(url, params={"roomKey": host})).status == 200
    assert (await world.client.get(url, params={"recordingKey": rk})).status == 200

    def turn_off(room):
        room.access = {"anonymous": {"moderator": {"enabled": False}, "recording": {"enabled": False}}}
    await world.store.modify_room("room-a", turn_off)
    for params in ({"roomKey": host}, {"recordingKey": rk}):
        resp = await world.client.get(url, params=params)
        assert resp.status == 403 and (await resp.json())["code"] == "forbidden", params
    listed = await world.client.get(R, params={"roomId": "room-a", "roomKey": host})
    assert listed.status == 403
    assert (await world.client.get(url, headers=auth)).status == 200     # the API key still may

async def test_signed_links_expire_break_when_tampered_and_can_be_revoked(world, auth):
    await world.recording("rec_s", "room-a")
    resp = await world.client.get(f"{R}/rec_s/url", headers=auth, params={"expiresIn": "60"})
    assert resp.status == 200
    body = await resp.json()
    assert abs(body["expiresAt"] / 1000 - (time.time() + 60)) < 5
    link = body["url"].replace("http://meet.test", "")
    good = await world.client.get(link)
    assert good.status == 200 and await good.read() == world.path("rec_s").read_bytes()
    # tampered: another expiry with the same signature, another recording's id, a mangled signature
    later = link.replace(f"expires={body['expiresAt'] // 1000}", f"expires={body['expiresAt'] // 1000 + 9999}")
    assert (await world.client.get(later)).status == 403
    await world.recording("rec_t", "room-a")
    assert (await world.client.get(link.replace("rec_s", "rec_t"))).status == 403
    mangled = link[:-3] + ("BBB" if link.endswith("AAA") else "AAA")   # always differs from the real one
    assert (await world.client.get(mangled)).status == 403
    # expired: sign one that ended a second ago
    svc = world.app[RECORDINGS]
    rec = await svc.get("rec_s")
    from server.domain.access.signed_links import link_query
    query, _ = link_query(world.secret, "rec_s", rec.link_secret_version, time.time() - 61, 60)
    expired = await world.client.get(f"{R}/rec_s/media?{query}")
    assert expired.status == 403 and (await expired.json())["code"] == "link_expired"
    # revoked: rotating the link secret kills links handed out before
    assert (await world.client.delete(f"{R}/rec_s/url", headers=auth)).status == 204
    revoked = await world.client.get(link)
    assert revoked.status == 403 and (await revoked.json())["code"] == "invalid_link"
    # a signed link only downloads: it does not delete
    fresh = (await (await world.client.get(f"{R}/rec_s/url", headers=auth)).json())["url"]
    query = fresh.split("?", 1)[1]
    assert (await world.client.delete(f"{R}/rec_s?{query}")).status == 401
    assert (await world.client.get(f"{R}/rec_s/url", params={"expiresIn": "99999"}, headers=auth)).status == 422


@pytest.mark.parametrize("rid", ["..%2F..%2Fcredentials.json", "..", "%2E%2E", "rec_1%00", "a" * 300,
                                 "..%2Fantechamber.sqlite3"])
async def test_path_like_ids_never_reach_a_file(world, auth, rid):
    await world.recording("rec_1", "room-a")
    for url in (f"{R}/{rid}/media", f"/v1/recordings/{rid}/media", f"{R}/{rid}"):
        resp = await world.client.get(url, headers=auth)
        assert resp.status in (400, 401, 403, 404, 422), (url, resp.status)   # 422/400: %00 is refused text
        body = await resp.read()
        assert b"server_secret" not in body and not body.startswith(b"\x1aE\xdf\xa3")
        assert resp.headers.get("Content-Type", "").startswith("application/json") or resp.status == 404


async def test_native_list_sort_page_get_delete(world, auth):
    await world.recording("rec_1", "room-a", start=3000)
    await world.recording("rec_2", "room-a", start=1000, file=False)
    await world.recording("rec_3", "room-b", start=2000)
    await world.recording("rec_4", "room-a", start=4000, status="active")
    r = await (await world.client.get(R, headers=auth, params={"roomId": "room-a", "sortField": "startDate",
                                                                "sortOrder": "asc", "maxItems": "2"})).json()
    assert [x["recordingId"] for x in r["recordings"]] == ["rec_2", "rec_1"]
    assert r["pagination"]["isTruncated"]
    r2 = await (await world.client.get(R, headers=auth, params={
        "roomId": "room-a", "sortField": "startDate", "sortOrder": "asc", "maxItems": "2",
        "nextPageToken": r["pagination"]["nextPageToken"]})).json()
    assert [x["recordingId"] for x in r2["recordings"]] == ["rec_4"]
    by_size = await (await world.client.get(R, headers=auth, params={"sortField": "size"})).json()
    sizes = [x["size"] for x in by_size["recordings"]]
    assert sizes == sorted(sizes, reverse=True)
    active = await (await world.client.get(R, headers=auth, params={"status": "active"})).json()
    assert [x["recordingId"] for x in active["recordings"]] == ["rec_4"]
    assert (await world.client.get(R)).status == 401
    assert (await world.client.get(R, headers=auth, params={"sortField": "name"})).status == 422
    assert (await world.client.get(R, headers=auth, params={"nextPageToken": "forged"})).status == 400
    # a host may list their own room's recordings, not another room's
    mine = await world.client.get(R, params={"roomId": "room-a", "roomKey": world.host_key("room-a")})
    assert mine.status == 200
    assert (await world.client.get(R, params={"roomId": "room-b", "roomKey": world.host_key("room-a")})).status == 403

    one = await (await world.client.get(f"{R}/rec_1", headers=auth)).json()
    assert one["status"] == "complete" and one["roomId"] == "room-a" and one["size"] > 0
    assert (await world.client.get(f"{R}/nope", headers=auth)).status == 404
    assert (await world.client.delete(f"{R}/rec_1", headers=auth)).status == 200   # OpenVidu: 200 {message}
    assert not world.path("rec_1").exists()
    assert (await world.client.get(f"{R}/rec_1", headers=auth)).status == 404
    bulk = await world.client.delete(R, headers=auth, params={"recordingIds": "rec_2,rec_4,nope"})
    assert bulk.status == 400   # OpenVidu: mixed results answer 400 {message, deleted, failed}
    body = await bulk.json()
    assert body["deleted"] == ["rec_2"]
    assert {(x["recordingId"], x["error"]) for x in body["failed"]} == {
        ("rec_4", "recording_active"), ("nope", "recording_not_found")}
    assert (await world.client.delete(R, headers=auth, params={"recordingIds": "rec_3"})).status == 200


async def test_whereby_shape(world, auth):
    await world.recording("rec_1", "room-a", start=1000)
    await world.recording("rec_2", "room-a", start=2000)
    await world.recording("rec_3", "room-b", start=3000)
    page = await (await world.client.get("/v1/recordings", headers=auth,
                                         params={"roomName": "/room-a", "limit": "1", "sortBy": "startDate:asc"})).json()
    assert [x["recordingId"] for x in page["results"]] == ["rec_1"] and page["cursor"]
    assert page["results"][0]["roomName"] == "/room-a"
    assert page["results"][0]["startDate"] == "1970-01-01T00:00:01.000Z"
    page2 = await (await world.client.get("/v1/recordings", headers=auth, params={
        "roomName": "/room-a", "limit": "1", "sortBy": "startDate:asc", "cursor": page["cursor"]})).json()
    assert [x["recordingId"] for x in page2["results"]] == ["rec_2"]
    assert (await world.client.get("/v1/recordings")).status == 401
    assert (await world.client.get("/v1/recordings", headers=auth, params={"limit": "0"})).status == 400
    got = await (await world.client.get("/v1/recordings/rec_3", headers=auth)).json()
    assert got["recordingId"] == "rec_3"
    link = await world.client.get("/v1/recordings/rec_3/access-link", headers=auth)
    body = await link.json()
    assert abs(body["expires"] / 1000 - (time.time() + 3600)) < 5
    assert (await world.client.get(body["accessLink"].replace("http://meet.test", ""))).status == 200
    long = await (await world.client.get("/v1/recordings/rec_3/access-link", headers=auth,
                                         params={"validForSeconds": "43200"})).json()
    assert abs(long["expires"] / 1000 - (time.time() + 43200)) < 5
    assert (await world.client.get("/v1/recordings/rec_3/access-link", headers=auth,
                                   params={"validForSeconds": "43201"})).status == 400
    assert (await world.client.delete("/v1/recordings/rec_3", headers=auth)).status == 204
    bulk = await world.client.post("/v1/recordings/bulk-delete", headers=auth, json={"recordingIds": ["rec_1", "rec_2"]})
    assert bulk.status == 204
    assert (await (await world.client.get("/v1/recordings", headers=auth)).json())["results"] == []
    assert (await world.client.post("/v1/recordings/bulk-delete", headers=auth, json={"recordingIds": "x"})).status == 400


async def test_start_needs_a_live_meeting_and_recording_enabled(world, auth):
    resp = await world.client.post(R, headers=auth, json={"roomId": "room-a"})
    assert resp.status == 409 and (await resp.json())["code"] == "room_has_no_meeting"
    await world.room("room-off", config={"recording": {"enabled": False}})
    resp = await world.client.post(R, headers=auth, json={"roomId": "room-off"})
    assert resp.status == 409 and (await resp.json())["code"] == "recording_disabled"
    assert (await world.client.post(R, headers=auth, json={"roomId": "nope"})).status == 404
    assert (await world.client.post(R, headers=auth, json={})).status == 422
    assert (await world.client.post(R, json={"roomId": "room-a"})).status == 401
    await world.recording("rec_done", "room-a")
    resp = await world.client.post(f"{R}/rec_done/stop", headers=auth)
    assert resp.status == 409 and (await resp.json())["code"] == "recording_not_active"


async def test_recordings_left_by_a_crash_are_fixed_on_start(settings, clip, store_kind):
    """Records left starting/active/ending: a finalized file -> complete, a cut one -> failed, both downloadable.

    With a shared (Redis) store, a record whose file is not on this node may be another
    node's live recording: it is left alone."""
    rec_dir = settings.data_dir / "recordings"
    rec_dir.mkdir(parents=True)
    write_file(rec_dir / "rec_final.mkv", clip)
    write_file(rec_dir / "rec_cut.mkv", clip)
    whole = (rec_dir / "rec_cut.mkv").read_bytes()
    (rec_dir / "rec_cut.mkv").write_bytes(whole[: int(len(whole) * 0.6)])   # no trailer: like kill -9
    store = await open_store(settings)
    try:
        await store.create_room(Room(room_id="room-a", creation_date=1))
        for rid, status in (("rec_final", "ending"), ("rec_cut", "active"), ("rec_none", "starting"),
                            ("rec_old", "complete")):
            await store.create_recording(Recording(recording_id=rid, room_id="room-a", status=status,
                                                   start_date=1000, filename=f"{rid}.mkv"))
    finally:
        await store.close()

    async with running_app(settings) as (client, app, creds):
        auth = {"Authorization": f"Bearer {settings.api_keys[0]}"}
        final = await (await client.get(f"{R}/rec_final", headers=auth)).json()
        cut = await (await client.get(f"{R}/rec_cut", headers=auth)).json()
        none = await (await client.get(f"{R}/rec_none", headers=auth)).json()
        old = await (await client.get(f"{R}/rec_old", headers=auth)).json()
        assert final["status"] == "complete" and abs(final["duration"] - 3.0) < 0.5
        assert cut["status"] == "failed" and cut["error"] and 0.5 < cut["duration"] < 2.9
        assert cut["size"] == int(len(whole) * 0.6)
        if store_kind == "sqlite":
            assert none["status"] == "failed" and none["size"] == 0
        else:
            assert none["status"] == "starting"
        assert old["status"] == "complete"
        got = await client.get(f"{R}/rec_cut/media", headers=auth)
        assert got.status == 200
        data = await got.read()
    cut_copy = settings.data_dir / "cut-copy.mkv"
    cut_copy.write_bytes(data)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                            str(cut_copy)], capture_output=True, text=True, timeout=30)
    assert sorted(probe.stdout.split()) == ["opus", "vp8"], probe.stderr
    with av.open(str(cut_copy)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 10
