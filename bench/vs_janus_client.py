"""Independent load generator of bench/vs_janus.py: the same clients against Antechamber or Janus VideoRoom.

    python bench/vs_janus_client.py --sfu antechamber|janus --base http://198.18.0.2:PORT --clip FILE \
        --scenario fanout|fanout_audio|rooms --steps 10,20 [--api-key K] [--window 5] [--joins 50]

Publishers send bench/forwarding.py's pre-encoded ~1 Mbit/s VP8 clip (+ Opus-sized audio with
``fanout_audio``/``rooms``). Subscribers do the full ICE + DTLS handshake with aiortc, then their RTP is
counted where aioice hands a datagram up (``Connection.data_received``): RTP headers are not encrypted by
SRTP, so seq / marker / SSRC are read there and the packet is dropped before SRTP and the jitter buffer;
STUN, DTLS and RTCP go through, so sessions stay alive. Each step prints ``WINDOW start`` / ``WINDOW end``
(the driver samples the SFU process there) and one ``RESULT {json}`` line; the generator reports its
own CPU (``client_cpu_cores``: near 1.0 means the generator saturated, not the SFU).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.forwarding_client import FPS, _read_clip  # noqa: E402

GEN_ADDR = "198.18.0.1"
TIMEOUT = 60.0


class Counter:
    """RTP seen by one subscriber connection, per SSRC: [packets, max unwrapped seq, frames]."""

    __slots__ = ("ssrcs", "video_pts")

    def __init__(self) -> None:
        self.ssrcs: dict[int, list[int]] = {}
        self.video_pts: set[int] = set()   # VP8 payload types of the offer: their marker bits count frames


def held_totals(counters: list[Counter]) -> tuple[int, int]:
    """(packets received, sequence span) summed over these subscribers' SSRCs."""
    got = span = 0
    for c in counters:
        for s in c.ssrcs.values():
            got += s[0]
            span += s[1]
    return got, span


def install_counter() -> None:
    """Count RTP in aioice before SRTP; everything else (STUN is handled below this; DTLS, RTCP) goes up."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: [GEN_ADDR]   # never the external address
    original = aioice.ice.Connection.data_received

    def data_received(self: Any, data: bytes, component: int) -> None:
        counter = getattr(self, "_bench_counter", None)
        if counter is None or len(data) < 12 or not 127 < data[0] < 192 or 191 < data[1] < 224:
            return original(self, data, component)
        ssrc = int.from_bytes(data[8:12], "big")
        seq = (data[2] << 8) | data[3]
        s = counter.ssrcs.get(ssrc)
        if s is None:
            counter.ssrcs[ssrc] = [1, seq, 0, data[1] & 0x7F]
            return
        s[0] += 1
        diff = ((seq - s[1] + 0x8000) & 0xFFFF) - 0x8000
        if diff > 0:
            s[1] += diff
        if data[1] & 0x80 and (data[1] & 0x7F) in counter.video_pts:
            s[2] += 1

    aioice.ice.Connection.data_received = data_received


def tracks(clip: list[bytes]):
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    from media.ports import EncodedFrame

    class Paced(MediaStreamTrack):
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


def new_pc() -> Any:
    from aiortc import RTCConfiguration, RTCPeerConnection

    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def publish_pc(video_track: Any, audio_track: Any, audio: bool) -> tuple[Any, dict[str, str]]:
    from media.aiortc_compat import send_preencoded

    pc = new_pc()
    v = video_track()
    tv = pc.addTransceiver(v, direction="sendonly")
    send_preencoded(tv.sender, "video/VP8", v.keyframe)
    sources = {"0": "camera"}
    if audio:
        ta = pc.addTransceiver(audio_track(), direction="sendonly")
        send_preencoded(ta.sender, "audio/opus", lambda: None)
        sources["1"] = "microphone"
    return pc, sources


def tap(pc: Any) -> Counter:
    from media.aiortc_compat import ice_connections

    import re

    counter = Counter()
    counter.video_pts = {int(pt) for pt in re.findall(r"a=rtpmap:(\d+) VP8/90000", pc.remoteDescription.sdp)}
    for connection in ice_connections(pc):
        connection._bench_counter = counter
    return counter


# --- Antechamber: REST rooms + websocket signaling -----------------------------------------------------------


class Antechamber:
    def __init__(self, http: Any, args: argparse.Namespace) -> None:
        self.http, self.args = http, args
        self.ws = args.base.replace("http", "ws", 1) + "/ws"

    async def room(self) -> Any:
        from urllib.parse import parse_qs, urlparse

        async with self.http.post(f"{self.args.base}/api/v1/rooms", json={"roomMode": "group"},
                                  headers={"Authorization": f"Bearer {self.args.api_key}"}) as r:
            assert r.status == 201, await r.text()
            room = await r.json()
        url = room["access"]["anonymous"]["moderator"]["url"]
        return room["roomId"], parse_qs(urlparse(url).query)["roomKey"][0]

    async def publisher(self, room: Any, name: str, pc: Any, sources: dict[str, str]) -> Any:
        from aiortc import RTCSessionDescription

        from signaling.client import SignalingClient

        c = SignalingClient(self.ws, http=self.http)
        await c.connect()
        # publish-only, as a Janus VideoRoom publisher handle: the room's subscribers are the receivers
        await c.join(room[0], name, room[1], timeout=TIMEOUT, subscribe=False)
        await pc.setLocalDescription(await pc.createOffer())
        reply = await c.request("publish", timeout=TIMEOUT, sdp=pc.localDescription.sdp, sources=sources)
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        return c

    async def subscriber(self, room: Any, name: str, pc: Any, want: int) -> tuple[Any, Counter]:
        """Join and answer subscribe offers until `want` tracks are negotiated (later offers: in the background)."""
        from aiortc import RTCSessionDescription

        from signaling.client import SignalingClient

        c = SignalingClient(self.ws, http=self.http)
        offers: asyncio.Queue = asyncio.Queue()
        c.listener = lambda m: offers.put_nowait(m) if m.get("type") == "subscribe_offer" else None
        await c.connect()
        await c.join(room[0], name, room[1], timeout=TIMEOUT)
        state: dict[str, Any] = {"counter": None, "tracks": 0}
        ready = asyncio.get_running_loop().create_future()

        async def answer_loop() -> None:
            while True:
                offer = await offers.get()
                c.inbox.clear()
                await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
                if state["counter"] is None:
                    state["counter"] = tap(pc)
                await pc.setLocalDescription(await pc.createAnswer())
                await c.request("subscribe_answer", timeout=TIMEOUT, sdp=pc.localDescription.sdp)
                state["tracks"] = len(offer.get("tracks", {}))
                if state["tracks"] >= want and not ready.done():
                    ready.set_result(None)

        c._bench_task = asyncio.ensure_future(answer_loop())
        await asyncio.wait_for(ready, TIMEOUT)
        return c, state["counter"]


async def started(counters: list[Counter], kinds: int, deadline: float) -> bool:
    """Every counter has seen RTP on `kinds` SSRCs (one per stream it should get)."""
    while time.monotonic() < deadline:
        if all(c is not None and sum(1 for s in c.ssrcs.values() if s[0] > 0) >= kinds for c in counters):
            return True
        await asyncio.sleep(0.05)
    return False


async def run(args: argparse.Namespace) -> None:
    import aiohttp

    install_counter()
    # the generator's peers are aiortc's: stock aioice consent closes a connection after six checks
    # answered later than 0.5 s, and the generator's own loop lags at a core (rooms, 328 streams: 18 of
    # its connections closed while the SFU held every one). The SFU's lag-tolerant consent keeps a
    # saturated generator from tearing down its own sessions, for both SFUs alike.
    from media.aiortc_compat import install_lag_tolerant_consent

    install_lag_tolerant_consent()
    video_track, audio_track = tracks(_read_clip(Path(args.clip)))
    audio = args.scenario != "fanout"
    per_room_pubs = 4 if args.scenario == "rooms" else 1
    per_room_subs = 4 if args.scenario == "rooms" else 0
    pcs: list[Any] = []
    counters: list[Counter] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        from bench.vs_janus_videoroom import Janus

        sfu: Any = Antechamber(http, args) if args.sfu == "antechamber" else Janus(http, args)
        if args.sfu == "janus":
            await sfu.start()
            # Janus answers "start" with an event {"videoroom": "event", "started": "ok"} (no jsep)
            orig = sfu.message

            async def message(h: int, body: dict[str, Any], jsep: Any = None, expect: str | None = None) -> Any:
                return await orig(h, body, jsep, "event" if expect == "jsep_or_started" else expect)
            sfu.message = message
        rooms: list[Any] = []

        async def add_room() -> Any:
            room = await sfu.room()
            for p in range(per_room_pubs):
                pc, sources = publish_pc(video_track, audio_track, audio)
                pcs.append(pc)
                await sfu.publisher(room, f"pub{len(rooms)}.{p}", pc, sources)
            rooms.append(room)
            return room

        names = itertools.count()

        refused: list[str] = []

        async def add_subscriber(room: Any) -> None:
            pc = new_pc()
            pcs.append(pc)
            try:
                _, counter = await sfu.subscriber(room, f"sub{next(names)}", pc, per_room_pubs * (1 + audio))
            except Exception as e:  # noqa: BLE001 - server_busy (Antechamber's overload answer) is a result
                refused.append(repr(e)[:120])
                return
            counters.append(counter)

        async def add_streams(n: int) -> float:
            """n more video subscriber streams (fan-out: n subscribers of room 0; rooms: n/16 more rooms)."""
            t0 = time.monotonic()
            if per_room_subs:
                new_rooms = []
                for _ in range(max(1, n // (per_room_pubs * per_room_subs))):
                    try:
                        new_rooms.append(await add_room())
                    except Exception as e:  # noqa: BLE001 - a refused publisher is a result
                        refused.append(repr(e)[:120])
                jobs = [add_subscriber(r) for r in new_rooms for _ in range(per_room_subs)]
            else:
                jobs = [add_subscriber(rooms[0]) for _ in range(n)]
            for b in range(0, len(jobs), 25):
                await asyncio.gather(*jobs[b:b + 25])
            ok = await started(counters, per_room_pubs * (1 + audio), t0 + TIMEOUT)
            return time.monotonic() - t0 if ok else float("nan")

        if not per_room_subs:
            await add_room()
        print(json.dumps({"event": "publishers"}), flush=True)
        input_line = sys.stdin.readline  # the driver samples the idle-subscriber baseline, then answers
        input_line()
        have = 0
        for step in args.steps:
            setup = await add_streams(step - have)
            have = step
            await asyncio.sleep(2.0)       # warm-up (a measurement pause)

            def snap() -> dict[str, Any]:
                tot = [0, 0, 0]
                per_video: list[int] = []
                for c in counters:
                    for s in c.ssrcs.values():
                        tot[0] += s[0]
                        tot[1] += s[1]
                    per_video.append(sum(s[2] for s in c.ssrcs.values()))
                return {"packets": tot[0], "seq": tot[1], "frames": per_video, "cpu": time.process_time(),
                        "wall": time.monotonic()}

            print("WINDOW start", flush=True)
            a = snap()
            await asyncio.sleep(args.window)
            b = snap()
            print("WINDOW end", flush=True)
            wall = b["wall"] - a["wall"]
            got = b["packets"] - a["packets"]
            expected = b["seq"] - a["seq"]
            frames = [y - x for x, y in zip(a["frames"], b["frames"])]
            streams = len(counters) * per_room_pubs
            result = {"step": step, "video_streams": streams, "subscribers": len(counters),
                      "publishers_after_baseline": len(rooms) * per_room_pubs if per_room_subs else 0,
                      "setup_s": round(setup, 2), "window_s": round(wall, 2),
                      "received_packets_per_s": round(got / wall, 1),
                      "loss": round(max(0.0, 1 - got / expected), 5) if expected else None,
                      "fps": round(sum(frames) / max(1, streams) / wall, 2),
                      "stalled_subscribers": sum(1 for f in frames if f == 0),
                      "client_cpu_cores": round((b["cpu"] - a["cpu"]) / wall, 3),
                      # the generator's own peer connections that failed or closed (its ICE consent, say):
                      # a collapse of the generator, not of the SFU, when the SFU reports them alive
                      "client_failed_connections": sum(1 for pc in pcs if pc.connectionState in ("failed", "closed")),
                      "refused_joins": len(refused), "refused_reason": refused[-1] if refused else None}
            if args.joins and rooms:
                print("JOINS start", flush=True)   # the driver samples the loop lag over the joins
                held = len(counters)
                j0 = held_totals(counters[:held])
                t0 = time.monotonic()
                n0 = len(counters)
                target = rooms[0] if not per_room_subs else rooms[-1]
                try:
                    await asyncio.wait_for(asyncio.gather(*(add_subscriber(target) for _ in range(args.joins))),
                                           TIMEOUT)
                    ok = len(counters) > n0 and await started(counters[n0:], per_room_pubs * (1 + audio), t0 + TIMEOUT)
                    result["joins"] = args.joins
                    result["join_s"] = round(time.monotonic() - t0, 2) if ok else None
                except Exception as e:  # noqa: BLE001 - a failure at load is a result
                    result["join_s"], result["join_error"] = None, repr(e)[:200]
                j1 = held_totals(counters[:held])
                print("JOINS end", flush=True)
                # what the streams already held lost while the newcomers joined
                got, expected = j1[0] - j0[0], j1[1] - j0[1]
                result["join_held_loss"] = round(max(0.0, 1 - got / expected), 5) if expected else None
                have += args.joins * (1 if not per_room_subs else 0)
            print("RESULT " + json.dumps(result), flush=True)
            if result["received_packets_per_s"] == 0:
                break
        await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)
        if getattr(sfu, "poll_task", None) is not None:
            sfu.poll_task.cancel()
            await asyncio.gather(sfu.poll_task, return_exceptions=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sfu", choices=("antechamber", "janus"), required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--scenario", choices=("fanout", "fanout_audio", "rooms"), default="fanout")
    ap.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",")], default=[10, 20])
    ap.add_argument("--api-key", default="")
    ap.add_argument("--window", type=float, default=5.0)
    ap.add_argument("--joins", type=int, default=50)
    args = ap.parse_args()
    import uvloop

    uvloop.install()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
