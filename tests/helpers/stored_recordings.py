"""Recordings made for tests without a meeting: a short real Matroska file (VP8 + Opus from
tests/helpers/encoded_media.py) stored as a completed recording, and the composer unpaced."""

from __future__ import annotations

from pathlib import Path

from media.recording.codecs import codec_info
from media.recording.writer import RecordingWriter, TrackSpec
from server.http.appkeys import COMPOSITIONS, RECORDINGS, STORE
from server.store.records import Recording
from tests.helpers.encoded_media import opus_clip, vp8_clip


def write_recording(path: Path, seconds: float = 2.0) -> None:
    video, audio = vp8_clip(seconds), opus_clip(seconds)
    w = RecordingWriter(path, "matroska", header_window_ms=0)
    w.add_track(TrackSpec("v", codec_info("VP8"), "Alice (camera)", "alice", "Alice", "camera"))
    w.add_track(TrackSpec("a", codec_info("opus"), "Alice (microphone)", "alice", "Alice", "microphone"))
    for at, track, f in sorted([(f.offset, "v", f) for f in video] + [(f.offset, "a", f) for f in audio],
                               key=lambda e: e[0]):
        w.write(track, int(at * 1000), f.data, f.keyframe)
    w.close()


async def add_recording(app, rid: str, **kw) -> Recording:
    rec = Recording(recording_id=rid, room_id="room-c", status="complete", start_date=1000, filename=f"{rid}.mkv",
                    duration=2.0, **kw)
    path = app[RECORDINGS].dir / rec.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    write_recording(path)
    rec.size = path.stat().st_size
    await app[STORE].create_recording(rec)
    return rec


def unpaced(app) -> None:
    """The suite's machine is busy: the composer at normal priority and pace (bench/compose.py
    measures the paced, niced one)."""
    app[COMPOSITIONS].nice, app[COMPOSITIONS].speed = 0, 0
