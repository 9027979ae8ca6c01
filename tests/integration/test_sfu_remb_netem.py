"""Congestion feedback on a shaped link (issue 17; docs/architecture.md, "Congestion feedback"): one
subscriber sits behind a 450 kbit/s `tc` token bucket (tbf) in a network namespace of its own, another on an
open link; the publisher's REMB falls below what the slow one can take (the minimum, media/forward/congestion.py),
the publisher's encoder (aiortc's own, which obeys REMB) follows, so the slow one's video keeps coming while
the fast one keeps every frame; the REMB rises again when the slow one leaves. (On a 350 kbit/s link, which the
encoder's 250 kbit/s floor and the packets' overhead overfill, this test found the NACK storm that
media/forward/resend.py now stops; tests/unit/test_media_resend_guard.py replays it.)

Real parts: the server in this process bound to the veth's outside address, aiortc peers, the slow
subscriber a process of its own inside the namespace (tests/helpers/remb_subscriber.py; it reaches only
198.18.0.9, so its media crosses the shaped veth), the kernel's traffic shaper. Needs root (CAP_NET_ADMIN)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiortc.mediastreams import VideoStreamTrack

from media.aiortc_compat import fresh_host_addresses, on_remb
from signaling.client import SignalingClient
from tests.helpers.media_peers import PeerClient, answer_over_signaling, publish_over_signaling
from tests.helpers.signaling import host_key, make_room

pytestmark = pytest.mark.timeout(180)

NS = f"ac-remb-{os.getpid()}"
OUT_IF, IN_IF = f"acr{os.getpid() % 100000}o", f"acr{os.getpid() % 100000}i"
OUT_IP, IN_IP = "198.18.0.9", "198.18.0.10"     # a /30 of the benchmarking range, apart from bench/vs_janus.py's
SHAPED_KBIT = 450        # well above the floor of aiortc's VP8 encoder (250 kbit/s) and the packets' overhead
ROOT = Path(__file__).resolve().parents[2]


def _sh(*cmd: str, check: bool = True) -> None:
    subprocess.run(cmd, check=check, capture_output=True)


@pytest.fixture(scope="module")
def shaped_namespace():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("tc"):
        pytest.skip("needs root with ip and tc (a network namespace and a traffic shaper)")
    _sh("ip", "netns", "del", NS, check=False)
    _sh("ip", "link", "del", OUT_IF, check=False)
    try:
        _sh("ip", "netns", "add", NS)
        _sh("ip", "link", "add", OUT_IF, "type", "veth", "peer", "name", IN_IF)
        _sh("ip", "link", "set", IN_IF, "netns", NS)
        _sh("ip", "addr", "add", f"{OUT_IP}/30", "dev", OUT_IF)
        _sh("ip", "link", "set", OUT_IF, "up")
        _sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{IN_IP}/30", "dev", IN_IF)
        _sh("ip", "netns", "exec", NS, "ip", "link", "set", IN_IF, "up")
        _sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
        # the server -> slow subscriber direction: a 450 kbit/s link with a queue of a second (delay grows, as on
        # a real bottleneck, before anything is dropped; aiortc's estimator reads delay, not loss). A token
        # bucket: this kernel has no sch_netem ("Specified qdisc kind is unknown"), and tbf is what netem's
        # rate does, without the delay knobs
        _sh("tc", "qdisc", "add", "dev", OUT_IF, "root", "tbf", "rate", f"{SHAPED_KBIT}kbit", "burst", "8kb",
            "latency", "1000ms")
        # the SFU keeps the host's addresses for 10 s (aiortc_compat/addresses.py): a server of an earlier
        # test in this process may have looked them up before the veth existed
        fresh_host_addresses()
        yield
    finally:
        _sh("ip", "link", "del", OUT_IF, check=False)
        _sh("ip", "netns", "del", NS, check=False)


class DetailedTrack(VideoStreamTrack):
    """Camera-like video for aiortc's own VP8 encoder, which obeys the REMB it hears (250 kbit/s to
    1.5 Mbit/s): coarse moving blocks with grain, detailed enough to fill 1.5 Mbit/s and plain enough to
    fit 250 kbit/s (a solid colour would be a few kbit/s at any target; pure noise 2 Mbit/s at every one)."""

    def __init__(self) -> None:
        super().__init__()
        self._rng = np.random.default_rng(7)
        self._blocks = self._rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
        self._i = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._i += 1
        image = np.kron(np.roll(self._blocks, self._i, axis=1), np.ones((8, 8, 1), dtype=np.uint8))
        image = (image.astype(np.int16) + self._rng.integers(-12, 12, image.shape)).clip(0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Slow:
    """The slow subscriber's process: its last line of output."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc, self.frames, self.remb = proc, 0, None
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout
        async for line in self.proc.stdout:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            self.frames, self.remb = d["frames"], d["remb"]

    async def leave(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(b"leave\n")
        await self.proc.stdin.drain()
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            self.reader.cancel()


async def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_one_slow_subscriber_lowers_the_publishers_remb_and_the_others_keep_the_full_stream(
        shaped_namespace, settings_factory, auth):
    from server.app import create_app
    from server.credentials import load_or_create

    settings = settings_factory()
    app = create_app(settings, load_or_create(settings.data_dir, settings.api_keys))
    peers: list[PeerClient] = []
    slow: Slow | None = None
    async with TestClient(TestServer(app, host=OUT_IP)) as client:
        ws = f"ws://{OUT_IP}:{client.port}/ws"
        room = await make_room(client, auth)
        rid = room["roomId"]
        host_sig, fast_sig = SignalingClient(ws), SignalingClient(ws)
        try:
            await host_sig.connect()
            await host_sig.join(rid, "Hana", host_key(room), timeout=20)
            host = PeerClient(host_sig.participant_id, decode=False)
            peers.append(host)
            await publish_over_signaling(host_sig, host, {"camera": DetailedTrack()})
            rembs: list[tuple[float, int]] = []      # what the publisher is told it may send
            (sender,) = [t.sender for t in host.publish_pc.getTransceivers() if t.kind == "video"]
            on_remb(sender, lambda bps: rembs.append((time.monotonic(), bps)))

            await fast_sig.connect()
            await fast_sig.join(rid, "Fast", timeout=20)
            fast = PeerClient(fast_sig.participant_id, decode=False)
            peers.append(fast)
            answer_over_signaling(fast_sig, fast)
            await fast.wait_for(lambda: fast.frames_from(host.name, "video") >= 30, timeout=30,
                                what="the fast subscriber's first second of video")

            def recent(seconds: float) -> list[int]:
                now = time.monotonic()
                return [b for at, b in rembs if at >= now - seconds]

            def median(seconds: float) -> float:
                values = recent(seconds)
                return statistics.median(values) if len(values) >= 2 else float("nan")

            # on open links the publisher is told it may send more than the slow link can carry
            await _until(lambda: median(3) > 1.5 * SHAPED_KBIT * 1000, 60,
                         f"the publisher's REMB above {1.5 * SHAPED_KBIT} kbit/s on open links")
            open_remb = median(3)

            proc = await asyncio.create_subprocess_exec(
                "ip", "netns", "exec", NS, sys.executable, "-m", "tests.helpers.remb_subscriber",
                "--ws", ws, "--room", rid, "--name", "Slow", cwd=str(ROOT),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            slow = Slow(proc)
            await _until(lambda: slow.frames >= 5, 40, "the slow subscriber's first frames")
            # its receiver's estimate falls towards the shaped rate, and the publisher is told that minimum
            # (aiortc's estimator is additive-increase, multiplicative-decrease: it probes above and backs off)
            await _until(lambda: median(3) < SHAPED_KBIT * 1000, 60,
                         f"the publisher's REMB below the slow link's {SHAPED_KBIT} kbit/s")
            limited = median(3)

            # the publisher's encoder followed, so the stream fits the slow link: its video keeps coming
            frames_at, began = slow.frames, time.monotonic()
            await _until(lambda: slow.frames >= frames_at + 100, 20, "five seconds of the slow subscriber's video")
            slow_fps = (slow.frames - frames_at) / (time.monotonic() - began)
            assert slow_fps >= 15, f"the slow subscriber got {slow_fps:.1f} fps on a link its stream now fits"

            # and the fast subscriber still gets every frame: the SFU forwards what the publisher sends
            start, began = fast.frames_from(host.name, "video"), time.monotonic()
            await fast.wait_for(lambda: fast.frames_from(host.name, "video") >= start + 90, timeout=20,
                                what="three more seconds of the fast subscriber's video")
            fps = 90 / (time.monotonic() - began)
            assert fps >= 28, f"the fast subscriber fell to {fps:.1f} fps"

            # the slow subscriber leaves: its estimate stops counting at once, the REMB rises again
            await slow.leave()
            left_at = time.monotonic()
            await _until(lambda: bool([b for at, b in rembs if at > left_at]) and median(3) > 1.5 * SHAPED_KBIT * 1000,
                         60, f"the publisher's REMB back above {1.5 * SHAPED_KBIT} kbit/s")
            print(f"publisher REMB open {open_remb / 1000:.0f} kbit/s, with the shaped subscriber "
                  f"{limited / 1000:.0f} kbit/s (its own last {slow.remb / 1000:.0f}), after it left "
                  f"{median(3) / 1000:.0f} kbit/s; slow subscriber {slow_fps:.1f} fps, fast {fps:.1f} fps")
        finally:
            if slow is not None and slow.proc.returncode is None:
                slow.proc.kill()
                await slow.proc.wait()
            for sig in (host_sig, fast_sig):
                await sig.close()
            for p in peers:
                await p.close()
