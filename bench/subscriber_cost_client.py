"""The client process of bench/subscriber_cost.py: 1 publisher of pre-encoded ~1 Mbit/s VP8
(video only) and N aiortc subscribers that count RTP; driven by lines on stdin (go, pause,
quit), it answers with JSON lines on stdout."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

JOIN_CONCURRENCY = 10


# --- client -------------------------------------------------------------------------------


async def client_main(url: str, clip_path: Path, subscribers: int) -> None:
    import aiohttp
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamTrack

    from bench.forwarding_client import FPS, _read_clip
    from media.aiortc_compat import rtp_only, send_preencoded
    from media.ice import prepare_gathering, rtc_configuration
    from media.ports import EncodedFrame

    clip = _read_clip(clip_path)
    paused = asyncio.Event()
    resume = asyncio.Event()
    lines: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: lines.put_nowait(sys.stdin.readline().strip()))

    class VideoTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.index = self.pos = 0
            self.start: float | None = None

        def keyframe(self) -> None:
            self.pos = 0

        async def recv(self) -> Any:
            if paused.is_set():
                await resume.wait()
            now = time.monotonic()
            self.start = now if self.start is None else self.start
            wait = self.start + self.index / FPS - now
            if wait > 0:
                await asyncio.sleep(wait)
            frame = EncodedFrame(clip[self.pos], self.index * 3000, self.pos == 0, time.monotonic())
            self.index += 1
            self.pos = (self.pos + 1) % len(clip)
            return frame

    def say(msg: dict[str, Any]) -> None:
        print(json.dumps(msg), flush=True)

    async with aiohttp.ClientSession() as http:
        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with http.post(url + path, json=body) as resp:
                resp.raise_for_status()
                return await resp.json()

        pcs: list[Any] = []
        await post("/join", {"id": "pub"})
        pc = RTCPeerConnection(rtc_configuration(()))
        pcs.append(pc)
        video = VideoTrack()
        tv = pc.addTransceiver(video, direction="sendonly")
        send_preencoded(tv.sender, "video/VP8", video.keyframe)
        prepare_gathering(pc, loopback=True)
        await pc.setLocalDescription(await pc.createOffer())
        res = await post("/publish", {"id": "pub", "sdp": pc.localDescription.sdp, "sources": {tv.mid: "camera"}})
        await pc.setRemoteDescription(RTCSessionDescription(res["sdp"], "answer"))
        while video.index < 30:
            await asyncio.sleep(0.05)
        say({"published": True})
        assert await lines.get() == "go"

        counts: dict[str, int] = {}
        gate = asyncio.Semaphore(JOIN_CONCURRENCY)

        async def subscriber(sid: str) -> None:
            async with gate:
                await post("/join", {"id": sid})
                spc = RTCPeerConnection(rtc_configuration(()))
                pcs.append(spc)
                offer = await post("/offer", {"id": sid})
                await spc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
                counts[sid] = 0

                def handle(packet: Any, sid: str = sid) -> None:
                    counts[sid] += 1

                for t in spc.getTransceivers():
                    rtp_only(t.receiver, handle)
                prepare_gathering(spc, loopback=True)
                await spc.setLocalDescription(await spc.createAnswer())
                await post("/answer", {"id": sid, "sdp": spc.localDescription.sdp})
                t0 = time.monotonic()
                while counts[sid] == 0 and time.monotonic() - t0 < 60:  # the next join once media flows
                    await asyncio.sleep(0.02)

        t0 = time.monotonic()
        await asyncio.gather(*(subscriber(f"sub{j}") for j in range(subscribers)))
        receiving = sum(1 for c in counts.values() if c > 0)
        say({"joined_s": round(time.monotonic() - t0, 2), "receiving": receiving})
        assert await lines.get() == "pause"
        paused.set()
        await asyncio.sleep(1.0)
        say({"paused": True})
        assert await lines.get() == "quit"
        for p in pcs:
            await p.close()
