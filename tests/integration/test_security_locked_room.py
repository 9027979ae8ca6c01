"""Locked-room bypass attempts admit no one (real websocket clients on a real server).

Each attempt is followed by the room's roster as the server holds it: nobody was added, and the
attempt got a knock (``waiting``), an ``error`` or ``ended`` -- never ``joined``.
"""

from __future__ import annotations

import asyncio

import pytest

from server.app import HUB
from signaling.client import SignalingErrorReply
from tests.helpers.signaling import clients, host_key, make_room, serve, until, viewer_key

pytestmark = pytest.mark.timeout(60)


def roster(client, rid: str) -> set[str]:
    room = client.server.app[HUB].rooms.get(rid)
    return set(room.participants) if room is not None else set()


async def refused(cs, rid: str, name: str, **join) -> dict:
    """A join attempt that must not get in: the reply (knock, error or ended)."""
    c = await cs.open()
    try:
        reply = await c.request("join", roomName=rid, displayName=name, **join)
    except SignalingErrorReply as err:
        return err.reply
    assert reply["type"] in ("knock_status", "ended"), reply
    if reply["type"] == "knock_status":
        assert reply["state"] == "waiting", reply
    return reply


@pytest.fixture
async def server(settings_factory):
    async with serve(settings_factory(reconnect_grace_seconds=15)) as c:
        yield c


async def test_bypass_attempts_admit_no_one(server, auth):
    client = server
    locked = await make_room(client, auth, isLocked=True)
    other = await make_room(client, auth)
    rid = locked["roomId"]
    async with clients(client) as cs:
        # arriving before the host: the knock waits, and the host's arrival admits nobody
        early = await cs.knocking(rid, "Early")
        assert early.history[-1]["hostPresent"] is False
        host = await cs.joined(rid, "Hana", host_key(locked))
        inside = roster(client, rid)
        assert len(inside) == 1
        knocks = host.history[0]["knocks"]          # a host's joined carries the queue
        assert [k["state"] for k in knocks if k["displayName"] == "Early"] == ["waiting"]

        # a join claiming a role, permissions or someone's id
        await refused(cs, rid, "Mallory", role="host", isHost=True, participantId=host.participant_id,
                      permissions={"canKickParticipants": True}, baseRole="moderator")
        # a host key of another room; the room id, a viewer key or garbage as the key
        real = host_key(locked)
        tampered = real[:-1] + ("B" if real.endswith("A") else "A")    # one character off, never the key itself
        for key in (host_key(other), rid, "x" * 43, tampered):
            reply = await refused(cs, rid, "Mallory", key=key)
            assert reply.get("type") != "joined"
        # another room's resume token
        elsewhere = await cs.joined(other["roomId"], "Eve")
        await refused(cs, rid, "Eve", resumeToken=elsewhere.resume_token)
        assert roster(client, rid) == inside

        # a guest admitted, then gone: after leave, after a kick, the token opens nothing
        gus, _ = await cs.admitted(host, rid, "Gus")
        token = gus.resume_token
        await gus.request("leave")
        await host.wait_for("participant_left", lambda m: m["participantId"] == gus.participant_id)
        await refused(cs, rid, "Gus", resumeToken=token)
        kim, _ = await cs.admitted(host, rid, "Kim")
        token = kim.resume_token
        await host.request("kick", participantId=kim.participant_id)
        await host.wait_for("participant_left", lambda m: m["participantId"] == kim.participant_id)
        await refused(cs, rid, "Kim", resumeToken=token)
        assert roster(client, rid) == inside

        # a deleted member's key
        resp = await client.post(f"/api/v1/rooms/{rid}/members", json={"name": "Max", "baseRole": "moderator"},
                                 headers=auth)
        member = await resp.json()
        key = member["accessUrl"].split("memberKey=", 1)[1]
        assert (await client.delete(f"/api/v1/rooms/{rid}/members/{member['memberId']}", headers=auth)).status == 200
        await refused(cs, rid, "Max", key=key)
        assert roster(client, rid) == inside

        # two knockers with the same display name: admitting one admits only that one
        twin_a = await cs.knocking(rid, "Twin")
        twin_b = await cs.knocking(rid, "Twin")
        id_a = twin_a.history[-1]["knockId"]
        id_b = twin_b.history[-1]["knockId"]
        assert id_a != id_b
        await host.request("admit", knockId=id_a)
        await twin_a.wait_for("joined")
        await host.request("ping")
        assert not [m for m in twin_b.history if m["type"] == "joined"]
        assert roster(client, rid) == inside | {twin_a.participant_id}
        waiting = {k.knock_id for k in client.server.app[HUB].rooms[rid].waiting.pending()}
        assert id_b in waiting and id_a not in waiting
        assert not [m for m in early.history if m["type"] == "joined"]


async def test_a_resume_token_used_twice_at_once_admits_one(server, auth):
    client = server
    locked = await make_room(client, auth, isLocked=True)
    rid = locked["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(locked))
        gus, _ = await cs.admitted(host, rid, "Gus")
        pid, token = gus.participant_id, gus.resume_token
        await gus.abort()
        await host.wait_for("participant_updated", lambda m: m["participant"]["participantId"] == pid)
        a, b = await cs.open(), await cs.open()
        replies = await asyncio.gather(a.join(rid, "Gus", resume_token=token), b.join(rid, "Gus", resume_token=token),
                                       return_exceptions=True)
        joined = [r for r in replies if isinstance(r, dict) and r.get("type") == "joined"]
        assert all(r["participantId"] == pid for r in joined), replies
        # the same one participant, on at most one live connection
        assert roster(client, rid) == {host.participant_id, pid}
        await until(lambda: sum(1 for c in (a, b) if not c.closed.is_set()) <= 1, what="one connection left")
        assert not [m for m in host.history if m["type"] == "participant_joined" and m.get("participant", {})
                    .get("participantId") not in (pid,)]


async def test_a_viewer_cannot_publish_nor_act(server, auth):
    client = server
    room = await make_room(client, auth, isLocked=True)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        viewer = await cs.open()
        reply = await viewer.join(rid, "Vic", viewer_key(client, rid))
        assert reply["type"] == "joined" and reply["role"] == "viewer"
        assert not reply["permissions"].get("canPublishVideo")
        offer = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                 "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n")
        for msg, fields in [("publish", {"sdp": offer}), ("admit", {"knockId": "k"}), ("lock", {"locked": False}),
                            ("kick", {"participantId": host.participant_id}), ("promote",
                                                                           {"participantId": viewer.participant_id})]:
            with pytest.raises(SignalingErrorReply) as err:
                await viewer.request(msg, **fields)
            assert err.value.code == "forbidden", (msg, err.value.reply)
        assert roster(client, rid) == {host.participant_id, viewer.participant_id}
