"""Client process of bench/cluster.py's capacity run: real signaling, real SFU, many rooms.

    python bench/cluster_media.py --ws ws://127.0.0.1:PORT/ws --rooms rooms.json --clip FILE \
        --subscribers S [--window 5]

For each room of ``rooms.json`` ([{"roomId", "key"}]) one publisher joins over the websocket and
publishes bench/forwarding.py's pre-encoded ~1 Mbit/s VP8 clip plus Opus-sized audio
(``publish``; with ``--api-key`` ``--batch`` rooms after another, each batch waiting until the registry lists
its meeting, so that placement sees the load of the meetings before it); S subscribers join and answer the ``subscribe_offer``s, counting RTP packets straight
from the RTP handler (forwarding_client's light receivers: no jitter buffer, no decoder). Prints
``WINDOW start`` / ``WINDOW end`` lines around the measurement window (the orchestrator samples the
server's CPU there) and one JSON result line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.forwarding_client import FPS, _read_clip, _Stream  # noqa: E402

SETUP_TIMEOUT = 120.0


def _tracks(clip: list[bytes]):
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    from media.ports import EncodedFrame

    class Paced(MediaStreamTrack):
        """Pre-encoded frames at a fixed rate (video: the clip, restarted on a keyframe request)."""

        def __init__(self, kind: str, interval: float, step: int) -> None:
            super().__init__()
            self.kind, self.interval, self.step = kind, interval, step
            self.index, self.pos, self.start = 0, 0, None

        def keyframe(self) -> None:
            self.pos = 0

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            now = time.monotonic()
            self.start = self.start if self.start is not None else now
            wait = self.start + self.index * self.interval - now
            if wait > 0:
                await asyncio.sleep(wait)
            if self.kind == "video":
                data, key = clip[self.pos], self.pos == 0
                self.pos = (self.pos + 1) % len(clip)
            else:
                data, key = b"\xfc" + bytes(99), True
            self.index += 1
            return EncodedFrame(data, self.index * self.step, key, time.monotonic())

    return (lambda: Paced("video", 1 / FPS, 3000)), (lambda: Paced("audio", 0.02, 960))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from media.aiortc_compat import rtp_only, send_preencoded
    from media.ice import prepare_gathering, rtc_configuration
    from signaling.client import SignalingClient

    rooms = json.loads(Path(args.rooms).read_text())
    video_track, audio_track = _tracks(_read_clip(Path(args.clip)))
    streams: list[_Stream] = []
    sent: list[Any] = []           # the publishers' video tracks (frames sent: their index)
    pcs: list[Any] = []
    clients: list[SignalingClient] = []
    tasks: list[asyncio.Task] = []

    async def publisher(http: aiohttp.ClientSession, room: dict[str, str], name: str) -> None:
        c = SignalingClient(args.ws, http=http)
        clients.append(c)
        await c.connect()
        await c.join(room["roomId"], name, room["key"], timeout=30)
        if args.api_key:
            await placed(http, room["roomId"])
        pc = RTCPeerConnection(rtc_configuration(()))
        pcs.append(pc)
        video, audio = video_track(), audio_track()
        sent.append(video)
        tv = pc.addTransceiver(video, direction="sendonly")
        send_preencoded(tv.sender, "video/VP8", video.keyframe)
        ta = pc.addTransceiver(audio, direction="sendonly")
        send_preencoded(ta.sender, "audio/opus", lambda: None)
        prepare_gathering(pc, loopback=True)
        await pc.setLocalDescription(await pc.createOffer())
        reply = await c.request("publish", timeout=30, sdp=pc.localDescription.sdp,
                                sources={tv.mid: "camera", ta.mid: "microphone"})
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))

    async def subscriber(http: aiohttp.ClientSession, room: dict[str, str], name: str) -> None:
        c = SignalingClient(args.ws, http=http)
        clients.append(c)
        offers: asyncio.Queue = asyncio.Queue()
        c.listener = lambda m: offers.put_nowait(m) if m.get("type") == "subscribe_offer" else None
        await c.connect()
        await c.join(room["roomId"], name, room["key"], timeout=30)
        pc = RTCPeerConnection(rtc_configuration(()))
        pcs.append(pc)
        tapped: set[str] = set()
        while True:
            offer = await offers.get()
            c.inbox.clear()
            await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
            for t in pc.getTransceivers():
                info = offer["tracks"].get(t.mid)
                if info and t.mid not in tapped:
                    tapped.add(t.mid)
                    stream = _Stream(info["kind"])
                    streams.append(stream)
                    rtp_only(t.receiver, lambda packet, s=stream: _count(s, packet))
            prepare_gathering(pc, loopback=True)
            await pc.setLocalDescription(await pc.createAnswer())
            await c.request("subscribe_answer", timeout=30, sdp=pc.localDescription.sdp)

    async def placed(http: aiohttp.ClientSession, room_id: str) -> None:
        """Wait until the registry lists the meeting (its owner's heartbeat carries the new load)."""
        url = args.ws.replace("ws", "http", 1).rsplit("/ws", 1)[0] + "/api/v1/cluster/nodes"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            async with http.get(url, headers={"Authorization": f"Bearer {args.api_key}"}) as resp:
                nodes = (await resp.json())["nodes"]
            if any(room_id in n.get("meetings", []) for n in nodes):
                return
            await asyncio.sleep(0.1)

    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        t0 = time.monotonic()
        if args.api_key:       # meetings arrive one after another, each placed on what the last heartbeats say
            for b in range(0, len(rooms), args.batch):
                await asyncio.gather(*(publisher(http, r, f"pub{i}")
                                       for i, r in enumerate(rooms) if b <= i < b + args.batch))
        else:                  # all at once
            await asyncio.gather(*(publisher(http, r, f"pub{i}") for i, r in enumerate(rooms)))
        tasks = [asyncio.ensure_future(subscriber(http, r, f"sub{i}.{j}"))
                 for i, r in enumerate(rooms) for j in range(args.subscribers)]
        want = 2 * len(rooms) * args.subscribers
        while not (len(streams) >= want and all(s.packets > 0 for s in streams)):
            failed = [t for t in tasks if t.done() and t.exception() is not None]
            if failed or time.monotonic() - t0 > SETUP_TIMEOUT:
                reason = repr(failed[0].exception()) if failed else "streams did not start"
                return {"error": reason, "started": len(streams), "want": want}
            await asyncio.sleep(0.1)
        setup_s = time.monotonic() - t0
        await asyncio.sleep(2.0)       # warm-up before the window (a measurement pause)

        video = [s for s in streams if s.kind == "video"]

        def snap() -> dict[str, Any]:
            return {k: (sum(s.packets for s in streams if s.kind == k), sum(s.max_seq or 0 for s in streams if s.kind == k))
                    for k in ("audio", "video")} | {"cpu": time.process_time(), "wall": time.monotonic(),
                                               "sent": sum(v.index for v in sent),
                                               "frames": [s.frames for s in video]}

        print("WINDOW start", flush=True)
        c0 = snap()
        await asyncio.sleep(args.window)
        c1 = snap()
        print("WINDOW end", flush=True)
        wall = c1["wall"] - c0["wall"]

        def loss(kind: str) -> float | None:
            expected = c1[kind][1] - c0[kind][1]
            got = c1[kind][0] - c0[kind][0]
            return round(max(0.0, 1 - got / expected), 5) if expected > 0 else None

        fps = (c1["sent"] - c0["sent"]) / wall / max(1, len(sent))
        got = [b - a for a, b in zip(c0["frames"], c1["frames"])]
        want = fps * wall * len(video)
        result = {"rooms": len(rooms), "subscribers_per_room": args.subscribers,
                  "video_streams": sum(1 for s in streams if s.kind == "video"), "setup_s": round(setup_s, 2),
                  "window_s": round(wall, 2),
                  "video_packets_per_s": round((c1["video"][0] - c0["video"][0]) / wall, 1),
                  "video_packet_loss": loss("video"), "audio_packet_loss": loss("audio"),
                  "client_cpu_cores": round((c1["cpu"] - c0["cpu"]) / wall, 3),
                  "publisher_fps": round(fps, 2),
                  "video_frame_loss": round(max(0.0, 1 - sum(got) / want), 5) if want else None,
                  "stalled_video_streams": sum(1 for g in got if g == 0)}
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    return result


def _count(stream: _Stream, packet: Any) -> None:
    stream.add(packet.sequence_number)
    if packet.marker or stream.kind != "video":
        stream.frames += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ws", required=True)
    parser.add_argument("--rooms", required=True)
    parser.add_argument("--clip", required=True)
    parser.add_argument("--subscribers", type=int, default=4)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=1, help="paced: rooms placed at once (one per node)")
    parser.add_argument("--api-key", help="paced: each publisher waits until its meeting is in the registry")
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
