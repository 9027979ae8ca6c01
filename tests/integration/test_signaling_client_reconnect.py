"""signaling/client.py's reconnect API against a real server: a dropped socket resumes by itself,
a dead URL in the list is skipped, ``media_reset`` reaches its callback, ``ended`` stops it, and it
gives up after ``give_up_after``."""

from __future__ import annotations

import pytest

from signaling.client import Reconnect, SignalingClient
from tests.helpers.redis_server import free_port
from tests.helpers.signaling import host_key, hub, make_room, serve, until, ws_url

pytestmark = pytest.mark.timeout(60)

FAST = Reconnect(initial=0.05, max_delay=0.3, give_up_after=10)


def dead_url() -> str:
    return f"ws://127.0.0.1:{free_port()}/ws"


async def test_a_dropped_socket_resumes_by_itself_and_the_callbacks_fire(settings_factory, auth):
    async with serve(settings_factory(reconnect_grace_seconds=15)) as app:
        room = await make_room(app, auth)
        rid = room["roomId"]
        resumed, resets = [], []
        async with SignalingClient(ws_url(app)) as host, \
                SignalingClient(ws_url(app), reconnect=FAST, on_resumed=resumed.append,
                                on_media_reset=resets.append) as gus:
            await host.join(rid, "Hana", host_key(room))
            joined = await gus.join(rid, "Gus")
            await gus.abort()                    # the network drops it: no leave
            await until(lambda: gus.reconnects == 1, timeout=10, what="resumed")
            assert resumed[0]["type"] == "joined" and resumed[0]["resumed"] is True
            assert resumed[0]["participantId"] == joined["participantId"] == gus.participant_id
            assert gus.connected.is_set() and not gus.closed.is_set()
            await gus.request("chat", text="back")
            await host.wait_for("chat", lambda m: m["text"] == "back")
            assert not [m for m in host.history if m["type"] == "participant_left"]

            assert hub(app).send_to(rid, gus.participant_id, {"type": "media_reset"})
            await gus.wait_for("media_reset")
            assert resets == [{"type": "media_reset"}]


async def test_a_dead_url_in_the_list_is_skipped(settings_factory, auth):
    async with serve(settings_factory(reconnect_grace_seconds=15)) as app:
        room = await make_room(app, auth)
        async with SignalingClient([dead_url(), ws_url(app)], reconnect=FAST) as c:
            assert c.url == ws_url(app)
            assert (await c.join(room["roomId"], "Hana", host_key(room)))["type"] == "joined"


async def test_ended_stops_it_and_it_gives_up_when_nothing_answers(settings_factory, auth):
    async with serve(settings_factory(reconnect_grace_seconds=15)) as app:
        room = await make_room(app, auth)
        rid = room["roomId"]
        async with SignalingClient(ws_url(app)) as host, SignalingClient(ws_url(app), reconnect=FAST) as gus:
            await host.join(rid, "Hana", host_key(room))
            await gus.join(rid, "Gus")
            await host.request("kick", participantId=gus.participant_id)
            assert (await gus.wait_for("ended"))["reason"] == "kicked"
            await gus.wait_closed(10)
            assert gus.reconnects == 0

        lost = SignalingClient(ws_url(app), reconnect=Reconnect(initial=0.05, max_delay=0.1, give_up_after=0.6))
        await lost.connect()
        try:
            await lost.join(rid, "Lou")
            lost.urls = [dead_url()]            # every node gone
            lost.url = lost.urls[0]
            await lost.abort()
            await lost.wait_closed(10)
            assert lost.reconnects == 0 and not lost.connected.is_set()
        finally:
            await lost.close()
