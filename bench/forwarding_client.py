"""Client process of bench/forwarding.py: P publishers sending pre-encoded VP8 + Opus-sized
packets and S subscribers counting what they receive (no decoding). Prints one JSON result.

    python bench/forwarding_client.py --url URL --mode forward|frame|relay --clip FILE \
        --publishers P --subscribers S
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TRAILER = struct.Struct("!QQ")  # frame index, send time (monotonic ns), appended to each video frame
FPS = 30
WINDOW = 5.0


# --- the benchmark client (a separate process) -------------------------------------------


class _Stream:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.packets = 0
        self.frames = 0
        self.indices: set[int] = set()
        self.latency_ms: list[float] = []
        self.ssrcs: set[int] = set()


async def client_main(args: argparse.Namespace) -> None:
    import aiohttp
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    from media.forwarding import Packer, Vp8Packer, attach_sender, tap_receiver
    from media.ice import prepare_gathering, rtc_configuration
    from media.ports import EncodedFrame

    clip = _read_clip(Path(args.clip))
    trailer = args.mode != "relay"
    base = args.url

    class VideoTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.index = 0  # frames sent
            self.pos = 0  # position in the clip
            self.start: float | None = None

        def keyframe(self) -> None:
            self.pos = 0

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            now = time.monotonic()
            if self.start is None:
                self.start = now
            wait = self.start + self.index / FPS - now
            if wait > 0:
                await asyncio.sleep(wait)
            data = clip[self.pos]
            if trailer:
                data = data + TRAILER.pack(self.index, time.monotonic_ns())
            frame = EncodedFrame(data, self.index * 3000, self.pos == 0, time.monotonic())
            self.index += 1
            self.pos = (self.pos + 1) % len(clip)
            return frame

    class AudioTrack(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.index = 0
            self.start: float | None = None

        async def recv(self) -> Any:
            now = time.monotonic()
            if self.start is None:
                self.start = now
            wait = self.start + self.index * 0.02 - now
            if wait > 0:
                await asyncio.sleep(wait)
            self.index += 1
            return EncodedFrame(b"\xfc" + bytes(99), self.index * 960, True, now)

    async with aiohttp.ClientSession() as http:
        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with http.post(base + path, json=body) as resp:
                resp.raise_for_status()
                return await resp.json()

        pcs: list[RTCPeerConnection] = []
        videos: list[VideoTrack] = []
        for i in range(args.publishers):
            pid = f"pub{i}"
            await post("/join", {"id": pid})
            pc = RTCPeerConnection(rtc_configuration(()))
            pcs.append(pc)
            video, audio = VideoTrack(), AudioTrack()
            videos.append(video)
            tv = pc.addTransceiver(video, direction="sendonly")
            attach_sender(tv.sender, Vp8Packer(), video.keyframe)
            ta = pc.addTransceiver(audio, direction="sendonly")
            attach_sender(ta.sender, Packer(), lambda: None)
            prepare_gathering(pc, loopback=True)
            await pc.setLocalDescription(await pc.createOffer())
            res = await post("/publish", {"id": pid, "sdp": pc.localDescription.sdp,
                                          "sources": {tv.mid: "camera", ta.mid: "microphone"}})
            await pc.setRemoteDescription(RTCSessionDescription(res["sdp"], "answer"))

        streams: list[_Stream] = []

        def on_frame(stream: _Stream, frame: Any) -> None:
            stream.frames += 1
            if trailer and stream.kind == "video":
                index, sent_ns = TRAILER.unpack_from(frame.data, len(frame.data) - TRAILER.size)
                stream.indices.add(index)
                stream.latency_ms.append((time.monotonic_ns() - sent_ns) / 1e6)

        async def subscriber(sid: str) -> None:
            await post("/join", {"id": sid})
            pc = RTCPeerConnection(rtc_configuration(()))
            pcs.append(pc)
            tapped: set[str] = set()
            while True:
                offer = await post("/offer", {"id": sid})
                await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
                for t in pc.getTransceivers():
                    if t.mid in offer["tracks"] and t.mid not in tapped:
                        tapped.add(t.mid)
                        stream = _Stream(offer["tracks"][t.mid])
                        streams.append(stream)

                        def on_rtp(packet: Any, stream: _Stream = stream) -> None:
                            stream.packets += 1
                            stream.ssrcs.add(packet.ssrc)

                        tap_receiver(t.receiver, lambda codec, f, s=stream: on_frame(s, f), lambda: None, on_rtp)
                prepare_gathering(pc, loopback=True)
                await pc.setLocalDescription(await pc.createAnswer())
                await post("/answer", {"id": sid, "sdp": pc.localDescription.sdp})
                if args.mode == "relay":
                    return

        tasks = [asyncio.ensure_future(subscriber(f"sub{j}")) for j in range(args.subscribers)]
        expected_streams = args.subscribers * args.publishers * 2
        t0 = time.monotonic()
        while not (len(streams) >= expected_streams and all(s.frames > 0 for s in streams)):
            if time.monotonic() - t0 > 120:
                raise SystemExit(json.dumps({"error": "streams did not start",
                                             "started": [(s.kind, s.frames, s.packets, sorted(s.ssrcs)) for s in streams], "want": expected_streams}))
            await asyncio.sleep(0.1)
        setup_s = time.monotonic() - t0
        await asyncio.sleep(2.0)  # warm-up

        def snapshot() -> dict[str, Any]:
            return {"packets": {k: sum(s.packets for s in streams if s.kind == k) for k in ("audio", "video")},
                    "frames": {k: sum(s.frames for s in streams if s.kind == k) for k in ("audio", "video")},
                    "cpu": time.process_time(), "wall": time.monotonic(), "sent": [v.index for v in videos]}

        for s in streams:
            s.latency_ms.clear()
        m0, c0 = await post("/mark", {}), snapshot()
        await asyncio.sleep(WINDOW)
        m1, c1 = await post("/mark", {}), snapshot()
        await asyncio.sleep(0.5)  # frames in flight at the end of the window
        wall = m1["wall"] - m0["wall"]
        video = [s for s in streams if s.kind == "video"]
        sent_frames = sum(c1["sent"][i] - c0["sent"][i] for i in range(len(videos))) / len(videos)
        if trailer:
            # every publisher's frame indices run in step (same start, same rate): count the
            # indices sent by all publishers during the window, per subscribed stream
            lo, hi = max(c0["sent"]), min(c1["sent"])
            got = sum(len([i for i in s.indices if lo <= i < hi]) for s in video)
            want = (hi - lo) * len(video)
        else:
            got = c1["frames"]["video"] - c0["frames"]["video"]
            want = sent_frames * len(video)
        lat = sorted(x for s in video for x in s.latency_ms)
        srv = sorted(m1["latency"])
        result = {
            "mode": args.mode, "publishers": args.publishers, "subscribers": args.subscribers,
            "video_streams": len(video), "audio_streams": len(streams) - len(video),
            "setup_s": round(setup_s, 2), "window_s": round(wall, 2),
            "server_cpu_cores": round((m1["cpu"] - m0["cpu"]) / wall, 4),
            "client_cpu_cores": round((c1["cpu"] - c0["cpu"]) / (c1["wall"] - c0["wall"]), 4),
            "video_packets_per_s": round((c1["packets"]["video"] - c0["packets"]["video"]) / wall, 1),
            "audio_packets_per_s": round((c1["packets"]["audio"] - c0["packets"]["audio"]) / wall, 1),
            "video_frame_loss": round(max(0.0, 1 - got / want), 5) if want else None,
            "e2e_latency_ms_p50": _pct(lat, 50), "e2e_latency_ms_p99": _pct(lat, 99),
            "server_latency_ms_p50": _pct(srv, 50), "server_latency_ms_p99": _pct(srv, 99),
            "machine_load_1min": round(os.getloadavg()[0], 2),
        }
        for t in tasks:
            t.cancel()
        for pc in pcs:
            await pc.close()
        print(json.dumps(result), flush=True)


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * p / 100))], 2)


def _write_clip(frames: list[bytes], path: Path) -> None:
    with path.open("wb") as f:
        for fr in frames:
            f.write(struct.pack("!I", len(fr)) + fr)


def _read_clip(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("!I", data, pos)
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", default="forward")
    parser.add_argument("--clip", required=True)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--subscribers", type=int, default=1)
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    asyncio.run(client_main(args))


if __name__ == "__main__":
    main()
