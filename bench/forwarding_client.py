"""Client process of bench/forwarding.py: P publishers sending pre-encoded VP8 + Opus-sized
packets and S subscribers counting what they receive (no decoding). Prints one JSON result.

    python bench/forwarding_client.py --url URL --mode forward|relay --clip FILE \
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

# frame index + send time (monotonic ns), written into each video frame at TRAILER_AT: always in the
# frame's first RTP packet, after the VP8 frame tag the SFU looks at (nobody decodes these frames)
TRAILER = struct.Struct("!QQ")
TRAILER_AT = 10
FPS = 30
WINDOW = 5.0
DEBUG = bool(os.environ.get("BENCH_DEBUG"))


# --- the benchmark client (a separate process) -------------------------------------------


class _Stream:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.packets = 0
        self.frames = 0
        self.indices: set[int] = set()
        self.latency_ms: list[float] = []
        self.ssrcs: set[int] = set()
        self.max_seq: int | None = None  # highest sequence number, unwrapped

    def add(self, seq: int) -> None:
        self.packets += 1
        if self.max_seq is None:
            self.max_seq = seq
            return
        diff = ((seq - self.max_seq + 0x8000) & 0xFFFF) - 0x8000
        if diff > 0:
            self.max_seq += diff


async def client_main(args: argparse.Namespace) -> None:
    import aiohttp
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    from media.aiortc_compat import rtp_only, send_preencoded
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
                stamp = TRAILER.pack(self.index, time.monotonic_ns())
                data = data[:TRAILER_AT] + stamp + data[TRAILER_AT + TRAILER.size:]
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
            send_preencoded(tv.sender, "video/VP8", video.keyframe)
            ta = pc.addTransceiver(audio, direction="sendonly")
            send_preencoded(ta.sender, "audio/opus", lambda: None)
            prepare_gathering(pc, loopback=True)
            await pc.setLocalDescription(await pc.createOffer())
            res = await post("/publish", {"id": pid, "sdp": pc.localDescription.sdp,
                                          "sources": {tv.mid: "camera", ta.mid: "microphone"}})
            await pc.setRemoteDescription(RTCSessionDescription(res["sdp"], "answer"))

        streams: list[_Stream] = []

        def light_receiver(receiver: Any, stream: _Stream) -> None:
            """Count packets and frames straight from the RTP handler: no jitter buffer, no
            depayloading, no decoder (the client must stay cheaper than the server)."""

            def handle(packet: Any) -> None:
                stream.add(packet.sequence_number)
                if stream.kind != "video":
                    stream.frames += 1
                elif packet.marker:
                    stream.frames += 1
                if trailer and stream.kind == "video":
                    start = vp8_frame_start(packet.payload)
                    if start is not None and len(packet.payload) >= start + TRAILER_AT + TRAILER.size:
                        index, sent_ns = TRAILER.unpack_from(packet.payload, start + TRAILER_AT)
                        stream.indices.add(index)
                        stream.latency_ms.append((time.monotonic_ns() - sent_ns) / 1e6)

            rtp_only(receiver, handle)

        async def subscriber(sid: str) -> None:
            await post("/join", {"id": sid})
            pc = RTCPeerConnection(rtc_configuration(()))
            pcs.append(pc)
            tapped: set[str] = set()
            if DEBUG:
                pc.on("connectionstatechange", lambda: print("state", sid, pc.connectionState, file=sys.stderr))
            while True:
                offer = await post("/offer", {"id": sid})
                await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
                for t in pc.getTransceivers():
                    if t.mid in offer["tracks"] and t.mid not in tapped:
                        tapped.add(t.mid)
                        stream = _Stream(offer["tracks"][t.mid])
                        streams.append(stream)

                        light_receiver(t.receiver, stream)
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
                    "expected": {k: sum(s.max_seq or 0 for s in streams if s.kind == k) for k in ("audio", "video")},
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
            "video_packet_loss": _loss(c0, c1, "video"), "audio_packet_loss": _loss(c0, c1, "audio"),
            "e2e_latency_ms_p50": _pct(lat, 50), "e2e_latency_ms_p99": _pct(lat, 99),
            "server_latency_ms_p50": _pct(srv, 50), "server_latency_ms_p99": _pct(srv, 99),
            "machine_load_1min": round(os.getloadavg()[0], 2),
        }
        if os.environ.get("BENCH_DEBUG"):
            result["streams"] = [(s.kind, s.packets, s.frames, len(s.indices)) for s in streams]
            result["sent"] = [v.index for v in videos]
            result["server"] = m1.get("stats")
        for t in tasks:
            t.cancel()
        for pc in pcs:
            await pc.close()
        print(json.dumps(result), flush=True)


def vp8_frame_start(payload: bytes) -> int | None:
    """Offset of the VP8 frame data if this RTP payload starts a frame (RFC 7741 descriptor)."""
    if len(payload) < 2 or not payload[0] & 0x10 or payload[0] & 0x0F:
        return None
    pos = 1
    if payload[0] & 0x80:
        x = payload[1]
        pos = 2
        if x & 0x80:
            pos += 2 if payload[2] & 0x80 else 1
        if x & 0x40:
            pos += 1
        if x & 0x30:
            pos += 1
    return pos


def _loss(c0: dict[str, Any], c1: dict[str, Any], kind: str) -> float | None:
    expected = c1["expected"][kind] - c0["expected"][kind]
    received = c1["packets"][kind] - c0["packets"][kind]
    return round(max(0.0, 1 - received / expected), 5) if expected > 0 else None


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
