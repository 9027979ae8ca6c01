"""Bad frames, limits, idle close, slow clients, and what a guest may never see."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct

import msgpack
import pytest

from server.http.appkeys import CREDENTIALS
from tests.helpers.signaling import clients, host_key, hub, make_room, room_with_host, serve, viewer_key


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


BAD_FRAMES = [
    ("{not json", "bad_message"),
    ("[1, 2, 3]", "bad_message"),
    ('"just a string"', "bad_message"),
    (json.dumps({"type": "teleport"}), "unknown_type"),
    (json.dumps({"id": 1}), "unknown_type"),
    (json.dumps({"type": "kick"}), "invalid_field"),
    (json.dumps({"type": "kick", "participantId": 42}), "invalid_field"),
    (json.dumps({"type": "lock", "locked": "false"}), "invalid_field"),
    (json.dumps({"type": "chat", "text": "x" * (70 * 1024)}), "message_too_large"),
    (b"\xc1\xff\x00", "bad_message"),
    (msgpack.packb([1, 2]), "bad_message"),
    (msgpack.packb({"type": "mute", "participantId": "p", "kind": 3}), "invalid_field"),
]


@pytest.mark.parametrize("use_msgpack", [False, True])
async def test_bad_frames_get_an_error_and_leave_everything_usable(client, auth, use_msgpack):
    async with room_with_host(client, auth) as (rid, cs, host):
        guest = await cs.joined(rid, "Gus", use_msgpack=use_msgpack)
        await host.wait_for("participant_joined")
        for frame, code in BAD_FRAMES:
            await guest.send_raw(frame)
            err = await guest.wait_for("error")
            assert err["code"] == code, (frame[:40], err)
            assert "Traceback" not in err["message"]
        # an id is echoed when it can be read
        await guest.send_raw(json.dumps({"type": "lock", "id": "q1", "locked": True}))
        err = await guest.wait_for("error")
        assert (err["code"], err["id"]) == ("forbidden", "q1")
        assert (await guest.request("ping"))["type"] == "pong"
        await guest.request("chat", text="still here")
        assert (await host.wait_for("chat"))["text"] == "still here"
        assert not guest.closed.is_set()


async def test_frame_above_hard_limit_closes_with_1009(client, auth):
    room = await make_room(client, auth)
    async with clients(client) as cs:
        guest = await cs.joined(room["roomId"], "Gus")
        await guest.send_raw("x" * (2 * 1024 * 1024))
        assert await guest.wait_closed() == 1009


async def test_first_message_must_be_join(client, auth):
    async with clients(client) as cs:
        c = await cs.open()
        await c.send("chat", text="hi")
        assert (await c.wait_for("error"))["code"] == "not_joined"
        await c.send("admit", knockId="k")
        assert (await c.wait_for("error"))["code"] == "not_joined"


async def test_idle_connection_is_closed_and_a_live_one_is_kept(settings_factory, auth):
    settings = settings_factory(ws_idle_timeout_seconds=0.6, ws_heartbeat_seconds=0.0)
    async with serve(settings) as client, clients(client) as cs:
        silent = await cs.open()      # no heartbeat from the server, the client says nothing
        assert await silent.wait_closed(timeout=5) is not None
    settings = settings_factory(ws_idle_timeout_seconds=0.6, ws_heartbeat_seconds=0.2)
    async with serve(settings) as client, clients(client) as cs:
        alive = await cs.open()       # answers the server's pings: pongs count as traffic
        with pytest.raises(asyncio.TimeoutError):
            await alive.wait_closed(timeout=2.0)


def _ws_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_a_client_that_never_reads_is_dropped_without_stalling_the_room(client, auth):
    async with room_with_host(client, auth) as (rid, cs, host):
        other = await cs.joined(rid, "Olga")
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        await reader.readuntil(b"\r\n\r\n")
        writer.write(_ws_frame(json.dumps({"type": "join", "roomName": rid, "displayName": "Sloth"})))
        joined = await host.wait_for("participant_joined", lambda m: m["participant"]["displayName"] == "Sloth")
        sloth = joined["participant"]["participantId"]
        text = "y" * 4000
        left = None
        for i in range(6000):
            await host.send("chat", text=text)
            if i % 200 == 0:
                await host.request("ping")   # the host's requests keep being answered
            gone = [m for m in host.inbox if m.get("type") == "participant_left" and m["participantId"] == sloth]
            if gone:
                left = gone[0]
                break
        if left is None:
            left = await host.wait_for("participant_left", lambda m: m["participantId"] == sloth, timeout=10)
        assert left["reason"] == "disconnected"
        await host.request("chat", text="after")
        assert (await other.wait_for("chat", lambda m: m["text"] == "after", timeout=10))
        writer.close()


async def test_guest_frames_never_carry_keys_or_host_only_data(client, auth):
    room = await make_room(client, auth, isLocked=True, roomMode="group")
    rid, hkey = room["roomId"], host_key(room)
    resp = await client.post(f"/api/v1/rooms/{rid}/members", json={"name": "Mo", "baseRole": "moderator"},
                             headers=auth)
    mkey = (await resp.json())["accessUrl"].split("memberKey=")[1]
    vkey = viewer_key(client, rid)
    secret = client.server.app[CREDENTIALS].server_secret.hex()
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", hkey)
        member = await cs.joined(rid, "Mo", mkey)
        guest = await cs.open(use_msgpack=False)
        guest2 = await cs.open(use_msgpack=True)
        st = await guest.join(rid, "Gus")
        st2 = await guest2.join(rid, "Gia")
        await host.request("hold", knockId=st["knockId"], message="one sec")
        await host.request("admit", knockId=st["knockId"])
        await member.request("admit", knockId=st2["knockId"])
        await guest.wait_for("joined")
        await guest2.wait_for("joined")
        await cs.knocking(rid, "Late")                        # hosts get a knock list now
        await host.wait_for("knocks", lambda m: any(k["displayName"] == "Late" for k in m["knocks"]))
        await host.request("mute", participantId=guest.participant_id, kind="audio")
        await host.request("lock", locked=True)
        await guest.request("chat", text="hello")
        await host.request("send_to_waiting_room", participantId=guest2.participant_id, message="m")
        await host.request("admit", knockId=(await guest2.wait_for("knock_status", lambda m: m["state"] == "held"))["knockId"])
        await guest2.wait_for("joined")
        await guest.request("ping")
        await hub(client).idle()
        for g in (guest, guest2):
            assert g.raw_frames, "the guest received frames"
            for frame in g.raw_frames:
                text = frame.decode("latin-1") if isinstance(frame, bytes) else frame
                for secret_value in (hkey, vkey, mkey, mkey.split(".")[1], secret, "test-api-key"):
                    assert secret_value not in text
            for msg in g.history:
                assert msg["type"] != "knocks"
                assert "knocks" not in msg
                assert "memberId" not in json.dumps(msg) and "127.0.0.1" not in json.dumps(msg)
        # and the hosts did get the knock list (the check above could not pass vacuously)
        assert any(m["type"] == "knocks" for m in host.history)
