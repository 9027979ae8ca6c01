"""A subscriber in a process of its own, for a shaped link (tests/integration/test_sfu_remb_netem.py runs
it inside a network namespace whose veth has a `tc` token bucket): joins a room over websocket
signaling, answers subscribe offers, counts the video frames it gets and records the REMBs its own
aiortc receivers send. Prints one JSON line every half second: {"frames": n, "remb": last bps or null}.

    python -m tests.helpers.remb_subscriber --ws ws://HOST:PORT/ws --room ROOM_ID --name Slow
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from media.aiortc_compat import override_remb
from signaling.client import SignalingClient
from tests.helpers.media_peers import PeerClient, answer_over_signaling


async def run(args: argparse.Namespace) -> None:
    peer = PeerClient(args.name, decode=False)
    rembs: list[int] = []
    wrapped: set[Any] = set()
    answer = peer.handle_subscribe_offer

    def record(bitrate: int, ssrcs: list[int]) -> int:
        rembs.append(bitrate)
        return bitrate             # sent unchanged: this only watches what the receiver estimates

    async def handle(sdp: str, tracks: Any) -> str:
        out = await answer(sdp, tracks)
        for t in peer.subscribe_pc.getTransceivers():
            if t.receiver not in wrapped:
                wrapped.add(t.receiver)
                override_remb(t.receiver, record)
        return out

    peer.handle_subscribe_offer = handle  # type: ignore[method-assign]
    sig = SignalingClient(args.ws)
    await sig.connect()
    await sig.join(args.room, args.name, timeout=20)
    answer_over_signaling(sig, peer)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), stop.set)   # stdin closed or a line: leave
    while not stop.is_set():
        frames = sum(r.frames for r in peer.received.values() if r.info.kind == "video")
        print(json.dumps({"frames": frames, "remb": rembs[-1] if rembs else None}), flush=True)
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
    await sig.close()
    await peer.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ws", required=True)
    ap.add_argument("--room", required=True)
    ap.add_argument("--name", default="Slow")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
