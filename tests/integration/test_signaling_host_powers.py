"""Host powers over real websockets: kick, mute, send to the waiting room, roles, end, chat, REST."""

from __future__ import annotations

import pytest

from signaling.client import SignalingErrorReply
from tests.helpers.signaling import clients, host_key, hub, make_room, room_with_host, store, until, viewer_key


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


async def test_kick_then_rejoin_must_knock_in_locked_room(client, auth):
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        guest, joined = await cs.admitted(host, rid, "Gus")
        await host.request("kick", participantId=joined["participantId"], reason="be nice")
        ended = await guest.wait_for("ended")
        assert ended == {"type": "ended", "reason": "kicked", "message": "be nice"}
        assert await guest.wait_closed() is not None
        left = await host.wait_for("participant_left")
        assert (left["participantId"], left["reason"]) == (joined["participantId"], "kicked")
        back = await cs.open()
        st = await back.join(rid, "Gus")
        assert st["type"] == "knock_status" and st["state"] == "waiting"
        with pytest.raises(SignalingErrorReply) as exc:
            await host.request("kick", participantId=host.participant_id)
        assert exc.value.code == "invalid_target"
        with pytest.raises(SignalingErrorReply) as exc:
            await host.request("kick", participantId="p_nobody")
        assert exc.value.code == "participant_not_found"


async def test_send_to_waiting_room_and_readmit(client, auth):
    room = await make_room(client, auth)            # even an unlocked room
    rid = room["roomId"]
    async with clients(client) as cs:
        h1 = await cs.joined(rid, "Hana", host_key(room))
        h2 = await cs.joined(rid, "Hugo", host_key(room))
        guest = await cs.joined(rid, "Gus")
        pid = guest.participant_id
        await h1.request("send_to_waiting_room", participantId=pid, message="Back in a minute")
        held = await guest.wait_for("knock_status")
        assert held["state"] == "held" and held["message"] == "Back in a minute"
        assert not guest.closed.is_set()
        left = await h2.wait_for("participant_left", lambda m: m["participantId"] == pid)
        assert left["reason"] == "sent_to_waiting_room"
        q = await h2.wait_for("knocks", lambda m: m["knocks"])
        assert q["knocks"][0]["displayName"] == "Gus" and q["knocks"][0]["state"] == "held"
        with pytest.raises(SignalingErrorReply) as exc:       # no longer in the meeting
            await guest.request("chat", text="hi")
        assert exc.value.code == "not_joined"
        await h2.request("admit", knockId=held["knockId"])
        rejoined = await guest.wait_for("joined")
        assert rejoined["participantId"] == pid
        again = await h1.wait_for("participant_joined", lambda m: m["participant"]["participantId"] == pid)
        assert again["participant"]["displayName"] == "Gus"


async def test_mute_and_self_unmute(client, auth):
    async with room_with_host(client, auth) as (rid, cs, host):
        guest = await cs.joined(rid, "Gus")
        await host.request("mute", participantId=guest.participant_id, kind="audio")
        for c in (host, guest):
            upd = await c.wait_for("participant_updated")
            assert upd["participant"]["participantId"] == guest.participant_id
            assert upd["participant"]["muted"] == {"audio": True, "video": False, "screen": False}
        await guest.request("set_muted", kind="audio", muted=False)
        upd = await host.wait_for("participant_updated")
        assert upd["participant"]["muted"]["audio"] is False


async def test_promote_and_demote(client, auth):
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        g, _ = await cs.admitted(host, rid, "Gus")
        waiting = await cs.knocking(rid, "Wanda")
        await host.request("promote", participantId=g.participant_id)
        perms = await g.wait_for("permissions")
        assert perms["role"] == "host" and perms["permissions"]["canKickParticipants"] is True
        queue = await g.wait_for("knocks", lambda m: m["knocks"])   # a new host sees the queue
        assert queue["knocks"][0]["displayName"] == "Wanda"
        upd = await host.wait_for("participant_updated", lambda m: m["participant"]["role"] == "host")
        assert upd["participant"]["participantId"] == g.participant_id
        await g.request("admit", knockId=queue["knocks"][0]["knockId"])
        await waiting.wait_for("joined")
        await host.request("demote", participantId=g.participant_id)
        perms = await g.wait_for("permissions", lambda m: m["role"] == "guest")
        assert perms["permissions"]["canKickParticipants"] is False
        with pytest.raises(SignalingErrorReply) as exc:
            await g.request("kick", participantId=waiting.participant_id)
        assert exc.value.code == "forbidden"
        with pytest.raises(SignalingErrorReply) as exc:
            await host.request("demote", participantId=g.participant_id)
        assert exc.value.code == "invalid_target"


async def test_end_meeting_ends_everyone_and_rejects_knocks(client, auth):
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        viewer = await cs.joined(rid, "Vera", viewer_key(client, rid))
        knocker = await cs.knocking(rid, "Gus")
        await host.wait_for("knocks", lambda m: m["knocks"])
        await host.request("end_meeting")
        for c in (host, viewer):
            assert (await c.wait_for("ended"))["reason"] == "meeting_ended"
            await c.wait_closed()
        st = await knocker.wait_for("knock_status", lambda m: m["state"] == "rejected")
        assert st["reason"] == "meeting_ended"
        assert (await knocker.wait_for("ended"))["reason"] == "meeting_ended"
        assert not hub(client).has_meeting(rid) and rid not in hub(client).rooms
        await hub(client).idle()
        assert (await store(client).list_meetings(rid))[0].end_reason == "meeting_ended"


async def test_chat_reaches_readers_and_respects_config(client, auth):
    async with room_with_host(client, auth) as (rid, cs, host):
        viewer = await cs.joined(rid, "Vera", viewer_key(client, rid))
        guest = await cs.joined(rid, "Gus")
        await guest.request("chat", text="hello ✓")
        for c in (host, viewer, guest):
            msg = await c.wait_for("chat")
            assert msg["text"] == "hello ✓" and msg["from"] == {"participantId": guest.participant_id,
                                                                 "displayName": "Gus"}
        with pytest.raises(SignalingErrorReply) as exc:   # viewers read but do not write
            await viewer.request("chat", text="hi")
        assert exc.value.code == "forbidden"
        with pytest.raises(SignalingErrorReply) as exc:
            await guest.request("chat", text="x" * 4097)
        assert exc.value.code == "invalid_field"
        resp = await client.put(f"/api/v1/rooms/{rid}/config?applyLive=true", json={"config": {"chat": {"enabled": False}}},
                                headers=auth)
        assert resp.status == 200, await resp.text()
        await guest.wait_for("room_updated", lambda m: m["room"]["config"]["chat"]["enabled"] is False)
        with pytest.raises(SignalingErrorReply) as exc:
            await guest.request("chat", text="hello?")
        assert exc.value.code == "chat_disabled"


async def test_rest_delete_room_ends_the_live_meeting(client, auth):
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        knocker = await cs.knocking(rid, "Gus")
        await host.wait_for("knocks", lambda m: m["knocks"])
        resp = await client.delete(f"/api/v1/rooms/{rid}?withMeeting=force", headers=auth)
        assert resp.status in (200, 202), await resp.text()
        assert (await host.wait_for("ended"))["reason"] == "room_deleted"
        assert (await knocker.wait_for("ended"))["reason"] == "room_deleted"
        await hub(client).idle()
        assert await store(client).get_room(rid) is None


async def test_deleting_a_room_with_no_meeting_tells_the_waiting_guests(client, auth):
    room = await make_room(client, auth, isLocked=True)
    rid = room["roomId"]
    async with clients(client) as cs:
        knocker = await cs.knocking(rid, "Gus")
        assert not hub(client).has_meeting(rid)
        resp = await client.delete(f"/api/v1/rooms/{rid}", headers=auth)
        assert resp.status == 200, await resp.text()
        assert (await knocker.wait_for("ended"))["reason"] == "room_deleted"
        assert await store(client).get_room(rid) is None


async def test_scheduled_deletion_happens_when_the_meeting_ends(client, auth):
    async with room_with_host(client, auth) as (rid, cs, host):
        resp = await client.delete(f"/api/v1/rooms/{rid}?withMeeting=when_meeting_ends", headers=auth)
        assert resp.status == 202, await resp.text()
        assert await store(client).get_room(rid) is not None
        await host.close()
        await until(lambda: not hub(client).has_meeting(rid), what="meeting end")
        await hub(client).idle()
        assert await store(client).get_room(rid) is None
