"""The recorder as a subscriber of the real SFU: aiortc peers publish over loopback,
the file is read back with PyAV and ffmpeg.

Each publisher shows a dark picture with one white flash and plays silence with
one beep at the same wall-clock instant; the file must show both together, at
the right place on the recording's timeline, for people present from the start
and for one who joins later.
"""

from __future__ import annotations

import asyncio
import fractions
import subprocess
import time

import av
import numpy as np
import pytest
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from media.ports import MediaConfig
from media.recording.recorder import Recorder
from media.sfu import MediaService
from tests.helpers.media_check import ffmpeg_decode
from tests.helpers.media_peers import PeerClient, join_room, publish

pytestmark = pytest.mark.timeout(90)


class FlashTrack(VideoStreamTrack):
    """Dark frames, one white frame at wall time `flash_at`.

    Like a camera, the frame shown is the one whose capture time (its timestamp on
    aiortc's paced 30 fps clock) has reached `flash_at`, even if a busy machine makes
    the track produce it a little late."""

    def __init__(self, flash_at: float) -> None:
        super().__init__()
        self.flash_at = flash_at
        self.flashed = False
        self._dark = np.full((120, 160, 3), 20, np.uint8)
        self._white = np.full((120, 160, 3), 255, np.uint8)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        img = self._dark
        if not self.flashed and self._start + float(pts * time_base) >= self.flash_at:
            self.flashed, img = True, self._white
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class BeepTrack(AudioStreamTrack):
    """48 kHz silence with a 1 kHz beep of 100 ms starting at wall time `beep_at`."""

    def __init__(self, beep_at: float) -> None:
        super().__init__()
        self.beep_at = beep_at
        self._n = 0
        self._start = 0.0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._n:
            wait = self._start + self._n * 0.02 - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        else:
            self._start = time.time()
        t0 = self._start + self._n * 0.02
        t = t0 + np.arange(960) / 48000
        on = (t >= self.beep_at) & (t < self.beep_at + 0.1)
        pcm = np.where(on, 0.6 * 32767 * np.sin(2 * np.pi * 1000 * t), 0).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.pts, frame.sample_rate, frame.time_base = self._n * 960, 48000, fractions.Fraction(1, 48000)
        self._n += 1
        return frame


def flash_and_beep(path, video_index: int, audio_index: int) -> tuple[float, float]:
    flash = beep = None
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams[video_index]):
            if frame.to_ndarray()[: frame.height].mean() > 150:
                flash = float(frame.time)
                break
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams[audio_index]):
            loud = np.nonzero(np.abs(frame.to_ndarray()).max(axis=0) > 0.2)[0]
            if loud.size:
                beep = float(frame.time) + loud[0] / frame.sample_rate
                break
    assert flash is not None and beep is not None, (flash, beep)
    return flash, beep


@pytest.fixture
async def sfu():
    service = MediaService(MediaConfig(loopback_candidates=True))
    yield service
    await service.close()


async def test_recording_of_a_meeting_with_a_late_joiner(sfu, tmp_path):
    room = sfu.open_room("rec-room")
    peers: list[PeerClient] = []
    try:
        start = time.time()
        flash = {"alice": start + 4.5, "bob": start + 6.5, "carol": start + 8.5}
        for name in ("alice", "bob"):
            peer = PeerClient(name, decode=False)
            peers.append(peer)
            await join_room(room, peer)
            await publish(room, peer, {"microphone": BeepTrack(flash[name]), "camera": FlashTrack(flash[name])})
        # wait until the SFU receives all four publications
        deadline = time.monotonic() + 20
        while len([p for p in room.publications()]) < 4 or any(
                room.pubs[p.publication_id].frames_in < 5 for p in room.publications()):
            assert time.monotonic() < deadline, "publications did not start"
            await asyncio.sleep(0.05)

        path = tmp_path / "meeting.mkv"
        names = {"alice": "Alice", "bob": "Bob", "carol": "Carol"}
        recorder = Recorder(path, name_of=lambda pid: names[pid])
        recorder.attach(room)
        attached = time.time()

        while time.time() < attached + 3.0:   # carol joins 3 s into the recording
            await asyncio.sleep(0.05)
        carol = PeerClient("carol", decode=False)
        peers.append(carol)
        await join_room(room, carol)
        await publish(room, carol, {"microphone": BeepTrack(flash["carol"]), "camera": FlashTrack(flash["carol"])})

        while time.time() < attached + 10.0:
            await asyncio.sleep(0.05)
        stopped = time.time()
        result = await recorder.stop()
        finalize_seconds = time.time() - stopped
    finally:
        for peer in peers:
            await peer.close()

    assert result.status == "complete", result.error
    assert finalize_seconds < 5
    truth = stopped - attached
    with av.open(str(path)) as c:
        streams = {(s.metadata["title"], s.type): s for s in c.streams}
        assert len(c.streams) == 6
        assert abs(c.duration / 1e6 - truth) < 0.5, (c.duration, truth)
        index = {k: s.index for k, s in streams.items()}
        carol_video = streams[("Carol (camera)", "video")]
        carol_start = float(carol_video.start_time * carol_video.time_base)
    assert {t["participantName"] for t in result.tracks} == {"Alice", "Bob", "Carol"}
    # carol published ~3 s in (plus ICE set-up): she starts there, not at 0
    assert 2.8 < carol_start < 6.0, carol_start
    for name in ("alice", "bob", "carol"):
        label = names[name]
        f, b = flash_and_beep(path, index[(f"{label} (camera)", "video")], index[(f"{label} (microphone)", "audio")])
        assert abs(f - b) < 0.1, (name, f, b)
        # the flash sits where it happened on the recording's timeline (loose: on a loaded
        # 2-core box a whole participant's frames can reach the server a few 100 ms late)
        assert abs(f - (flash[name] - attached)) < 0.5, (name, f, flash[name] - attached)
    # every video track decodes from its first frame; ffmpeg reads the whole file cleanly
    for index_ in (i for (title, kind), i in index.items() if kind == "video"):
        with av.open(str(path)) as c:
            s = c.streams[index_]
            first = next(p for p in c.demux(s) if p.size)
            assert first.is_keyframe
            frames = s.codec_context.decode(first)
            assert frames and frames[0].key_frame
    run = ffmpeg_decode(path)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr
