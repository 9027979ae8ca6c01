"""Admission over real websockets: unlocked/locked rooms, knocks, host decisions, meetings."""

from __future__ import annotations

import pytest

from signaling.client import SignalingErrorReply
from tests.helpers.signaling import clients, host_key, hub, make_room, room_with_host, serve, store


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


async def test_unlocked_room_guest_enters_at_once_and_rosters_stay_in_step(client, auth):
    async with room_with_host(client, auth) as (rid, cs, host):
        guest = await cs.open()
        joined = await guest.join(rid, "Gus")
        assert joined["type"] == "joined" and joined["role"] == "guest"
        assert {p["displayName"] for p in joined["participants"]} == {"Hana", "Gus"}
        assert "knocks" not in joined
        seen = await host.wait_for("participant_joined")
        assert seen["participant"]["displayName"] == "Gus"
        assert seen["participant"]["participantId"] == joined["participantId"]
        await guest.request("set_display_name", displayName="Gustav")
        upd = await host.wait_for("participant_updated")
        assert upd["participant"]["displayName"] == "Gustav"
        await guest.send("leave")
        ended = await guest.wait_for("ended")
        assert ended["reason"] == "left"
        left = await host.wait_for("participant_left")
        assert (left["participantId"], left["reason"]) == (joined["participantId"], "left")


async def test_locked_room_knock_admit_with_two_hosts(client, auth):
    room = await make_room(client, auth, isLocked=True)
    rid, key = room["roomId"], host_key(room)
    async with clients(client) as cs:
        h1 = await cs.joined(rid, "Hana", key)
        h2 = await cs.joined(rid, "Hugo", key)
        guest = await cs.open()
        status = await guest.join(rid, "Gus")
        assert status["type"] == "knock_status" and status["state"] == "waiting" and status["hostPresent"] is True
        for h in (h1, h2):
            k = await h.wait_for("knocks", lambda m: m["knocks"])
            assert k["knocks"][0]["displayName"] == "Gus" and k["knocks"][0]["waitedMs"] >= 0
            assert k["change"]["state"] == "waiting"
        await h1.request("admit", knockId=status["knockId"])
        assert (await guest.wait_for("knock_status", lambda m: m["state"] == "admitted"))["knockId"] == status["knockId"]
        joined = await guest.wait_for("joined")
        assert joined["role"] == "guest" and len(joined["participants"]) == 3
        # the other host sees the decision and who made it, and the queue is empty
        decided = await h2.wait_for("knocks", lambda m: m.get("change", {}).get("state") == "admitted")
        assert decided["knocks"] == [] and decided["change"]["by"] == h1.participant_id
        # a decided knock cannot be decided again
        with pytest.raises(SignalingErrorReply) as exc:
            await h2.request("reject", knockId=status["knockId"])
        assert exc.value.code == "knock_not_found"


async def test_reject_with_reason_and_cooldown(client, auth):
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        guest = await cs.knocking(rid, "Gus")
        knock = (await host.wait_for("knocks", lambda m: m["knocks"]))["knocks"][0]
        await host.request("reject", knockId=knock["knockId"], reason="not today")
        st = await guest.wait_for("knock_status", lambda m: m["state"] == "rejected")
        assert st["reason"] == "not today" and st["retryAfter"] == 30
        with pytest.raises(SignalingErrorReply) as exc:   # same connection
            await guest.join(rid, "Gus")
        assert exc.value.code == "rejected_recently" and exc.value.reply["retryAfter"] >= 1
        again = await cs.open()                             # a new tab, same name and address
        with pytest.raises(SignalingErrorReply) as exc:
            await again.join(rid, "gus")
        assert exc.value.code == "rejected_recently"
        other = await cs.knocking(rid, "Olga")              # somebody else may knock
        assert other.participant_id is None


async def test_hold_then_admit_and_hold_then_reject(client, auth):
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        g1 = await cs.knocking(rid, "Gus")
        g2 = await cs.knocking(rid, "Gia")
        knocks = (await host.wait_for("knocks", lambda m: len(m["knocks"]) == 2))["knocks"]
        ids = {k["displayName"]: k["knockId"] for k in knocks}
        await host.request("hold", knockId=ids["Gus"], message="Give us five minutes")
        held = await g1.wait_for("knock_status", lambda m: m["state"] == "held")
        assert held["message"] == "Give us five minutes"
        seen = await host.wait_for("knocks", lambda m: m.get("change", {}).get("state") == "held")
        assert [k["state"] for k in seen["knocks"]] == ["held", "waiting"]
        await host.request("admit", knockId=ids["Gus"])
        await g1.wait_for("joined")
        await host.request("hold", knockId=ids["Gia"], message="wait")
        await host.request("reject", knockId=ids["Gia"])
        assert (await g2.wait_for("knock_status", lambda m: m["state"] == "rejected"))["knockId"] == ids["Gia"]


async def test_admit_all_and_cancel_and_tab_close(client, auth):
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        g1 = await cs.knocking(rid, "A")
        g2 = await cs.knocking(rid, "B")
        g3 = await cs.knocking(rid, "C")
        await host.wait_for("knocks", lambda m: len(m["knocks"]) == 3)
        await g3.request("cancel_knock")
        assert (await g3.wait_for("knock_status", lambda m: m["state"] == "cancelled"))
        await host.wait_for("knocks", lambda m: m.get("change", {}).get("state") == "cancelled"
                            and m["change"]["displayName"] == "C")
        await g2.close()                                   # closing the tab cancels the knock
        gone = await host.wait_for("knocks", lambda m: m.get("change", {}).get("state") == "cancelled"
                                   and m["change"]["displayName"] == "B")
        assert [k["displayName"] for k in gone["knocks"]] == ["A"]
        reply = await host.request("admit_all")
        assert reply["admitted"] == 1 and reply["waiting"] == 0
        await g1.wait_for("joined")
        with pytest.raises(SignalingErrorReply) as exc:
            await g3.request("cancel_knock")
        assert exc.value.code == "no_pending_knock"


async def test_knock_without_host_waits_and_host_sees_queue_on_arrival(client, auth):
    room = await make_room(client, auth, isLocked=True)
    rid = room["roomId"]
    async with clients(client) as cs:
        guest = await cs.open()
        st = await guest.join(rid, "Gus")
        assert st["state"] == "waiting" and st["hostPresent"] is False
        assert not hub(client).has_meeting(rid)          # a knock alone starts no meeting
        host = await cs.open()
        joined = await host.join(rid, "Hana", host_key(room))
        assert [k["displayName"] for k in joined["knocks"]] == ["Gus"]
        assert (await guest.wait_for("knock_status", lambda m: m["hostPresent"]))["state"] == "waiting"
        # the host leaves while the guest waits: the guest is told, the knock survives
        await host.close()
        assert (await guest.wait_for("knock_status", lambda m: not m["hostPresent"]))["state"] == "waiting"
        host2 = await cs.open()
        joined2 = await host2.join(rid, "Hugo", host_key(room))
        assert [k["displayName"] for k in joined2["knocks"]] == ["Gus"]
        await host2.request("admit", knockId=st["knockId"])
        await guest.wait_for("joined")


async def test_unlock_admits_everyone_waiting_and_lock_affects_only_future(client, auth):
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        g1 = await cs.knocking(rid, "A")
        g2 = await cs.knocking(rid, "B")
        await host.wait_for("knocks", lambda m: len(m["knocks"]) == 2)
        await host.request("lock", locked=False)
        for g in (g1, g2):
            await g.wait_for("joined")
        upd = await host.wait_for("room_updated", lambda m: m["room"]["isLocked"] is False)
        assert upd["room"]["roomId"] == rid
        resp = await client.get(f"/api/v1/rooms/{rid}", headers=auth)
        assert (await resp.json())["isLocked"] is False
        await host.request("lock", locked=True)
        assert (await g1.wait_for("room_updated", lambda m: m["room"]["isLocked"]))
        assert g1.closed.is_set() is False and g2.closed.is_set() is False   # those inside stay
        await cs.knocking(rid, "C")                                          # newcomers knock


async def test_rest_unlock_admits_waiting(client, auth):
    room = await make_room(client, auth, isLocked=True)
    rid = room["roomId"]
    async with clients(client) as cs:
        await cs.joined(rid, "Hana", host_key(room))
        g = await cs.knocking(rid, "A")
        resp = await client.put(f"/api/v1/rooms/{rid}/lock", json={"isLocked": False}, headers=auth)
        assert resp.status == 200, await resp.text()
        await g.wait_for("joined")


async def test_unknown_and_closed_rooms(client, auth):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        c = await cs.open()
        with pytest.raises(SignalingErrorReply) as exc:
            await c.join("no-such-room", "Gus")
        assert exc.value.code == "room_not_found"
        with pytest.raises(SignalingErrorReply) as exc:
            await c.join(rid, "Gus", key="not-a-key")
        assert exc.value.code == "invalid_key"
        resp = await client.put(f"/api/v1/rooms/{rid}/status", json={"status": "closed"}, headers=auth)
        assert resp.status == 200, await resp.text()
        with pytest.raises(SignalingErrorReply) as exc:
            await c.join(rid, "Gus", key=host_key(room))
        assert exc.value.code == "room_closed"
        with pytest.raises(SignalingErrorReply) as exc:
            await c.join(rid, "Gus")
        assert exc.value.code == "room_closed"


async def test_room_full_for_joins_knocks_and_admits(settings_factory, auth):
    async with serve(settings_factory(normal_max_participants=2, max_viewers=1)) as client:
        room = await make_room(client, auth, isLocked=True)
        rid, key = room["roomId"], host_key(room)
        async with clients(client) as cs:
            host = await cs.joined(rid, "Hana", key)
            g = await cs.knocking(rid, "A")
            await cs.joined(rid, "Hugo", key)                      # the room is now full
            with pytest.raises(SignalingErrorReply) as exc:
                await host.request("admit", knockId=(await host.wait_for("knocks", lambda m: m["knocks"]))
                                   ["knocks"][0]["knockId"])
            assert exc.value.code == "room_full"
            assert not g.closed.is_set()                           # still waiting
            late = await cs.open()
            with pytest.raises(SignalingErrorReply) as exc:
                await late.join(rid, "B")
            assert exc.value.code == "room_full"
            from tests.helpers.signaling import viewer_key
            await cs.joined(rid, "Vera", viewer_key(client, rid))  # viewers are counted apart
            with pytest.raises(SignalingErrorReply) as exc:
                await (await cs.open()).join(rid, "Vic", viewer_key(client, rid))
            assert exc.value.code == "room_full"


async def test_knock_rate_limit_per_address(settings_factory, auth):
    async with serve(settings_factory(knocks_per_ip_per_minute=2)) as client:
        room = await make_room(client, auth, isLocked=True)
        rid = room["roomId"]
        async with clients(client) as cs:
            await cs.knocking(rid, "A")
            await cs.knocking(rid, "B")
            with pytest.raises(SignalingErrorReply) as exc:
                await (await cs.open()).join(rid, "C")
            assert exc.value.code == "rate_limited" and exc.value.reply["retryAfter"] >= 1


async def test_one_pending_knock_per_connection(client, auth):
    room = await make_room(client, auth, isLocked=True)
    async with clients(client) as cs:
        g = await cs.knocking(room["roomId"], "A")
        with pytest.raises(SignalingErrorReply) as exc:
            await g.join(room["roomId"], "A")
        assert exc.value.code == "already_joined"
        assert len(hub(client).rooms[room["roomId"]].waiting) == 1


async def test_meeting_is_persisted_and_room_status_follows(client, auth):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        a = await cs.joined(rid, "Hana", host_key(room))
        b = await cs.joined(rid, "Gus")
        await hub(client).idle()
        resp = await client.get(f"/api/v1/rooms/{rid}", headers=auth)
        assert (await resp.json())["status"] == "active_meeting"
        assert (await store(client).get_room(rid)).status == "active_meeting"
        await a.close()
        await b.close()
        await until_no_meeting(client, rid)
        await hub(client).idle()
    meetings = await store(client).list_meetings(rid)
    assert len(meetings) == 1
    m = meetings[0]
    assert m.end_date is not None and m.end_date >= m.start_date and m.peak_participants == 2
    assert m.end_reason == "last_participant_left"
    assert (await store(client).get_room(rid)).status == "open"


async def until_no_meeting(client, rid):
    from tests.helpers.signaling import until
    await until(lambda: not hub(client).has_meeting(rid), what="meeting end")


@pytest.mark.parametrize("store_kind", ["redis"])
async def test_knock_admit_and_meeting_on_redis(client, auth):
    room = await make_room(client, auth, isLocked=True)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room), use_msgpack=True)
        assert host.protocol == "antechamber.msgpack"
        guest, _ = await cs.admitted(host, rid, "Gus")
        await host.request("end_meeting")
        assert (await guest.wait_for("ended"))["reason"] == "meeting_ended"
        await hub(client).idle()
    meetings = await store(client).list_meetings(rid)
    assert len(meetings) == 1 and meetings[0].end_reason == "meeting_ended" and meetings[0].peak_participants == 2
