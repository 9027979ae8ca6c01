"""signaling/transport/websocket.py: a parked writer is woken through the endpoint's write turns
(media/turns.py ``grant``), so a broadcast to many connections wakes a few writers per loop iteration,
not all of them at once (each of which only waited for its turn to write), and every frame still
arrives, in order."""

from __future__ import annotations

import asyncio

import pytest

import signaling.transport.websocket as ws_module
from media.turns import Turns
from signaling.transport.websocket import WebSocketConnection
from signaling.wire.codec import Codec
from tests.helpers.loop_iterations import Iterations


class Socket:
    """The aiohttp websocket, as far as the writer uses it: what was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed = False

    async def send_str(self, frame: str) -> None:
        self.sent.append(frame)

    async def send_bytes(self, frame: bytes) -> None:
        self.sent.append(frame.decode())

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self.closed = True


@pytest.mark.asyncio
async def test_a_broadcast_wakes_a_few_writers_per_iteration_and_every_frame_arrives(monkeypatch):
    per_turn, n = 4, 40
    writes = Turns(per_turn)
    resumed: list[int] = []
    real_kind_of = ws_module.kind_of
    it = None

    def kind_of(item):      # called once by a writer for every item it takes from its queue
        resumed.append(it.n)
        return real_kind_of(item)

    monkeypatch.setattr(ws_module, "kind_of", kind_of)
    connections = [WebSocketConnection(Socket(), Codec(False, 65536), "10.0.0.1", None, writes=writes)
                   for _ in range(n)]
    writers = [asyncio.ensure_future(c._write_loop()) for c in connections]
    for _ in range(5):
        await asyncio.sleep(0)      # every writer starts, finds nothing to send, and waits

    it = Iterations()
    for i in range(3):              # three broadcasts in a row
        for c in connections:
            c.send({"type": "chat", "text": f"m{i}"})

    async def delivered() -> None:
        while not all(len(c.ws.sent) == 3 for c in connections):
            await asyncio.sleep(0)
    await asyncio.wait_for(delivered(), 10)
    it.stop()
    assert all([f'{{"type":"chat","text":"m{i}"}}' for i in range(3)] == c.ws.sent for c in connections)
    per_iteration = [resumed.count(k) for k in sorted(set(resumed))]
    assert max(per_iteration) <= per_turn, per_iteration    # never all 40 writers in one iteration

    for c in connections:
        c.close()
    await asyncio.wait_for(asyncio.gather(*writers), 10)
    assert all(c.ws.closed for c in connections)


class Stuck(Socket):
    """A peer that stopped reading: a write never completes."""

    async def send_str(self, frame: str) -> None:
        await asyncio.Event().wait()


class Hub:
    def __init__(self) -> None:
        self.gone: list[tuple[object, str]] = []

    def disconnected(self, participant: object, reason: str) -> None:
        self.gone.append((participant, reason))


@pytest.mark.asyncio
async def test_a_client_that_stops_reading_is_disconnected_when_its_queue_is_full():
    hub = Hub()
    c = WebSocketConnection(Stuck(), Codec(False, 65536), "10.0.0.1", hub, queue_size=8)
    c.participant = participant = type("P", (), {"participant_id": "p_1"})()
    c._writer = writer = asyncio.ensure_future(c._write_loop())     # as run() starts it
    c.send({"type": "chat", "text": "first"})           # taken by the writer, whose write never ends
    for _ in range(5):
        await asyncio.sleep(0)
    for i in range(8):
        c.send({"type": "chat", "text": str(i)})        # fills the queue
    assert hub.gone == [] and not writer.done()
    c.send({"type": "chat", "text": "one too many"})
    assert hub.gone == [(participant, "too_slow")]
    await asyncio.wait_for(asyncio.shield(writer), 1)   # the writer was cancelled, not left waiting
    c.send({"type": "chat", "text": "after"})           # nothing more is queued, nothing raises
    assert len(c._queue) == 8
