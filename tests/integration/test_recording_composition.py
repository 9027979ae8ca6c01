"""Composed MP4s: a real meeting recorded through the SFU (aiortc peers over loopback, solid
colours and tones) rendered into one MP4 and read back with PyAV and ffprobe; and the job behind
the REST APIs: requested, paced in a child process, reported in both APIs, served with Range,
resumed by a restarted server, deleted with its recording.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest

from media.ports import MediaConfig
from media.recording.compose import compose
from media.recording.compose_layout import layout
from media.recording.recorder import Recorder
from media.sfu import MediaService
from server.http.appkeys import RECORDINGS, STORE
from server.store.records import Recording, Room
from tests.helpers.stored_recordings import add_recording, unpaced
from tests.helpers.media_peers import COLOURS, PeerClient, SolidColourTrack, ToneTrack, join_room, publish
from tests.helpers.rest_app import running_app

pytestmark = pytest.mark.timeout(120)
W, H = 640, 360
TONES = {"alice": 440.0, "bob": 1000.0}


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def picture_at(path: Path, t: float) -> np.ndarray:
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            if frame.time >= t:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame at {t}")


def tile_colour(img: np.ndarray, rect) -> np.ndarray:
    """Mean colour of the middle of a tile (away from the border and the name plate)."""
    cx, cy = rect.x + rect.w // 2, rect.y + rect.h // 3
    return img[cy - rect.h // 6:cy + rect.h // 6, cx - rect.w // 6:cx + rect.w // 6].reshape(-1, 3).mean(axis=0)


def near(mean: np.ndarray, rgb: tuple[int, int, int]) -> bool:
    return bool(np.all(np.abs(mean - np.array(rgb)) < 45))


def tone_strength(path: Path, start: float, end: float, freq: float) -> float:
    """Amplitude at ``freq`` over the median of the spectrum, in the mixed audio between start and end."""
    with av.open(str(path)) as c:
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0) if start <= f.time < end])
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(pcm.size)))
    freqs = np.fft.rfftfreq(pcm.size, 1 / 48000)
    band = spectrum[(freqs > freq - 15) & (freqs < freq + 15)].max()
    return float(band / (np.median(spectrum) + 1e-3))


async def test_a_recorded_meeting_composes_into_one_mp4_of_who_was_there(tmp_path):
    sfu = MediaService(MediaConfig(loopback_candidates=True))
    room = sfu.open_room("compose-room")
    peers: list[PeerClient] = []
    names = {"alice": "Alice", "bob": "Bob"}
    try:
        async def arrive(pid: str, colour: str) -> None:
            peer = PeerClient(pid, decode=False)
            peers.append(peer)
            await join_room(room, peer)
            await publish(room, peer, {"microphone": ToneTrack(TONES[pid], 0.4),
                                       "camera": SolidColourTrack(COLOURS[colour], 320, 240)})

        async def sending(count: int) -> None:
            deadline = time.monotonic() + 20
            while len(room.publications()) < count or any(
                    room.pubs[p.publication_id].frames_in < 5 for p in room.publications()):
                assert time.monotonic() < deadline, "publications did not start"
                await asyncio.sleep(0.05)
        await arrive("alice", "red")
        await sending(2)
        path = tmp_path / "meeting.mkv"
        recorder = Recorder(path, name_of=lambda pid: names[pid])
        recorder.attach(room)
        attached = time.monotonic()
        while time.monotonic() < attached + 2.5:
            await asyncio.sleep(0.05)
        await arrive("bob", "blue")          # bob comes later: the grid grows
        await sending(4)
        while time.monotonic() < attached + 6.5:
            await asyncio.sleep(0.05)
        result = await recorder.stop()
    finally:
        for peer in peers:
            await peer.close()
        await sfu.close()
    assert result.status == "complete", result.error
    with av.open(str(path)) as c:
        tags = {s.metadata.get("ANTECHAMBER_NAME"): s for s in c.streams if s.type == "video"}
        assert set(tags) == {"Alice", "Bob"}, "the recording names every participant's track"
        bob_start = float(tags["Bob"].start_time * tags["Bob"].time_base)

    out = tmp_path / "meeting.mp4"
    started = time.process_time()
    done = await asyncio.to_thread(compose, path, out, width=W, height=H, fps=10)
    assert done.encoder in ("libx264", "libopenh264", "h264")
    assert time.process_time() - started < 60

    info = ffprobe(out)
    kinds = sorted(s["codec_type"] for s in info["streams"])
    assert kinds == ["audio", "video"], kinds
    codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}
    assert abs(float(info["format"]["duration"]) - result.duration) < 0.5, (info["format"]["duration"], result.duration)
    # +faststart: the index (moov) comes before the media (mdat)
    head = out.read_bytes()[:200_000]
    assert head.find(b"moov") < head.find(b"mdat")

    alone, both = layout(["alice"], None, W, H), layout(["alice", "bob"], None, W, H)
    early = picture_at(out, max(0.5, bob_start - 1.0))
    assert near(tile_colour(early, alone["alice"]), COLOURS["red"]), tile_colour(early, alone["alice"])
    late = picture_at(out, bob_start + 1.5)
    assert near(tile_colour(late, both["alice"]), COLOURS["red"]), tile_colour(late, both["alice"])
    assert near(tile_colour(late, both["bob"]), COLOURS["blue"]), tile_colour(late, both["bob"])
    # both voices are in the one audio track once both are there; only alice's before bob came
    end = result.duration - 0.3
    assert tone_strength(out, bob_start + 0.5, end, TONES["alice"]) > 50
    assert tone_strength(out, bob_start + 0.5, end, TONES["bob"]) > 50
    bob_later = tone_strength(out, bob_start + 0.5, end, TONES["bob"])
    assert tone_strength(out, 0.3, bob_start - 0.3, TONES["bob"]) < bob_later / 20


# --- the job behind the APIs ------------------------------------------------------------------

R, WB = "/api/v1/recordings", "/v1/recordings"


async def until(client, url: str, auth: dict, predicate, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = await (await client.get(url, headers=auth)).json()
        if predicate(body):
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def test_compositions_are_requested_reported_served_resumed_and_deleted(settings, auth):
    async with running_app(settings, prepare=unpaced) as (client, app, _creds):
        await app[STORE].create_room(Room(room_id="room-c", room_name="Design review", creation_date=1))
        await add_recording(app, "rec_old")
        body = await (await client.get(f"{R}/rec_old", headers=auth)).json()
        assert body["composition"] is None
        refused = await client.get(f"{R}/rec_old/media", params={"variant": "composed"}, headers=auth)
        assert refused.status == 409 and (await refused.json())["code"] == "composition_not_ready"
        assert (await client.get(f"{R}/rec_old/media", params={"variant": "both"}, headers=auth)).status == 422
        asked = await client.post(f"{R}/rec_old/composition", headers=auth)
        assert asked.status == 202 and (await asked.json())["composition"] == "pending"
        ready = await until(client, f"{R}/rec_old", auth, lambda b: b["composition"] != "pending")
        assert ready["composition"] == "ready" and ready["compositionProgress"] == 1.0
        whereby = await (await client.get(f"{WB}/rec_old", headers=auth)).json()
        assert whereby["composition"] == "ready"
        # both files, with Range; the composed one is one H.264/AAC MP4
        whole = await client.get(f"{R}/rec_old/media", params={"variant": "composed"}, headers=auth)
        assert whole.status == 200 and whole.content_type == "video/mp4"
        data = await whole.read()
        part = await client.get(f"{R}/rec_old/media", params={"variant": "composed"},
                                headers={**auth, "Range": "bytes=100-199"})
        assert part.status == 206 and await part.read() == data[100:200]
        tracks = await client.get(f"{R}/rec_old/media", params={"variant": "tracks"}, headers={**auth, "Range": "bytes=0-9"})
        assert tracks.status == 206 and tracks.content_type == "video/x-matroska"
        mp4 = Path(app[RECORDINGS].dir) / "rec_old.composed.mp4"
        info = ffprobe(mp4)
        assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
        assert abs(float(info["format"]["duration"]) - 2.0) < 0.5
        # the share link opens the player page, and that page's requests need nothing but the link
        link = await (await client.get(f"{R}/rec_old/url", headers=auth)).json()
        player = link["playerUrl"].replace("http://meet.test", "")
        page = await client.get(player)
        assert page.status == 200 and "recording-player.js" in await page.text()
        query = player.split("?", 1)[1]
        seen = await client.get(f"{R}/rec_old?{query}")
        assert seen.status == 200 and (await seen.json())["roomName"] == "Design review"
        assert (await client.get(f"{R}/rec_old/media?{query}&variant=composed")).status == 200
        assert (await client.delete(f"{R}/rec_old?{query}")).status == 401
        # a composition still pending when the server stops
        await add_recording(app, "rec_later", composition="pending")
    async with running_app(settings, prepare=unpaced) as (client, app, _creds):
        resumed = await until(client, f"{R}/rec_later", auth, lambda b: b["composition"] != "pending")
        assert resumed["composition"] == "ready"
        assert (await client.delete(f"{R}/rec_later", headers=auth)).status == 200
        assert not (Path(app[RECORDINGS].dir) / "rec_later.composed.mp4").exists()
        assert not (await client.post(f"{R}/rec_none/composition", headers=auth)).status == 202
