"""Composition benchmark: CPU per minute of recording for the composed MP4, and whether live
forwarding loses anything while a composition runs beside it.

    python bench/compose.py [--quick] [--out bench/results/compose.json]

1. A synthetic recording as the recorder writes it (media/recording/writer.py): P participants,
   each 640x360 VP8 at 30 fps (~1 Mbit/s, moving picture) and Opus audio, S seconds long.
2. CPU: ``python -m media.recording.compose`` on it, unpaced and at normal priority; CPU seconds
   of the child (user + system) per minute of recording, and the wall time.
3. Forwarding: bench/forwarding.py's SFU server and client (2 publishers, 3 subscribers, ~1 Mbit/s
   each), once alone and once while the composer runs as the server runs it (nice 10, at most 4x
   real time, in a loop so it covers the whole measuring window); packet and frame loss of each.
"""

from __future__ import annotations

import argparse
import fractions
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402
import numpy as np  # noqa: E402

from bench.forwarding import CLIENT, _loss, encode_clip  # noqa: E402
from bench.forwarding_client import _write_clip  # noqa: E402
from media.recording.codecs import codec_info  # noqa: E402
from media.recording.writer import RecordingWriter, TrackSpec  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FORWARDING = ROOT / "bench" / "forwarding.py"
COLOURS = [(220, 40, 40), (40, 60, 220), (40, 200, 60), (230, 200, 40)]


def make_recording(path: Path, participants: int, seconds: float) -> None:
    writer = RecordingWriter(path, "matroska", header_window_ms=0)
    events = []
    for i in range(participants):
        pid = f"p{i}"
        writer.add_track(TrackSpec(f"{pid}-v", codec_info("VP8"), f"Person {i + 1} (camera)", pid, f"Person {i + 1}",
                                   "camera"))
        writer.add_track(TrackSpec(f"{pid}-a", codec_info("opus"), f"Person {i + 1} (microphone)", pid,
                                   f"Person {i + 1}", "microphone"))
        venc = av.CodecContext.create("libvpx", "w")
        venc.width, venc.height, venc.pix_fmt = 640, 360, "yuv420p"
        venc.bit_rate, venc.time_base, venc.gop_size = 1_000_000, fractions.Fraction(1, 30), 300
        venc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        img = np.zeros((360, 640, 3), np.uint8)
        for k in range(int(seconds * 30)):
            img[:] = COLOURS[i % len(COLOURS)]
            x = (k * 6) % 560
            img[140:220, x:x + 80] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts = k
            for p in venc.encode(frame):
                events.append((int(k * 1000 / 30), f"{pid}-v", bytes(p), p.is_keyframe))
        aenc = av.CodecContext.create("libopus", "w")
        aenc.sample_rate, aenc.layout, aenc.format = 48000, "mono", "s16"
        aenc.bit_rate = 32000
        speaking = (i * seconds / participants, (i + 1) * seconds / participants)
        for k in range(int(seconds * 50)):
            t = k * 0.02
            n = np.arange(960) + k * 960
            amp = 0.4 if speaking[0] <= t < speaking[1] else 0.01
            pcm = (amp * 32767 * np.sin(2 * np.pi * (300 + 100 * i) * n / 48000)).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, k * 960
            for p in aenc.encode(frame):
                events.append((int(round(t * 1000)), f"{pid}-a", bytes(p), True))
    for ms, track, data, key in sorted(events, key=lambda e: e[0]):
        writer.write(track, ms, data, key)
    writer.close()


def compose_cpu(src: Path, dst: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "media.recording.compose", str(src), str(dst)],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = json.loads(proc.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"recording_seconds": done["duration"], "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2),
            "cpu_seconds_per_recording_minute": round(cpu / done["duration"] * 60, 1), "encoder": done["encoder"],
            "composed_bytes": done["size"]}


def forwarding_run(url: str, clip: Path, publishers: int, subscribers: int) -> dict:
    proc = subprocess.run([sys.executable, str(CLIENT), "--url", url, "--mode", "forward", "--clip", str(clip),
                           "--publishers", str(publishers), "--subscribers", str(subscribers)],
                          capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"error": proc.stderr[-2000:]}
    urllib.request.urlopen(urllib.request.Request(url + "/reset", data=b"{}", method="POST")).read()
    keep = ("video_streams", "video_packet_loss", "video_frame_loss", "audio_packet_loss", "server_cpu_cores",
            "latency_ms_p50", "latency_ms_p99", "error")
    return {k: v for k, v in result.items() if k in keep or k.startswith("latency")}


def forwarding_with_composer(src: Path, workdir: Path, publishers: int, subscribers: int) -> dict:
    clip = workdir / "clip.bin"
    _write_clip(encode_clip(), clip)
    port_file = workdir / "forward.port"
    server = subprocess.Popen([sys.executable, str(FORWARDING), "--serve", "forward", "--port-file", str(port_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        t0 = time.monotonic()
        while not port_file.exists() or not port_file.read_text():
            if server.poll() is not None or time.monotonic() - t0 > 30:
                raise RuntimeError("forwarding server did not start")
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        alone = forwarding_run(url, clip, publishers, subscribers)
        stop = threading.Event()
        current: list[subprocess.Popen] = []

        def compose_again_and_again() -> None:   # paced and niced, as the server runs it
            while not stop.is_set():
                current[:] = [subprocess.Popen([sys.executable, "-m", "media.recording.compose", str(src),
                                                str(workdir / "loop.mp4"), "--speed", "4", "--nice", "10"],
                                               stdout=subprocess.DEVNULL, cwd=ROOT)]
                current[0].wait()
        runner = threading.Thread(target=compose_again_and_again)
        runner.start()
        try:
            beside = forwarding_run(url, clip, publishers, subscribers)
        finally:
            stop.set()
            for proc in current:
                proc.kill()
            runner.join()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"alone": alone, "while_composing": beside,
            "loss_alone": _loss(alone), "loss_while_composing": _loss(beside)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "compose.json"))
    args = parser.parse_args()
    seconds = 20.0 if args.quick else 60.0
    with tempfile.TemporaryDirectory(prefix="compose-bench-") as tmp:
        work = Path(tmp)
        src = work / "rec.mkv"
        make_recording(src, 3, seconds)
        cpu = compose_cpu(src, work / "rec.mp4")
        print(json.dumps(cpu), flush=True)
        fwd = forwarding_with_composer(src, work, 2, 3)
        print(json.dumps(fwd), flush=True)
    report = {
        "what": "composed MP4 (media/recording/compose.py): 3 participants, 640x360 VP8 30 fps + Opus each, "
                "rendered to 1280x720 H.264 15 fps + AAC; forwarding: bench/forwarding.py's SFU, 2 publishers x "
                "3 subscribers, alone and beside the composer as the server runs it (nice 10, <= 4x real time)",
        "machine": {"cpus": os.cpu_count()},
        "cpu": cpu, "forwarding": fwd,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
