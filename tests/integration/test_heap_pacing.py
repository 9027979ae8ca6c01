"""A server process with garbage-collector pacing on (media/heap.py, the `antechamber serve`
default): while people are in, the settled heap is frozen; once they have left, one complete
collection walks it, and every collection's pause is on /metrics."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest
from prometheus_client.parser import text_string_to_metric_families

from signaling.client import SignalingClient
from tests.helpers.server_process import ServerProcess
from tests.integration.test_redis_outage import call

pytestmark = pytest.mark.timeout(120)
KEY = "outage-test-key-0123456789abcdef"     # the key test_redis_outage.call sends


def metrics(srv: ServerProcess) -> dict:
    req = urllib.request.Request(srv.url + "/metrics", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def wait_metric(srv: ServerProcess, name: str, predicate, within: float = 30.0) -> float:
    deadline = time.monotonic() + within
    value = None
    while time.monotonic() < deadline:
        value = (await asyncio.to_thread(metrics, srv)).get((name, ()))
        if value is not None and predicate(value):
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never reached the expected value (last: {value})")


async def test_the_heap_is_frozen_while_people_are_in_and_walked_once_they_have_left(tmp_path):
    srv = ServerProcess(tmp_path / "data", api_key=KEY, env={"ANTECHAMBER_GC_PACING": "1", "ANTECHAMBER_NORMAL_MAX_PARTICIPANTS": "30"})
    srv.start()
    clients: list[SignalingClient] = []
    try:
        status, room, _ = await asyncio.to_thread(call, "POST", srv.url + "/api/v1/rooms", {"roomName": "Heap"})
        assert status == 201, room
        key = parse_qs(urlparse(room["access"]["anonymous"]["moderator"]["url"]).query)["roomKey"][0]
        ws = srv.url.replace("http", "ws") + "/ws"
        at_start = (await asyncio.to_thread(metrics, srv))[("antechamber_gc_freezes_total", ())]
        for i in range(24):
            c = SignalingClient(ws)
            await c.connect()
            assert (await c.join(room["roomId"], f"P{i}", key))["type"] == "joined"
            clients.append(c)
        # within the pacer's 5 s the participants' connections join the frozen heap
        await wait_metric(srv, "antechamber_gc_freezes_total", lambda v: v > at_start)
        assert (await asyncio.to_thread(metrics, srv))[("antechamber_gc_complete_collections_total", ())] == 0
        for c in clients:
            await c.send("leave")
            await c.close()
        clients.clear()
        await wait_metric(srv, "antechamber_gc_complete_collections_total", lambda v: v >= 1)
        after = await asyncio.to_thread(metrics, srv)
        assert after[("antechamber_gc_pause_seconds_count", (("generation", "2"),))] >= 1
        assert after[("antechamber_gc_pause_seconds_count", (("generation", "0"),))] >= 1
        assert '"heap collected completely"' in srv.output()
    finally:
        for c in clients:
            await c.close()
        assert srv.stop() == 0, srv.output()[-3000:]
