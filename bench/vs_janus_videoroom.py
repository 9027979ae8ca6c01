"""Janus VideoRoom client of bench/vs_janus_client.py: HTTP transport, one session, one handle per peer,
one long poll dispatching events to the waiting handle."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from typing import Any

from bench.vs_janus_client import TIMEOUT, Counter, tap




class Janus:
    def __init__(self, http: Any, args: argparse.Namespace) -> None:
        self.http, self.base = http, args.base + "/janus"
        self.tx = itertools.count()
        self.waiters: dict[tuple[int, str], asyncio.Future] = {}
        self.session = 0
        self.rooms = itertools.count(1000)
        self.poll_task: asyncio.Task | None = None

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {"transaction": f"t{next(self.tx)}", **body}
        async with self.http.post(self.base + path, json=body) as r:
            reply = await r.json()
        if reply.get("janus") == "error":
            raise RuntimeError(f"janus: {reply}")
        return reply

    async def start(self) -> None:
        self.session = (await self.post("", {"janus": "create"}))["data"]["id"]
        self.poll_task = asyncio.ensure_future(self.poll())

    async def poll(self) -> None:
        while True:
            async with self.http.get(f"{self.base}/{self.session}?maxev=50", timeout=None) as r:
                events = await r.json(content_type=None)
            for ev in events if isinstance(events, list) else [events]:
                if ev.get("janus") != "event":
                    continue
                data = ev.get("plugindata", {}).get("data", {})
                key = (ev.get("sender"), "jsep" if "jsep" in ev else data.get("videoroom", ""))
                if "error" in data:
                    key = (ev.get("sender"), "jsep")
                fut = self.waiters.pop(key, None) or self.waiters.pop((key[0], "event"), None)
                if fut is not None and not fut.done():
                    if "error" in data:
                        fut.set_exception(RuntimeError(f"janus: {data}"))
                    else:
                        fut.set_result(ev)

    async def handle(self) -> int:
        return (await self.post(f"/{self.session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"}))["data"]["id"]

    async def message(self, h: int, body: dict[str, Any], jsep: dict[str, Any] | None = None,
                      expect: str | None = None) -> dict[str, Any]:
        fut = asyncio.get_running_loop().create_future()
        if expect:
            self.waiters[(h, expect)] = fut
        msg: dict[str, Any] = {"janus": "message", "body": body}
        if jsep:
            msg["jsep"] = jsep
        reply = await self.post(f"/{self.session}/{h}", msg)
        if not expect:
            return reply["plugindata"]["data"]
        return await asyncio.wait_for(fut, TIMEOUT)

    async def room(self) -> Any:
        h = await self.handle()
        room = next(self.rooms)
        await self.message(h, {"request": "create", "room": room, "publishers": 16, "bitrate": 0,
                               "videocodec": "vp8", "audiocodec": "opus", "fir_freq": 0})
        return room, []

    async def publisher(self, room: Any, name: str, pc: Any, sources: dict[str, str]) -> Any:
        from aiortc import RTCSessionDescription

        h = await self.handle()
        await pc.setLocalDescription(await pc.createOffer())
        ev = await self.message(h, {"request": "joinandconfigure", "room": room[0], "ptype": "publisher",
                                    "display": name, "audio": True, "video": True},
                                {"type": "offer", "sdp": pc.localDescription.sdp, "trickle": False}, expect="jsep")
        room[1].append(ev["plugindata"]["data"]["id"])
        await pc.setRemoteDescription(RTCSessionDescription(ev["jsep"]["sdp"], "answer"))
        return h

    async def subscriber(self, room: Any, name: str, pc: Any, want: int) -> tuple[Any, Counter]:
        from aiortc import RTCSessionDescription

        h = await self.handle()
        deadline = time.monotonic() + TIMEOUT
        while True:    # 428 "No such feed" until the publisher's PeerConnection is up
            try:
                ev = await self.message(h, {"request": "join", "room": room[0], "ptype": "subscriber",
                                            "streams": [{"feed": f} for f in room[1]]}, expect="jsep")
                break
            except RuntimeError as e:
                if "428" not in str(e) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        await pc.setRemoteDescription(RTCSessionDescription(ev["jsep"]["sdp"], "offer"))
        counter = tap(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.message(h, {"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp,
                                                    "trickle": False}, expect="jsep_or_started")
        return h, counter
