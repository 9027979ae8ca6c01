"""The recording muxer with real VP8/Opus packets, read back with PyAV and ffmpeg.

Frames go through RecordingMuxer exactly as the SFU hands them over (bytes, RTP
timestamp, keyframe flag) with synthetic RTP timestamps that wrap past 2**32
and arrival times that carry the receive jitter buffer's delays.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from media.recording import RecordingMuxer, probe, recover
from media.recording.merge import find_parts
from tests.helpers.encoded_media import opus_clip, vp8_clip
from tests.helpers.media_check import ffmpeg_decode

WRAP = 1 << 32
VIDEO_DELAY = 0.033   # the receive jitter buffer holds a video frame ~1 frame
AUDIO_DELAY = 0.080   # and audio by 4 packets


@pytest.fixture(scope="module")
def clips():
    return {
        "a": (vp8_clip(5, flash_at=2.0), opus_clip(5, beep_at=2.0)),
        "b": (vp8_clip(5, flash_at=3.0), opus_clip(5, beep_at=3.0)),
        "late": (vp8_clip(2, flash_at=1.0), opus_clip(2, beep_at=1.0)),
    }


def events(name, video, audio, start, *, video_rtp0, audio_rtp0, skip_video=0):
    """(arrival, track, data, rtp, keyframe) as a publisher that started at `start` would deliver."""
    out = []
    for f in video[skip_video:]:
        out.append((start + f.offset + VIDEO_DELAY, f"{name}-v", f.data,
                    (video_rtp0 + round(f.offset * 90000)) % WRAP, f.keyframe))
    for f in audio:
        out.append((start + f.offset + AUDIO_DELAY, f"{name}-a", f.data,
                    (audio_rtp0 + round(f.offset * 48000)) % WRAP, True))
    return out


def feed(muxer, evs):
    for arrival, track, data, rtp, key in sorted(evs, key=lambda e: e[0]):
        muxer.push(track, data, rtp, key, arrival=arrival)


def flash_time(path: Path, stream_index: int) -> float:
    with av.open(str(path)) as c:
        s = c.streams[stream_index]
        for frame in c.decode(s):
            if frame.to_ndarray()[: frame.height].mean() > 150:  # Y plane
                return float(frame.time)
    raise AssertionError("no flash frame")


def beep_time(path: Path, stream_index: int) -> float:
    with av.open(str(path)) as c:
        s = c.streams[stream_index]
        for frame in c.decode(s):
            pcm = frame.to_ndarray()
            loud = np.nonzero(np.abs(pcm).max(axis=0) > 0.2)[0]
            if loud.size:
                return float(frame.time) + loud[0] / frame.sample_rate
    raise AssertionError("no beep")


def streams_by_track(path: Path) -> dict[str, int]:
    with av.open(str(path)) as c:
        return {s.metadata["ANTECHAMBER_TRACK"]: s.index for s in c.streams}


def first_decoded_ok(path: Path, stream_index: int) -> tuple[int, int]:
    """(packets, frames) of a video stream decoded from its very first packet, errors raise."""
    packets = frames = 0
    with av.open(str(path)) as c:
        s = c.streams[stream_index]
        for packet in c.demux(s):
            if packet.size == 0:
                continue
            packets += 1
            got = s.codec_context.decode(packet)
            if packets == 1:
                assert got and got[0].key_frame, "first packet did not decode to a keyframe"
            frames += len(got)
    return packets, frames


async def test_two_participants_four_streams_in_sync(tmp_path, clips):
    asked = []
    path = tmp_path / "rec.webm"
    muxer = RecordingMuxer(path, container="webm", request_keyframe=asked.append)
    muxer.start()
    for name in ("a", "b"):
        muxer.add_track(f"{name}-v", "video/VP8", f"{name} (camera)")
        muxer.add_track(f"{name}-a", "audio/opus", f"{name} (microphone)")
    t0 = 1000.0
    evs = events("a", *clips["a"], t0, video_rtp0=WRAP - 90000, audio_rtp0=WRAP - 48000 * 2)
    # b's first 10 video frames arrive before any keyframe: the recorder must drop them and ask
    evs += events("b", *clips["b"], t0, video_rtp0=123, audio_rtp0=WRAP - 5, skip_video=10)
    feed(muxer, evs)
    result = await muxer.stop()

    assert result.status == "complete", result.error
    assert result.path == path and path.stat().st_size == result.size > 0
    assert "b-v" in asked
    with av.open(str(path)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "audio", "video", "video"]
        assert abs(c.duration / 1e6 - 5.0) < 0.5
    info = probe(path)
    assert info.finalized and abs(info.duration - 5.0) < 0.5
    idx = streams_by_track(path)
    for name, at in (("a", 2.0), ("b", 3.0)):
        packets, frames = first_decoded_ok(path, idx[f"{name}-v"])
        assert frames >= packets - 1 > 30
        flash, beep = flash_time(path, idx[f"{name}-v"]), beep_time(path, idx[f"{name}-a"])
        assert abs(flash - beep) < 0.1, (name, flash, beep)
        assert abs(flash - at) < 0.15, (name, flash)
    # b's video starts at its first keyframe (2 s into its clip), not before
    with av.open(str(path)) as c:
        assert abs(float(c.streams[idx["b-v"]].start_time * c.streams[idx["b-v"]].time_base) - 2.0) < 0.15
    # ffmpeg decodes the whole file without complaint
    run = ffmpeg_decode(path)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr


async def test_late_track_starts_at_its_true_offset(tmp_path, clips):
    path = tmp_path / "late.mkv"
    muxer = RecordingMuxer(path, container="matroska")
    muxer.start()
    muxer.add_track("a-v", "VP8", "a (camera)")
    muxer.add_track("a-a", "opus", "a (microphone)")
    t0 = 50.0
    evs = events("a", *clips["a"], t0, video_rtp0=5, audio_rtp0=77)
    late = events("late", *clips["late"], t0 + 3.0, video_rtp0=WRAP - 9000, audio_rtp0=WRAP - 4800)
    # the late publisher is announced only when its first frame is due, long after the header
    first_late = min(e[0] for e in late)
    announced = False
    for arrival, track, data, rtp, key in sorted(evs + late, key=lambda e: e[0]):
        if not announced and arrival >= first_late:
            muxer.add_track("late-v", "VP8", "late (camera)")
            muxer.add_track("late-a", "opus", "late (microphone)")
            announced = True
        muxer.push(track, data, rtp, key, arrival=arrival)
    result = await muxer.stop()

    assert result.status == "complete", result.error
    assert find_parts(path) == [path], "part files were not joined"
    idx = streams_by_track(path)
    assert set(idx) == {"a-v", "a-a", "late-v", "late-a"}
    with av.open(str(path)) as c:
        start = c.streams[idx["late-v"]].start_time * c.streams[idx["late-v"]].time_base
        assert abs(float(start) - 3.0) < 0.1
        assert abs(c.duration / 1e6 - 5.0) < 0.5
    flash, beep = flash_time(path, idx["late-v"]), beep_time(path, idx["late-a"])
    assert abs(flash - 4.0) < 0.15 and abs(flash - beep) < 0.1, (flash, beep)
    first_decoded_ok(path, idx["late-v"])
    first_decoded_ok(path, idx["a-v"])


async def test_write_error_fails_the_recording_only(clips):
    failures = []
    muxer = RecordingMuxer(Path("/dev/full"), container="matroska", on_failed=failures.append,
                           header_window_ms=0)
    muxer.start()
    muxer.add_track("a-v", "VP8")
    video, _ = clips["a"]
    for f in video:
        muxer.push("a-v", f.data, round(f.offset * 90000), f.keyframe, arrival=f.offset)
    result = await muxer.stop()
    assert result.status == "failed" and result.error
    assert failures == [result.error]
    muxer.push("a-v", video[0].data, 0, True)  # after failure: ignored, no exception


WRITER_SCRIPT = r"""
import asyncio, pickle, sys, time
from pathlib import Path
from media.recording import RecordingMuxer
clips = pickle.load(open(sys.argv[2], "rb"))
async def main():
    m = RecordingMuxer(Path(sys.argv[1]), container="webm")
    m.start()
    m.add_track("v", "VP8", "cam"); m.add_track("a", "opus", "mic")
    video, audio = clips
    evs = [(f.offset, "v", f.data, round(f.offset * 90000), f.keyframe) for f in video]
    evs += [(f.offset, "a", f.data, round(f.offset * 48000), True) for f in audio]
    start = time.monotonic()
    for at, track, data, rtp, key in sorted(evs, key=lambda e: e[0]):
        await asyncio.sleep(max(0.0, start + at / 2 - time.monotonic()))  # 2x real time
        m.push(track, data, rtp, key, arrival=start + at)
    print("fed all", flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


def _kill_9_once_grown(script: str, path: Path, blob: Path, *, watched: Path, sizes: int, **popen) -> None:
    """Run a writer script (args: output path, pickled clips) in a child process and kill -9 it
    once `watched` has been seen at `sizes` different sizes; it must not exit on its own first."""
    proc = subprocess.Popen([sys.executable, "-c", script, str(path), str(blob)],
                            cwd=Path(__file__).resolve().parents[2], **popen)
    try:
        deadline = time.monotonic() + 30
        seen = set()
        while time.monotonic() < deadline and len(seen) < sizes:
            assert proc.poll() is None, "writer died on its own"
            if watched.exists():
                seen.add(watched.stat().st_size)
            time.sleep(0.02)
        assert len(seen) >= sizes, seen
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)


def test_file_cut_by_kill_9_still_plays(tmp_path, clips):
    import pickle

    blob = tmp_path / "clips.pkl"
    blob.write_bytes(pickle.dumps(clips["a"]))
    path = tmp_path / "killed.webm"
    # kill once the header and two clusters (~1 s of media each) are on disk
    _kill_9_once_grown(WRITER_SCRIPT, path, blob, watched=path, sizes=3, stdout=subprocess.PIPE)
    probed = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                             str(path)], capture_output=True, text=True, timeout=30)
    assert probed.returncode == 0 and sorted(probed.stdout.split()) == ["opus", "vp8"], probed.stderr
    run = ffmpeg_decode(path)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr
    info = recover(path, "webm")
    assert info is not None and not info.finalized and info.duration > 0.5


async def test_a_writer_that_falls_behind_drops_frames_instead_of_blocking(tmp_path, clips):
    """The loop never waits for the disk: past max_queue frames in flight, frames are dropped,
    and the video track then waits for (and asks for) a keyframe so the file stays decodable."""
    asked = []
    path = tmp_path / "behind.mkv"
    muxer = RecordingMuxer(path, request_keyframe=asked.append, max_queue=40, header_window_ms=0)
    muxer.start()
    muxer.add_track("v", "VP8")
    video, _ = clips["a"]
    t0 = time.perf_counter()
    for f in video:   # no await: the batch cannot reach the writer, as if it were stuck
        muxer.push("v", f.data, round(f.offset * 90000), f.keyframe, arrival=f.offset)
    assert time.perf_counter() - t0 < 0.5
    # 40 in flight (the track announcement + 39 frames); then frame 39 is refused, and the
    # keyframes at 2 s and 4 s too; the deltas between are skipped while waiting for a keyframe
    assert muxer.dropped == 3
    assert asked.count("v") >= 2          # once at start, again after the drop
    result = await muxer.stop()
    assert result.status == "complete" and result.dropped_frames == muxer.dropped
    packets, frames = first_decoded_ok(path, 0)
    assert packets == 39 and frames >= 38


LATE_WRITER_SCRIPT = r"""
import asyncio, pickle, sys, time
from pathlib import Path
from media.recording import RecordingMuxer
(video, audio), (late_video, _) = pickle.load(open(sys.argv[2], "rb"))
async def main():
    m = RecordingMuxer(Path(sys.argv[1]), header_window_ms=500)
    m.start()
    m.add_track("v", "VP8", "cam"); m.add_track("a", "opus", "mic")
    evs = [(f.offset, "v", f.data, round(f.offset * 90000), f.keyframe) for f in video]
    evs += [(f.offset, "a", f.data, round(f.offset * 48000), True) for f in audio]
    evs += [(1.0 + f.offset, "late", f.data, round(f.offset * 90000), f.keyframe) for f in late_video]
    start = time.monotonic()
    for at, track, data, rtp, key in sorted(evs, key=lambda e: e[0]):
        await asyncio.sleep(max(0.0, start + at / 2 - time.monotonic()))  # 2x real time
        if track == "late" and at == 1.0:
            m.add_track("late", "VP8", "late cam")
        m.push(track, data, rtp, key, arrival=start + at)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


def test_kill_9_after_a_late_track_recovers_both_parts(tmp_path, clips):
    """A late track rotates to a second part file; after kill -9, recovery joins the parts."""
    import pickle

    blob = tmp_path / "clips.pkl"
    blob.write_bytes(pickle.dumps((clips["a"], clips["late"])))
    path = tmp_path / "parts.mkv"
    part1 = tmp_path / "parts.part1.mkv"
    _kill_9_once_grown(LATE_WRITER_SCRIPT, path, blob, watched=part1, sizes=2)   # part 1's header and a cluster
    assert find_parts(path) == [path, part1]
    info = recover(path, "matroska")
    assert info is not None and not info.finalized
    assert find_parts(path) == [path]
    assert sorted(s["trackId"] for s in info.streams) == ["a", "late", "v"]
    with av.open(str(path)) as c:
        late = next(s for s in c.streams if s.metadata.get("ANTECHAMBER_TRACK") == "late")
        assert abs(float(late.start_time * late.time_base) - 1.0) < 0.1
    run = ffmpeg_decode(path)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr


def test_a_silent_camera_does_not_hold_back_the_others(tmp_path, clips):
    """libavformat's interleaver would wait for a VP8 stream that stopped (muted camera,
    participant gone) and keep everything after in memory; the file on disk must keep up."""
    from media.recording.codecs import codec_info
    from media.recording.writer import RecordingWriter, TrackSpec

    (video, audio), (other, _) = clips["a"], clips["b"]
    path = tmp_path / "silent.mkv"
    w = RecordingWriter(path, "matroska", header_window_ms=500)
    w.add_track(TrackSpec("v", codec_info("VP8"), "still talking"))
    w.add_track(TrackSpec("a", codec_info("opus"), "mic"))
    w.add_track(TrackSpec("muted", codec_info("VP8"), "muted after 1 s"))
    evs = [(f.offset, "v", f) for f in video] + [(f.offset, "a", f) for f in audio]
    evs += [(f.offset, "muted", f) for f in other if f.offset < 1.0]
    for at, track, f in sorted(evs, key=lambda e: e[0]):
        if at > 4.0:
            break
        w.write(track, int(at * 1000), f.data, f.keyframe)
    # still open (as if the process died now): what is on disk already covers ~2 s and more
    # (without the fillers: only the first frame)
    with av.open(str(path)) as c:
        on_disk = [p for p in c.demux(c.streams.video[0]) if p.size]
    assert len(on_disk) >= 55, len(on_disk)
    result = w.close()
    with av.open(str(result.path)) as c:
        tags = {s.index: s.metadata["ANTECHAMBER_TRACK"] for s in c.streams}
        counts = dict.fromkeys(tags.values(), 0)
        for p in c.demux():
            if p.size:
                counts[tags[p.stream_index]] += 1
    assert counts["muted"] == 30 and counts["v"] >= 120    # the fillers are never written


async def test_h264_goes_into_matroska_in_sync_and_late(tmp_path, clips):
    from tests.helpers.encoded_media import h264_clip

    video, late_video = h264_clip(4, flash_at=2.0), h264_clip(2, flash_at=1.0, size=(640, 360))
    _, audio = clips["a"]   # its beep is at 2.0 s
    path = tmp_path / "h264.mkv"
    muxer = RecordingMuxer(path, container="matroska")
    muxer.start()
    muxer.add_track("h-v", "video/H264", "h (camera)")
    muxer.add_track("h-a", "audio/opus", "h (microphone)")
    evs = [(1.0 + f.offset + VIDEO_DELAY, "h-v", f.data, (WRAP - 900 + round(f.offset * 90000)) % WRAP, None)
           for f in video]
    evs += [(1.0 + f.offset + AUDIO_DELAY, "h-a", f.data, round(f.offset * 48000), True)
            for f in audio if f.offset < 4]
    late = [(3.0 + f.offset + VIDEO_DELAY, "late", f.data, round(f.offset * 90000), None) for f in late_video]
    announced = False
    for arrival, track, data, rtp, key in sorted(evs + late, key=lambda e: e[0]):
        if track == "late" and not announced:
            muxer.add_track("late", "H264", "late (camera)")
            announced = True
        muxer.push(track, data, rtp, key, arrival=arrival)   # keyframe=None: read from the bitstream
    result = await muxer.stop()
    assert result.status == "complete", result.error
    idx = streams_by_track(path)
    with av.open(str(path)) as c:
        assert c.streams[idx["h-v"]].codec_context.name == "h264"
        assert (c.streams[idx["late"]].width, c.streams[idx["late"]].height) == (640, 360)
        late_start = c.streams[idx["late"]].start_time * c.streams[idx["late"]].time_base
        assert abs(float(late_start) - 2.0) < 0.1       # 3 s arrival - 1 s origin
    flash, beep = flash_time(path, idx["h-v"]), beep_time(path, idx["h-a"])
    assert abs(flash - beep) < 0.1 and abs(flash - 2.0) < 0.15, (flash, beep)
    assert abs(flash_time(path, idx["late"]) - 3.0) < 0.15
    first_decoded_ok(path, idx["h-v"])
    first_decoded_ok(path, idx["late"])
    run = ffmpeg_decode(path)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr


def test_h264_camera_silent_when_a_late_track_arrives(tmp_path, clips):
    """A rotation to a new part while an H.264 camera sends nothing: the part still gets the
    camera's parameter sets (from a filler), and the joined file decodes cleanly."""
    from media.recording.codecs import codec_info
    from media.recording.writer import RecordingWriter, TrackSpec
    from tests.helpers.encoded_media import h264_clip

    cam, late = h264_clip(3), h264_clip(1, size=(640, 360))
    _, audio = clips["a"]
    path = tmp_path / "muted-h264.mkv"
    w = RecordingWriter(path, "matroska", header_window_ms=500)
    w.add_track(TrackSpec("cam", codec_info("H264"), "cam"))
    w.add_track(TrackSpec("mic", codec_info("opus"), "mic"))
    evs = [(f.offset, "cam", f) for f in cam if f.offset < 0.8]            # muted at 0.8 s
    evs += [(f.offset, "mic", f) for f in audio if f.offset < 3.0]
    evs += [(1.5 + f.offset, "late", f) for f in late]
    for at, track, f in sorted(evs, key=lambda e: e[0]):
        if track == "late" and "late" not in w._tracks:
            w.add_track(TrackSpec("late", codec_info("H264"), "late"))
        w.write(track, int(at * 1000), f.data, f.keyframe)
    result = w.close()
    assert result.parts == 2 and find_parts(path) == [path]
    idx = streams_by_track(path)
    assert first_decoded_ok(path, idx["cam"])[0] == 24
    first_decoded_ok(path, idx["late"])
    run = ffmpeg_decode(path)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr
