"""Generated messages over real websockets: every frame a joined host or guest may send, in JSON
and msgpack, with fields of any type and value, gets a proper answer (a reply or an ``error`` with
its own code, never ``internal_error``), the connection stays usable and ``/healthz`` answers.

The server (aiohttp on 127.0.0.1, with its SFU) and the clients live on an event loop in a
thread for the whole module; hypothesis drives it from the test (examples from the profile,
tests/conftest.py). Messages that end a participant's stay (leave, kick, end_meeting...) are
left out: the property is about surviving input, not about those flows.
"""

from __future__ import annotations

import asyncio
import json
import threading

import msgpack
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from hypothesis import given, settings, strategies as st

from server.app import create_app
from server.credentials import load_or_create
from signaling.client import SignalingClient
from signaling.wire.protocol import SPECS
from tests.conftest import TEST_API_KEY
from tests.unit.test_parser_properties import OFFER

pytestmark = pytest.mark.timeout(120)
ENDING = {"leave", "kick", "end_meeting", "send_to_waiting_room", "demote", "promote", "cancel_knock", "join",
          "lock"}
TYPES = sorted(set(SPECS) - ENDING) + ["start_recording", "stop_recording"]

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) \
    | st.floats(allow_nan=False) | st.text(max_size=30) | st.sampled_from(["camera", "screen", "microphone", "0",
                                                                             "publish", "subscribe", "audio", OFFER])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=6) | st.sampled_from(["candidate", "sdpMid", "sdpMLineIndex", "0", "1"]), inner, max_size=3),
    max_leaves=12)
FIELD_NAMES = sorted({name for fields in SPECS.values() for name in fields})


class Live:
    """An app, a host and a guest in one unlocked room, on a loop in a thread."""

    def __init__(self, settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.settings = settings

    def run(self, coro, timeout: float = 20.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        app = create_app(self.settings, load_or_create(self.settings.data_dir, self.settings.api_keys))
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self.http = ClientSession()
        async with self.http.post(str(self.server.make_url("/api/v1/rooms")), json={},
                                  headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as resp:
            room = await resp.json()
        self.room_id = room["roomId"]
        key = room["access"]["anonymous"]["moderator"]["url"].split("roomKey=", 1)[1]
        ws = str(self.server.make_url("/ws"))
        self.host = SignalingClient(ws)
        self.guest = SignalingClient(ws, use_msgpack=True)
        for c, name, k in ((self.host, "Hana", key), (self.guest, "Gus", None)):
            await c.connect()
            assert (await c.join(self.room_id, name, k))["type"] == "joined"

    async def stop(self) -> None:
        for c in (self.host, self.guest):
            await c.close()
        await self.http.close()
        await self.server.close()

    async def exchange(self, who: SignalingClient, message: dict, rid: str) -> list[dict]:
        """Send ``message`` (with id ``rid``) and a ping; what came back for it, and the pong."""
        frame = msgpack.packb(message, use_bin_type=True) if who.use_msgpack else json.dumps(message)
        await who.send_raw(frame)
        pong = await who.request("ping", timeout=15)
        assert pong["type"] == "pong"
        async with self.http.get(str(self.server.make_url("/healthz"))) as resp:
            assert resp.status == 200
        return [m for m in who.history if m.get("id") == rid]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from server.config import Settings
    data = tmp_path_factory.mktemp("fuzz") / "data"
    live = Live(Settings(data_dir=data, api_keys=(TEST_API_KEY,), public_url="http://meet.test",
                         rest_rate_limit_per_minute=0))
    live.run(live.start())
    yield live
    live.run(live.stop())
    live.loop.call_soon_threadsafe(live.loop.stop)
    live.thread.join(5)


_counter = iter(range(10**9))


@settings(max_examples=60, deadline=None, database=None)
@given(msg_type=st.sampled_from(TYPES), fields=st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=4),
       as_guest=st.booleans())
def test_generated_messages_get_an_answer_and_the_connection_lives(live, msg_type, fields, as_guest):
    who = live.guest if as_guest else live.host
    rid = f"f{next(_counter)}"
    answers = live.run(live.exchange(who, {**fields, "type": msg_type, "id": rid}, rid))
    assert not who.closed.is_set()
    errors = [a for a in answers if a["type"] == "error"]
    assert not [e for e in errors if e["code"] == "internal_error"], (msg_type, fields, errors)
    for e in errors:
        assert e["code"] and e["message"]
