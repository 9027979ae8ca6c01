"""Recording benchmark: CPU per recorded stream (target < 1 % of a core for 1 Mbit/s video).

    python bench/recording.py [--quick] [--out bench/results/recording.json]

Pre-encodes ~1 Mbit/s VP8 video (640x360, 30 fps) and 64 kbit/s Opus with PyAV,
then pushes N video streams (each with an audio stream) through the recorder
exactly as the SFU does (RecordingMuxer.push on the event loop, writer thread,
Matroska file on disk) in two modes:

* paced: frames delivered in real time (30 fps / 50 pps per stream) for a few
  seconds; CPU = process CPU time / wall time, minus an idle baseline of the
  same loop without the recorder.
* burst: all frames as fast as possible; CPU per media second = process CPU
  time / recorded media seconds (the cost of the recorder alone).

Results: JSON (bench/results/recording.json) and, if matplotlib is installed,
a plot next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402
import numpy as np  # noqa: E402

from media.recording import RecordingMuxer  # noqa: E402

FPS = 30


def encode_video(seconds: float, bitrate: int = 650_000, size=(640, 360)) -> list[tuple[bytes, bool]]:
    w, h = size
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base = fractions.Fraction(1, FPS)
    enc.framerate = FPS
    enc.bit_rate = bitrate
    enc.gop_size = 3 * FPS
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "end-usage": "cbr"}
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    out = []
    for i in range(int(seconds * FPS)):
        img = np.kron(np.roll(base, i, axis=1), np.ones((8, 8, 1), dtype=np.uint8))
        noise = rng.integers(0, 24, img.shape, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(img + noise, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out += [(bytes(p), p.is_keyframe) for p in enc.encode(frame)]
    out += [(bytes(p), p.is_keyframe) for p in enc.encode(None)]
    return out


def encode_audio(seconds: float) -> list[bytes]:
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "stereo", "s16", 64000
    rng = np.random.default_rng(2)
    out = []
    for i in range(int(seconds * 50)):
        pcm = (rng.standard_normal(1920) * 3000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48000, i * 960
        out += [bytes(p) for p in enc.encode(frame)]
    return out


def schedule(video, audio, streams: int, seconds: float):
    """(media time, track, data, rtp, keyframe) for every frame of every stream, in time order."""
    evs = []
    for s in range(streams):
        for i in range(int(seconds * FPS)):
            data, key = video[i % len(video)]
            evs.append((i / FPS, f"v{s}", data, (i * 3000 + s * 7777) & 0xFFFFFFFF, key or i == 0))
        for i in range(int(seconds * 50)):
            evs.append((i / 50, f"a{s}", audio[i % len(audio)], (i * 960 + s * 555) & 0xFFFFFFFF, True))
    evs.sort(key=lambda e: e[0])
    return evs


async def run_once(evs, streams: int, seconds: float, paced: bool, record: bool, out_dir: Path) -> dict:
    muxer = None
    if record:
        muxer = RecordingMuxer(out_dir / f"bench-{streams}-{int(paced)}-{time.monotonic_ns()}.mkv",
                               max_queue=20000)
        muxer.start()
        for s in range(streams):
            muxer.add_track(f"v{s}", "VP8", f"stream {s}")
            muxer.add_track(f"a{s}", "opus", f"stream {s}")
    cpu0, wall0 = time.process_time(), time.monotonic()
    if paced:
        i = 0
        while i < len(evs):
            now = time.monotonic() - wall0
            while i < len(evs) and evs[i][0] <= now:
                at, track, data, rtp, key = evs[i]
                if muxer:
                    muxer.push(track, data, rtp, key, arrival=wall0 + at)
                i += 1
            if i < len(evs):
                await asyncio.sleep(max(0.0, evs[i][0] - (time.monotonic() - wall0)))
    else:
        for at, track, data, rtp, key in evs:
            muxer.push(track, data, rtp, key, arrival=wall0 + at)
    result = await muxer.stop(timeout=60) if muxer else None
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    out = {"cpu_seconds": round(cpu, 4), "wall_seconds": round(wall, 3)}
    if result is not None:
        out.update(status=result.status, file_bytes=result.size, dropped=result.dropped_frames,
                   duration=result.duration)
        if result.path:
            Path(result.path).unlink(missing_ok=True)
    return out


async def join_parts(video, audio, seconds: int, out_dir: Path) -> dict:
    """A second participant arrives 5 s in: the file has two parts, joined when recording stops.
    Measures stop() (write what is queued + join) for two streams of `seconds` each."""
    evs = schedule(video, audio, 2, seconds)
    evs = [(at + (5.0 if track.endswith("1") else 0.0), track, data, rtp, key) for at, track, data, rtp, key in evs]
    evs.sort(key=lambda e: e[0])
    muxer = RecordingMuxer(out_dir / "join.mkv", max_queue=10**7)
    muxer.start()
    muxer.add_track("v0", "VP8")
    muxer.add_track("a0", "opus")
    late = False
    for at, track, data, rtp, key in evs:
        if track.endswith("1") and not late:
            muxer.add_track("v1", "VP8")
            muxer.add_track("a1", "opus")
            late = True
        muxer.push(track, data, rtp, key, arrival=at)
    t0 = time.monotonic()
    result = await muxer.stop(timeout=3600)
    took = time.monotonic() - t0
    if result.path:
        Path(result.path).unlink(missing_ok=True)
    return {"participants": 2, "media_seconds_each": seconds, "file_bytes": result.size, "status": result.status,
            "stop_seconds_write_and_join": round(took, 2),
            "seconds_per_participant_hour": round(took / (2 * seconds / 3600), 2)}


async def main_async(args) -> dict:
    clip = 6 if args.quick else 10
    paced_seconds = 5 if args.quick else 15
    burst_seconds = 60 if args.quick else 300
    counts = [1, 4] if args.quick else [1, 2, 4, 8]
    video, audio = encode_video(clip), encode_audio(clip)
    video_kbps = sum(len(d) for d, _ in video) * 8 / clip / 1000
    results = {"video_kbit_per_s": round(video_kbps, 1), "audio_kbit_per_s": 64, "paced": [], "burst": [],
               "cores": os.cpu_count(), "python": sys.version.split()[0], "av": av.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        for n in counts:
            evs = schedule(video, audio, n, paced_seconds)
            idle = await run_once(evs, n, paced_seconds, paced=True, record=False, out_dir=out_dir)
            rec = await run_once(evs, n, paced_seconds, paced=True, record=True, out_dir=out_dir)
            extra = max(0.0, rec["cpu_seconds"] - idle["cpu_seconds"])
            results["paced"].append({
                "streams": n, "idle_loop": idle, "recording": rec,
                "core_percent_total": round(100 * extra / rec["wall_seconds"], 3),
                "core_percent_per_stream": round(100 * extra / rec["wall_seconds"] / n, 3),
            })
            evs = schedule(video, audio, n, burst_seconds)
            burst = await run_once(evs, n, burst_seconds, paced=False, record=True, out_dir=out_dir)
            results["burst"].append({
                "streams": n, "media_seconds": burst_seconds, **burst,
                "core_percent_per_stream": round(100 * burst["cpu_seconds"] / burst_seconds / n, 3),
            })
            print(json.dumps({"streams": n, "paced": results["paced"][-1]["core_percent_per_stream"],
                              "burst": results["burst"][-1]["core_percent_per_stream"]}), flush=True)
        results["join_parts"] = await join_parts(video, audio, 60 if args.quick else 600, out_dir)
        print(json.dumps({"join_parts": results["join_parts"]}), flush=True)
    worst = max(r["core_percent_per_stream"] for r in results["burst"])
    results["target_core_percent_per_stream"] = 1.0
    results["meets_target"] = worst < 1.0
    return results


def plot(results: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode in ("paced", "burst"):
        ax.plot([r["streams"] for r in results[mode]], [r["core_percent_per_stream"] for r in results[mode]],
                marker="o", label=mode)
    ax.axhline(1.0, color="red", linestyle="--", label="target")
    ax.set_xlabel("recorded video+audio streams")
    ax.set_ylabel("% of one core per stream")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "recording.json"))
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    results = asyncio.run(main_async(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
