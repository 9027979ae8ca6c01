"""Forwarding benchmark: server CPU per forwarded stream, throughput, loss, latency.

    python bench/forwarding.py [--quick] [--out bench/results/forwarding.json]

This process runs the SFU (uvloop) behind a tiny HTTP control API on
127.0.0.1; for each step a separate client process (`--client`) starts P
publishers that send pre-encoded ~1 Mbit/s VP8 video (640x360, 30 fps) plus
Opus-sized audio packets, and S subscribers that count the RTP packets they
receive (no jitter buffer, no decoding). Each video frame carries a 16-byte
trailer (frame index, send time) so the client measures frame loss and
end-to-end latency; the server records the time from a video packet reaching
its RTP handler to its copy being sent to the last subscriber ("server"
latency).

Reports written before the frame-level path was removed also hold a
"forward_frame_level" series; `--plot-only` still draws it.

The same run measures a baseline: aiortc's decode -> MediaRelay -> re-encode
pattern (plain RTCPeerConnection, VP8 decoded once per publisher and encoded
once per subscriber), with clean (trailer-free) frames.

Results: JSON (bench/results/forwarding.json) and, if matplotlib is
installed, a plot next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.forwarding_client import FPS, _write_clip  # noqa: E402

CLIENT = Path(__file__).resolve().parent / "forwarding_client.py"


# --- media fixtures ----------------------------------------------------------------


def encode_clip(width: int = 640, height: int = 360, frames: int = 150, bitrate: int = 1_000_000) -> list[bytes]:
    import av
    import numpy as np

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = fractions.Fraction(1, FPS)
    codec.gop_size = 10_000
    codec.thread_count = 1  # with "good" (not "realtime") this makes the clip reproducible: ~0.99 Mbit/s
    codec.options = {"deadline": "good", "lag-in-frames": "0", "cpu-used": "5", "minrate": str(bitrate),
                     "maxrate": str(bitrate), "bufsize": str(bitrate)}
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    out: list[bytes] = []
    for i in range(frames):
        image = np.roll(base, i * 4, axis=1)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out.extend(bytes(p) for p in codec.encode(frame))
    out.extend(bytes(p) for p in codec.encode(None))
    return out[:frames]


# --- server -------------------------------------------------------------------------


def run_server_app(mode: str, port_file: Path) -> None:
    import uvloop
    from aiohttp import web

    uvloop.install()
    app = web.Application()
    state: dict[str, Any] = {"latency": []}
    if mode == "forward":
        setup_forward(app, state)
    else:
        setup_relay(app, state)

    async def mark(request: web.Request) -> web.Response:
        lat, state["latency"] = state["latency"], []
        stats = state.get("stats", lambda: None)()
        return web.json_response({"cpu": time.process_time(), "wall": time.monotonic(), "latency": lat[-20000:],
                                  "stats": stats})

    app.router.add_post("/mark", mark)

    async def start() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        port_file.write_text(str(port))
        await asyncio.Event().wait()

    asyncio.run(start())


def setup_forward(app: Any, state: dict[str, Any]) -> None:
    from aiohttp import web

    import media.publication as publication
    from media.ports import MediaConfig, SubscribeOffer
    from media.sfu import MediaService

    original_forward = publication.Publication._forward

    def timed_forward(self: Any, packet: Any) -> None:
        started = time.perf_counter()
        original_forward(self, packet)
        if self.kind == "video":
            state["latency"].append((time.perf_counter() - started) * 1000)

    # bench-only instrumentation
    publication.Publication._forward = timed_forward
    service = MediaService(MediaConfig(loopback_candidates=True))
    queues: dict[str, asyncio.Queue] = {}

    def stats() -> Any:
        room = service.get_room("bench")
        if room is None:
            return None
        return {p.id: {"frames_in": p.frames_in, "forwarded": {k: v.forwarded for k, v in p.subscribers.items()},
                       "dropped": {k: v.dropped for k, v in p.subscribers.items()}}
                for p in room.pubs.values()}

    state["stats"] = stats

    async def join(request: web.Request) -> web.Response:
        d = await request.json()
        q: asyncio.Queue = asyncio.Queue()
        queues[d["id"]] = q
        service.open_room("bench").add_participant(
            d["id"], frozenset({"audio", "video", "screen"}),
            lambda e: q.put_nowait(e) if isinstance(e, SubscribeOffer) else None)
        return web.json_response({})

    async def publish(request: web.Request) -> web.Response:
        d = await request.json()
        return web.json_response({"sdp": await service.open_room("bench").publish(d["id"], d["sdp"], d["sources"])})

    async def offer(request: web.Request) -> web.Response:
        d = await request.json()
        e = await queues[d["id"]].get()
        return web.json_response({"sdp": e.sdp, "tracks": {m: i.kind for m, i in e.tracks.items()}})

    async def answer(request: web.Request) -> web.Response:
        d = await request.json()
        await service.open_room("bench").subscribe_answer(d["id"], d["sdp"])
        return web.json_response({})

    async def reset(request: web.Request) -> web.Response:
        room = service.get_room("bench")
        if room is not None:
            await room.close()
        queues.clear()
        return web.json_response({})

    app.router.add_post("/join", join)
    app.router.add_post("/publish", publish)
    app.router.add_post("/offer", offer)
    app.router.add_post("/answer", answer)
    app.router.add_post("/reset", reset)


def setup_relay(app: Any, state: dict[str, Any]) -> None:
    """Baseline: aiortc's documented relay pattern (decode once, encode per subscriber)."""
    from aiohttp import web
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRelay

    from media.ice import prepare_gathering, rtc_configuration

    pcs: dict[str, RTCPeerConnection] = {}
    tracks: list[Any] = []
    relay_box: dict[str, Any] = {"relay": MediaRelay()}

    def new_pc(pid: str) -> RTCPeerConnection:
        pc = RTCPeerConnection(rtc_configuration(()))
        pcs[pid] = pc
        return pc

    async def join(request: web.Request) -> web.Response:
        return web.json_response({})

    async def publish(request: web.Request) -> web.Response:
        d = await request.json()
        pc = new_pc(d["id"] + "/pub")
        pc.on("track", lambda t: tracks.append(t))
        await pc.setRemoteDescription(RTCSessionDescription(d["sdp"], "offer"))
        prepare_gathering(pc, loopback=True)
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp})

    async def offer(request: web.Request) -> web.Response:
        d = await request.json()
        pc = new_pc(d["id"] + "/sub")
        kinds = {}
        for t in tracks:
            pc.addTransceiver(relay_box["relay"].subscribe(t), direction="sendonly")
        prepare_gathering(pc, loopback=True)
        await pc.setLocalDescription(await pc.createOffer())
        for t in pc.getTransceivers():
            kinds[t.mid] = t.kind
        return web.json_response({"sdp": pc.localDescription.sdp, "tracks": kinds})

    async def answer(request: web.Request) -> web.Response:
        d = await request.json()
        await pcs[d["id"] + "/sub"].setRemoteDescription(RTCSessionDescription(d["sdp"], "answer"))
        return web.json_response({})

    async def reset(request: web.Request) -> web.Response:
        for pc in list(pcs.values()):
            await pc.close()
        pcs.clear()
        tracks.clear()
        relay_box["relay"] = MediaRelay()
        return web.json_response({})

    app.router.add_post("/join", join)
    app.router.add_post("/publish", publish)
    app.router.add_post("/offer", offer)
    app.router.add_post("/answer", answer)
    app.router.add_post("/reset", reset)


# --- orchestration ---------------------------------------------------------------------


def run_mode(mode: str, publishers: int, steps: list[int], clip: Path, workdir: Path) -> list[dict[str, Any]]:
    import urllib.request

    port_file = workdir / f"{mode}.port"
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, __file__, "--serve", mode, "--port-file", str(port_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: list[dict[str, Any]] = []
    try:
        t0 = time.monotonic()
        while not port_file.exists() or not port_file.read_text():
            if server.poll() is not None or time.monotonic() - t0 > 30:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        for subscribers in steps:
            proc = subprocess.run(
                [sys.executable, str(CLIENT), "--url", url, "--mode", mode, "--clip", str(clip),
                 "--publishers", str(publishers), "--subscribers", str(subscribers)],
                capture_output=True, text=True, timeout=300)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            result = json.loads(lines[-1]) if lines else {"error": proc.stderr[-2000:]}
            if os.environ.get("BENCH_DEBUG"):
                print(proc.stderr[-3000:], file=sys.stderr)
            result.setdefault("subscribers", subscribers)
            results.append(result)
            print(json.dumps(result), flush=True)
            urllib.request.urlopen(urllib.request.Request(url + "/reset", data=b"{}", method="POST")).read()
            loss = _loss(result)
            if "error" in result or (loss is not None and loss > 0.01) or result.get("server_cpu_cores", 0) > 0.95:
                break
    finally:
        server.terminate()
        server.wait(timeout=10)
        port_file.unlink(missing_ok=True)
    return results


def _loss(row: dict[str, Any]) -> float:
    return max(row.get("video_packet_loss") or 0, row.get("video_frame_loss") or 0)


def summarise(forward: list[dict[str, Any]], relay: list[dict[str, Any]]) -> dict[str, Any]:
    def per_core(rows: list[dict[str, Any]]) -> dict[str, Any]:
        ok = [r for r in rows if "error" not in r and _loss(r) <= 0.01 and r["video_streams"]]
        if not ok:
            return {}
        best = max(ok, key=lambda r: r["video_streams"])
        cpu_pct = [100 * r["server_cpu_cores"] / r["video_streams"] for r in ok]
        return {
            "max_streams_without_loss": best["video_streams"],
            "server_cpu_cores_at_max": best["server_cpu_cores"],
            "streams_per_core_at_max": round(best["video_streams"] / max(best["server_cpu_cores"], 1e-9), 1),
            "cpu_pct_per_stream_at_max": round(100 * best["server_cpu_cores"] / best["video_streams"], 3),
            "cpu_pct_per_stream_min": round(min(cpu_pct), 3),
        }

    f, r = per_core(forward), per_core(relay)
    ratio = None
    if f and r:
        ratio = round(f["streams_per_core_at_max"] / r["streams_per_core_at_max"], 1)
    return {"forward": f, "relay_baseline": r, "streams_per_core_vs_baseline": ratio}


def plot(report: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    series = [("forward, packet level", report["forward"]),
              ("forward, frame level (removed)", report.get("forward_frame_level", [])),
              ("relay (decode+encode)", report["relay_baseline"])]
    for mode, rows in series:
        rows = [x for x in rows if "error" not in x]
        if not rows:
            continue
        flowing = [x for x in rows if x["video_packets_per_s"] > 0]  # a collapsed step has no CPU to show
        xs = [x["video_streams"] for x in flowing]
        axes[0].plot(xs, [100 * x["server_cpu_cores"] for x in flowing], "o-", label=mode)
        axes[1].plot(xs, [100 * x["server_cpu_cores"] / x["video_streams"] for x in flowing], "o-", label=mode)
        axes[2].plot([x["video_streams"] for x in rows], [100 * _loss(x) for x in rows], "o-", label=mode)
    axes[0].set(xlabel="forwarded video streams", ylabel="server CPU (% of a core)", title="Server CPU")
    axes[1].set(xlabel="forwarded video streams", ylabel="% of a core per stream", title="CPU per ~1 Mbit/s stream")
    axes[2].set(xlabel="forwarded video streams", ylabel="video loss (%, packets or frames)", title="Loss")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=["forward", "relay"])
    parser.add_argument("--port-file")
    parser.add_argument("--quick", action="store_true", help="few small steps (smoke run)")
    parser.add_argument("--steps", help="comma-separated subscriber counts for the forwarding run")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "forwarding.json"))
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot of an existing report")
    args = parser.parse_args()
    if args.plot_only:
        plot(json.loads(Path(args.out).read_text()), Path(args.out).with_suffix(".png"))
        return
    if args.serve:
        run_server_app(args.serve, Path(args.port_file))
        return

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    clip_path = out.parent / "clip.vp8frames"
    clip = encode_clip()
    _write_clip(clip, clip_path)
    bitrate = sum(len(c) for c in clip) * 8 / (len(clip) / FPS)
    print(f"clip: {len(clip)} frames, {bitrate / 1e6:.2f} Mbit/s", flush=True)
    if args.steps:
        fwd_steps = [int(x) for x in args.steps.split(",")]
    else:
        fwd_steps = [1, 5, 10] if args.quick else [1, 10, 25, 50, 75, 100, 125]
    relay_steps = [1, 2] if args.quick else [1, 2, 4, 8, 12]
    forward = run_mode("forward", 2, fwd_steps, clip_path, out.parent)
    relay = run_mode("relay", 1, relay_steps, clip_path, out.parent)
    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "clip": {"codec": "VP8", "width": 640, "height": 360, "fps": FPS, "mbit_per_s": round(bitrate / 1e6, 3)},
        "notes": [
            "video_streams = publishers x subscribers; each video stream comes with an Opus-sized audio stream "
            "(50 packets/s), whose forwarding cost is included in the per-stream CPU.",
            "server_cpu_cores: process CPU time of the SFU process / wall time over the measurement window.",
            "video_packet_loss / audio_packet_loss: gaps in each subscriber stream's RTP sequence numbers "
            "during the window; video_frame_loss: frames whose first packet (carrying the frame index) never "
            "arrived (forward modes) or frames missing against the publisher's rate (relay).",
            "forward = the SFU's packet-level forwarding (media/forward/packet.py).",
            "server_latency: a video packet reaching the SFU's RTP handler -> its copy sent to the last "
            "subscriber.",
            "e2e_latency: publisher hands a frame to its sender -> the frame's first packet reaches the "
            "subscriber's RTP handler (loopback; subscribers count packets without a jitter buffer).",
            "Clients run in a separate process on the same 2-core machine and compete with the server for CPU.",
        ],
        "forward": forward,
        "relay_baseline": relay,
        "summary": summarise(forward, relay),
    }
    out.write_text(json.dumps(report, indent=2))
    clip_path.unlink(missing_ok=True)
    plotted = plot(report, out.with_suffix(".png"))
    print(json.dumps(report["summary"], indent=2))
    print(f"wrote {out}" + (f" and {out.with_suffix('.png')}" if plotted else ""))


if __name__ == "__main__":
    main()
