"""The signaling side of one join, in one process: how long the hub takes to let one more participant into
a room of N (its ``joined``, with the roster, encoded for its connection; ``participant_joined`` to the N
others), with no socket and no media. It is work the event loop does in one step while the room's
packets wait (docs/architecture.md "The event loop, shared").

A real ``Hub`` with an in-memory directory; each connection encodes what it is sent with its codec as
the websocket writer does (JSON, or msgpack for every other one) and keeps nothing. Per room size:
median / p90 / max of 50 joins (``time.perf_counter``), and the garbage collections they caused.

    python bench/join_cost.py [--sizes 100,200,300,500] [--out bench/results/join_cost.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signaling.live.hub import Hub  # noqa: E402
from signaling.ports import Identity, RoomInfo  # noqa: E402
from signaling.wire.codec import Codec  # noqa: E402
from signaling.wire.protocol import parse  # noqa: E402

HOST = Identity(role="host", base_role="moderator")
ROOM = RoomInfo(room_id="r1", display_name="Room", is_locked=False, max_participants=10_000)


class Directory:
    async def resolve(self, room_name: str) -> RoomInfo | None:
        return ROOM if room_name == ROOM.room_id else None

    async def identify(self, room: RoomInfo, key: str | None) -> Identity | None:
        return HOST

    async def set_locked(self, room_id: str, locked: bool) -> RoomInfo | None:
        return ROOM

    async def meeting_started(self, *args: Any) -> None:
        pass

    async def meeting_ended(self, *args: Any) -> None:
        pass


class Connection:
    """Encodes what it is sent (as the websocket writer does) and drops it."""

    def __init__(self, hub: Hub, binary: bool) -> None:
        self.remote, self.codec, self.participant = "10.0.0.1", Codec(binary, 1 << 20), None
        hub.connect(self)

    def bind(self, participant: Any) -> None:
        self.participant = participant

    def send(self, message: Any) -> None:
        if isinstance(message, dict):
            self.codec.encode(message)

    def close(self, message: Any = None) -> None:
        pass


async def cost(size: int, joins: int) -> dict[str, Any]:
    hub = Hub(Directory(), knock_cooldown_seconds=30, knocks_per_ip_per_minute=0, reconnect_grace_seconds=60)
    await hub.start()
    spec = hub.messages.spec

    async def join(i: int) -> None:
        c = Connection(hub, binary=bool(i % 2))
        req = parse({"type": "join", "id": "j", "roomName": ROOM.room_id, "displayName": f"Guest {i}"}, spec)
        await hub.handle(c.participant, req)

    for i in range(size):
        await join(i)
    took = []
    collections = sum(s["collections"] for s in gc.get_stats())
    for i in range(joins):
        t0 = time.perf_counter()
        await join(size + i)
        took.append((time.perf_counter() - t0) * 1e3)
    collections = sum(s["collections"] for s in gc.get_stats()) - collections
    await hub.close()
    took.sort()
    return {"room_size": size, "joins": joins, "median_ms": round(statistics.median(took), 3),
            "p90_ms": round(took[int(0.9 * len(took))], 3), "max_ms": round(took[-1], 3),
            "gc_collections": collections}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,200,300,500")
    ap.add_argument("--joins", type=int, default=50)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "join_cost.json"))
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    rows = [asyncio.run(cost(int(n), args.joins)) for n in args.sizes.split(",")]
    for row in rows:
        print(json.dumps(row))
    report = {"python": platform.python_version(), "machine": platform.machine(), "rows": rows}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
