"""Websocket limits over real connections (docs/protocol.md "Limits", "Rate limits and cooldowns"):
publish offers (size, media sections, tracks), chat rate, websockets per address that have not
joined, the join deadline, one pending knock per address (behind a trusted proxy too), joins per
room. Every refusal is an ``error`` with its code and the session goes on where it makes sense."""

from __future__ import annotations

import asyncio

import pytest

from signaling.client import SignalingClient, SignalingErrorReply
from tests.helpers.limits import SUITE_LIMITS
from tests.helpers.signaling import clients, host_key, make_room, serve, ws_url


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


def _offer(n_sending: int, n_inactive: int = 0) -> str:
    lines = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"]
    for i in range(n_sending + n_inactive):
        lines += [f"m=video 9 UDP/TLS/RTP/SAVPF 96", f"a=mid:{i}",
                  "a=sendonly" if i < n_sending else "a=inactive", "a=rtpmap:96 VP8/90000"]
    return "\r\n".join(lines) + "\r\n"


async def _refused(c: SignalingClient, msg_type: str, **fields) -> dict:
    with pytest.raises(SignalingErrorReply) as exc:
        await c.request(msg_type, **fields)
    return exc.value.reply


async def test_publish_offer_limits_and_the_session_goes_on(client, auth):
    room = await make_room(client, auth)
    async with clients(client) as cs:
        host = await cs.joined(room["roomId"], "Hana", host_key(room))
        big = _offer(1) + "a=x-padding:" + "p" * (32 * 1024) + "\r\n"
        assert (await _refused(host, "publish", sdp=big))["code"] == "invalid_field"
        sections = await _refused(host, "publish", sdp=_offer(1, 16))
        assert sections["code"] == "too_many_media_sections" and sections["field"] == "sdp"
        assert (await _refused(host, "publish", sdp=_offer(4)))["code"] == "too_many_tracks"
        assert (await host.request("ping"))["type"] == "pong"
        await host.request("chat", text="still here")      # the session is usable


async def test_chat_is_rate_limited_per_participant(settings_factory, auth):
    async with serve(settings_factory(**{**SUITE_LIMITS, "chat_per_second": 3, "chat_per_minute": 100})) as client:
        room = await make_room(client, auth)
        async with clients(client) as cs:
            host = await cs.joined(room["roomId"], "Hana", host_key(room))
            guest = await cs.joined(room["roomId"], "Gus")
            for i in range(3):
                await host.request("chat", text=f"m{i}")
            refused = await _refused(host, "chat", text="one too many")
            assert refused["code"] == "rate_limited" and refused["retryAfter"] == 1
            await guest.request("chat", text="mine")          # per participant: the guest may speak
            await guest.wait_for("chat", lambda m: m["text"] == "mine")
            assert not [m for m in guest.inbox if m.get("type") == "chat" and m["text"] == "one too many"]
            assert len((await _refused(host, "chat", text="x" * 4097))["code"]) > 0   # 4 KiB per message
            assert (await host.request("ping"))["type"] == "pong"


async def test_websockets_without_join_per_address_and_the_join_deadline(settings_factory, auth):
    settings = settings_factory(**{**SUITE_LIMITS, "ws_unauthenticated_per_ip": 2, "ws_join_deadline_seconds": 1.0})
    async with serve(settings) as client:
        room = await make_room(client, auth)
        async with clients(client) as cs:
            a, b = await cs.open(), await cs.open()
            c = await cs.open()
            err = await c.wait_for("error")
            assert err["code"] == "too_many_connections"
            assert await c.wait_closed() == 1013
            await a.join(room["roomId"], "Ann")               # a joined socket no longer counts
            d = await cs.open()
            # b and d never join: the deadline closes them; a (joined) stays
            for silent in (b, d):
                assert (await silent.wait_for("error", timeout=10))["code"] == "join_timeout"
                assert await silent.wait_closed(10) == 1008
            assert (await a.request("ping"))["type"] == "pong"
            e = await cs.open()                                # room again once they are gone
            assert (await e.join(room["roomId"], "Eve"))["type"] == "joined"


async def test_one_pending_knock_per_address_behind_a_trusted_proxy(settings_factory, auth):
    settings = settings_factory(**{**SUITE_LIMITS, "pending_knocks_per_ip": 1, "trusted_proxies": ("127.0.0.1",)})
    async with serve(settings) as client:
        room = await make_room(client, auth, isLocked=True)
        rid = room["roomId"]
        opened: list[SignalingClient] = []

        async def knocker(address: str) -> SignalingClient:
            c = SignalingClient(ws_url(client), headers={"X-Forwarded-For": f"6.6.6.6, {address}"})
            await c.connect()
            opened.append(c)
            return c

        try:
            async with clients(client) as cs:
                host = await cs.joined(rid, "Hana", host_key(room))
                first = await knocker("198.51.100.1")
                assert (await first.join(rid, "Mal"))["state"] == "waiting"
                other = await knocker("198.51.100.2")              # another client behind the proxy
                assert (await other.join(rid, "Neighbour"))["state"] == "waiting"
                again = await knocker("198.51.100.1")
                with pytest.raises(SignalingErrorReply) as exc:
                    await again.join(rid, "Mal again")
                assert exc.value.code == "knock_pending"
                await host.wait_for("knocks", lambda m: len(m["knocks"]) == 2)
                await first.request("cancel_knock")
                assert (await again.join(rid, "Mal again"))["state"] == "waiting"
                knocks = await host.wait_for("knocks", lambda m: {k["displayName"] for k in m["knocks"]}
                                             == {"Neighbour", "Mal again"})
                assert len(knocks["knocks"]) == 2
        finally:
            for c in opened:
                await c.close()


async def test_joins_per_room_per_minute(settings_factory, auth):
    async with serve(settings_factory(**{**SUITE_LIMITS, "joins_per_room_per_minute": 2})) as client:
        room = await make_room(client, auth)
        other = await make_room(client, auth)
        async with clients(client) as cs:
            await cs.joined(room["roomId"], "A")
            await cs.joined(room["roomId"], "B")
            late = await cs.open()
            with pytest.raises(SignalingErrorReply) as exc:
                await late.join(room["roomId"], "C")
            assert exc.value.code == "rate_limited" and exc.value.reply["retryAfter"] >= 1
            assert (await late.join(other["roomId"], "C"))["type"] == "joined"   # the same socket, another room


async def test_a_socket_relayed_to_the_owner_counts_as_joined(redis_url, tmp_path):
    """On a cluster node the join is relayed (its participant stays local and unjoined): the
    deadline must not close it, and it leaves the doorway."""
    from tests.helpers.cluster_nodes import AUTH, cluster_nodes

    async with cluster_nodes(redis_url, tmp_path, ws_join_deadline_seconds=1.0, ws_unauthenticated_per_ip=1) as (n1, n2):
        resp = await n1.client.post("/api/v1/rooms", json={}, headers=AUTH)
        room = await resp.json()
        assert await n1.cluster.ownership.claim(room["roomId"]) is not None
        opened: list[SignalingClient] = []
        try:
            async def client_of(node) -> SignalingClient:
                c = SignalingClient(node.ws_url())
                await c.connect()
                opened.append(c)
                return c

            guest = await client_of(n2)
            assert (await guest.join(room["roomId"], "Gus"))["type"] == "joined"
            assert n2.cluster.gateway.stats()["relayed_out"] == 1
            # room for another: the relayed socket leaves the doorway once the owner's answer is in, which
            # can be a moment after the socket already has "joined" (the answer is forwarded as it comes)
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                silent = await client_of(n2)
                first = await silent.wait_for("error", timeout=10)
                if first["code"] != "too_many_connections" or asyncio.get_running_loop().time() > deadline:
                    break
                await silent.closed.wait()
            assert first["code"] == "join_timeout"
            assert (await guest.request("ping"))["type"] == "pong"
            assert not guest.closed.is_set()
        finally:
            for c in opened:
                await c.close()
