"""Room flows without sockets or a store: a real Hub and its LiveRooms, fake connections, an in-memory directory.

Knock, hold, admit, reject, cancel, unlock, send back, resume (participant and knocker), kick, end,
permission checks and cooldowns, as clients see them (the messages each fake connection received).
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from signaling.live.hub import Hub
from signaling.live.participant import CLOSED, CONNECTED, JOINED, KNOCKING
from signaling.ports import RoomInfo
from tests.helpers.live_fakes import Clock, FakeConnection, MemoryDirectory

LOCKED = RoomInfo(room_id="r1", display_name="Room", is_locked=True, max_participants=4)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def directory() -> MemoryDirectory:
    return MemoryDirectory(LOCKED)


@pytest.fixture
async def hub(directory, clock):
    hub = Hub(directory, knock_cooldown_seconds=30, knocks_per_ip_per_minute=30, reconnect_grace_seconds=60,
              wall_clock=clock, clock=clock)
    await hub.start()
    yield hub
    await hub.close()


async def joined(hub: Hub, name: str, key: str | None = "host", room: str = "r1") -> FakeConnection:
    c = FakeConnection(hub)
    reply = await c.request("join", roomName=room, displayName=name, key=key)
    assert reply["type"] == "joined", reply
    return c


async def knocking(hub: Hub, name: str, remote: str = "10.0.0.9") -> FakeConnection:
    c = FakeConnection(hub, remote=remote)
    reply = await c.request("join", roomName="r1", displayName=name)
    assert reply["type"] == "knock_status" and reply["state"] == "waiting", reply
    return c


def change(host: FakeConnection) -> dict:
    return host.last("knocks")["change"]


def knock_id(c: FakeConnection) -> str:
    return c.last("knock_status")["knockId"]


async def admitted(hub: Hub, host: FakeConnection, name: str) -> FakeConnection:
    guest = await knocking(hub, name)
    assert (await host.request("admit", knockId=knock_id(guest)))["type"] == "ok"
    assert guest.last("joined")
    return guest


# --- knock, hold, admit, reject, cancel --------------------------------------------------------

async def test_a_guest_knocks_and_a_host_admits_it(hub):
    host = await joined(hub, "Hana")
    assert host.last("joined")["knocks"] == []
    guest = await knocking(hub, "Gus")
    status = guest.last("knock_status")
    assert status["hostPresent"] is True and status["resumeToken"]
    knocks = host.last("knocks")
    assert [k["displayName"] for k in knocks["knocks"]] == ["Gus"]
    assert knocks["change"] == {"knockId": status["knockId"], "displayName": "Gus", "state": "waiting"}
    assert guest.participant.state == KNOCKING

    host.take()
    assert (await host.request("admit", knockId=status["knockId"]))["type"] == "ok"
    assert [m["state"] for m in guest.inbox if m["type"] == "knock_status"][-1] == "admitted"
    me = guest.last("joined")
    assert [p["displayName"] for p in me["participants"]] == ["Hana", "Gus"]
    assert me["resumeToken"] == status["resumeToken"]          # the knock's token stays the token
    assert host.last("participant_joined")["participant"]["participantId"] == me["participantId"]
    assert change(host) == {"knockId": status["knockId"], "displayName": "Gus", "state": "admitted",
                            "by": host.participant.participant_id}
    assert guest.participant.state == JOINED and guest.participant.knock is None
    assert hub.rooms["r1"].find(me["participantId"]) is guest.participant


async def test_a_held_knock_gets_the_message_and_can_be_admitted_later(hub):
    host = await joined(hub, "Hana")
    guest = await knocking(hub, "Gus")
    await host.request("hold", knockId=knock_id(guest), message="one minute")
    status = guest.last("knock_status")
    assert status["state"] == "held" and status["message"] == "one minute"
    assert change(host)["state"] == "held" and change(host)["message"] == "one minute"
    assert host.last("knocks")["knocks"][0]["message"] == "one minute"
    await host.request("admit", knockId=knock_id(guest))
    assert guest.last("joined")


async def test_a_rejected_guest_waits_out_the_cooldown_by_connection_and_by_name(hub, clock):
    host = await joined(hub, "Hana")
    guest = await knocking(hub, "Rex")
    await host.request("reject", knockId=knock_id(guest), reason="not today")
    status = guest.last("knock_status")
    assert status["state"] == "rejected" and status["reason"] == "not today" and status["retryAfter"] == 30
    assert "resumeToken" not in status
    assert guest.participant.state == CONNECTED and guest.participant.room is None
    assert change(host)["state"] == "rejected" and change(host)["reason"] == "not today"

    again = await guest.request("join", roomName="r1", displayName="Someone else")
    assert again["type"] == "error" and again["code"] == "rejected_recently" and again["retryAfter"] >= 1
    other = FakeConnection(hub, remote=guest.remote)          # same address, same name skeleton
    assert (await other.request("join", roomName="r1", displayName="R\u200bEX!"))["code"] == "rejected_recently"
    assert (await other.request("join", roomName="r1", displayName="Rexa"))["state"] == "waiting"

    clock.now += 31
    assert (await guest.request("join", roomName="r1", displayName="Rex"))["state"] == "waiting"


async def test_knocks_per_address_are_rate_limited(directory, clock):
    hub = Hub(directory, knocks_per_ip_per_minute=2, wall_clock=clock, clock=clock)
    for name in ("A", "B"):
        await knocking(hub, name, remote="10.0.0.7")
    third = await FakeConnection(hub, remote="10.0.0.7").request("join", roomName="r1", displayName="C")
    assert third["code"] == "rate_limited" and third["retryAfter"] >= 1
    await knocking(hub, "D", remote="10.0.0.8")               # another address
    clock.now += 61
    await knocking(hub, "C", remote="10.0.0.7")
    await hub.close()


async def test_cancelling_a_knock_tells_the_hosts_and_the_guest_may_knock_again(hub):
    host = await joined(hub, "Hana")
    guest = await knocking(hub, "Gus")
    first = knock_id(guest)
    reply = await guest.request("cancel_knock")
    assert reply["type"] == "ok"
    assert guest.last("knock_status")["state"] == "cancelled"
    assert change(host)["state"] == "cancelled" and host.last("knocks")["knocks"] == []
    again = await guest.request("join", roomName="r1", displayName="Gus")
    assert again["state"] == "waiting" and again["knockId"] != first


async def test_a_knocker_who_leaves_is_cancelled_and_an_empty_room_is_forgotten(hub):
    guest = await knocking(hub, "Gus")
    assert guest.last("knock_status")["hostPresent"] is False
    assert "r1" in hub.rooms
    await guest.request("leave")
    assert guest.closed and guest.last("ended")["reason"] == "left"
    assert guest.participant.state == CLOSED
    assert "r1" not in hub.rooms


async def test_a_refused_join_leaves_no_room_behind(hub, directory):
    directory.rooms["r2"] = RoomInfo(room_id="r2", status="closed")
    reply = await FakeConnection(hub).request("join", roomName="r2", displayName="Gus", key="host")
    assert reply["code"] == "room_closed"
    assert "r2" not in hub.rooms


# --- unlock, send back -------------------------------------------------------------------------

async def test_unlocking_admits_everyone_waiting_up_to_capacity(hub, directory):
    directory.rooms["r1"] = dataclasses.replace(LOCKED, max_participants=3)
    host = await joined(hub, "Hana")
    guests = [await knocking(hub, name, remote=f"10.0.1.{i}") for i, name in enumerate(("A", "B", "C"))]
    reply = await host.request("lock", locked=False)
    assert reply["type"] == "ok"
    assert host.last("room_updated")["room"]["isLocked"] is False
    assert [g.last("knock_status")["state"] for g in guests] == ["admitted", "admitted", "rejected"]
    assert guests[2].last("knock_status")["reason"] == "room_full"
    assert all(g.last("joined") for g in guests[:2])
    assert hub.participant_count("r1") == 3 and len(hub.rooms["r1"].waiting) == 0
    late = await FakeConnection(hub, remote="10.0.2.1").request("join", roomName="r1", displayName="D")
    assert late["code"] == "room_full"


async def test_a_joiner_brings_news_of_a_write_the_live_room_missed(hub, directory):
    """A write made through another process reaches this live room with the next join that reads it."""
    host = await joined(hub, "Hana")
    waiting = await knocking(hub, "Wes")
    directory.rooms["r1"] = dataclasses.replace(LOCKED, is_locked=False, version=LOCKED.version + 1)
    newcomer = await FakeConnection(hub, remote="10.0.3.1").request("join", roomName="r1", displayName="Nia")
    assert newcomer["type"] == "joined"          # the room is open now: no knock
    assert host.last("room_updated")["room"]["isLocked"] is False
    assert waiting.last("knock_status")["state"] == "admitted"   # unlocking admits who was waiting
    stale = dataclasses.replace(LOCKED, version=LOCKED.version)  # an older write changes nothing
    directory.rooms["r1"] = stale
    again = await FakeConnection(hub, remote="10.0.3.2").request("join", roomName="r1", displayName="Oli")
    assert again["type"] == "joined" and hub.rooms["r1"].info.is_locked is False


async def test_admit_all_admits_while_the_room_stays_locked(hub):
    host = await joined(hub, "Hana")
    guests = [await knocking(hub, name, remote=f"10.0.1.{i}") for i, name in enumerate(("A", "B"))]
    reply = await host.request("admit_all")
    assert reply["admitted"] == 2 and reply["waiting"] == 0
    assert all(g.participant.state == JOINED for g in guests)
    assert hub.rooms["r1"].info.is_locked


async def test_a_host_sends_a_participant_back_to_the_waiting_room(hub):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    pid = guest.participant.participant_id
    await host.request("send_to_waiting_room", participantId=pid, message="wait a bit")
    left = host.last("participant_left")
    assert left == {"type": "participant_left", "participantId": pid, "reason": "sent_to_waiting_room"}
    status = guest.last("knock_status")
    assert status["state"] == "held" and status["message"] == "wait a bit"
    assert change(host)["state"] == "held" and change(host)["message"] == "wait a bit"
    assert guest.participant.state == KNOCKING and hub.rooms["r1"].find(pid) is None
    await host.request("admit", knockId=status["knockId"])
    assert guest.last("joined")["participantId"] == pid


# --- resume ------------------------------------------------------------------------------------

async def test_a_dropped_participant_resumes_its_place_on_a_new_connection(hub):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    p, token = guest.participant, guest.last("joined")["resumeToken"]
    await guest.request("set_muted", kind="audio", muted=True)
    guest.drop()
    away = host.last("participant_updated")["participant"]
    assert away["participantId"] == p.participant_id and away["connection"] == "reconnecting"
    assert p.away and p.state == JOINED and hub.graces.pending() == 1

    host.take()
    back = FakeConnection(hub, remote="10.9.9.9")
    reply = await back.request("join", roomName="r1", displayName="ignored", resumeToken=token)
    assert reply["type"] == "joined" and reply["resumed"] is True
    assert reply["participantId"] == p.participant_id and reply["resumeToken"] == token
    assert back.participant is p and p.connection is back and not p.away      # the same participant
    assert p.display_name == "Gus" and p.muted["audio"] is True and p.ip == "10.9.9.9"
    assert hub.graces.pending() == 0 and p in hub.participants
    assert "connection" not in host.last("participant_updated")["participant"]
    assert "participant_joined" not in host.types()           # the same participant, not a new one


async def test_a_token_used_while_the_old_connection_lives_takes_it_over(hub):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    token = guest.last("joined")["resumeToken"]
    back = FakeConnection(hub)
    assert (await back.request("join", roomName="r1", displayName="Gus", resumeToken=token))["resumed"] is True
    assert guest.closed and guest.last("ended")["reason"] == "resumed_elsewhere"
    assert guest.participant is None           # the old connection speaks for nobody any more
    assert back.participant.state == JOINED


async def test_a_dropped_knocker_keeps_its_knock_and_resumes_it(hub):
    host = await joined(hub, "Hana")
    guest = await knocking(hub, "Gus")
    kid, token = knock_id(guest), guest.last("knock_status")["resumeToken"]
    await host.request("hold", knockId=kid, message="soon")
    guest.drop()
    assert change(host) == {"knockId": kid, "displayName": "Gus", "state": "held", "connection": "reconnecting"}
    assert host.last("knocks")["knocks"][0]["connection"] == "reconnecting"
    assert hub.graces.knockers("r1")

    back = FakeConnection(hub)
    status = await back.request("join", roomName="r1", displayName="Gus", resumeToken=token)
    assert status["type"] == "knock_status" and status["resumed"] is True
    assert status["knockId"] == kid and status["state"] == "held" and status["message"] == "soon"
    assert change(host)["connection"] == "connected" and "connection" not in host.last("knocks")["knocks"][0]
    assert not hub.graces.knockers()
    await host.request("admit", knockId=kid)
    assert back.last("joined")["resumeToken"] == token


@pytest.mark.parametrize("decision", ["admit", "reject"])
async def test_a_knock_decided_while_away_is_told_on_resume(hub, decision):
    host = await joined(hub, "Hana")
    guest = await knocking(hub, "Gus")
    kid, token = knock_id(guest), guest.last("knock_status")["resumeToken"]
    guest.drop()
    await host.request(decision, knockId=kid)
    back = FakeConnection(hub)
    reply = await back.request("join", roomName="r1", displayName="Gus", resumeToken=token)
    if decision == "admit":
        assert reply["type"] == "joined" and reply["resumeToken"] == token
        assert back.participant.state == JOINED
    else:
        assert reply["type"] == "knock_status" and reply["state"] == "rejected" and reply["knockId"] == kid
        assert reply["retryAfter"] >= 1 and "resumeToken" not in reply
        assert back.participant.state == CONNECTED
    assert not hub.graces.knockers() and hub.graces.pending() == 0


async def test_a_knocker_admitted_while_away_holds_its_place_until_it_resumes(hub, directory):
    directory.rooms["r1"] = dataclasses.replace(LOCKED, max_participants=2)
    host = await joined(hub, "Hana")
    away = await knocking(hub, "Gus")
    token = away.last("knock_status")["resumeToken"]
    away.drop()
    await host.request("admit", knockId=knock_id(away))
    other = FakeConnection(hub, remote="10.0.0.5")
    assert (await other.request("join", roomName="r1", displayName="Kim"))["code"] == "room_full"
    back = FakeConnection(hub)
    assert (await back.request("join", roomName="r1", displayName="Gus", resumeToken=token))["type"] == "joined"
    assert hub.participant_count("r1") == 2 and not hub.rooms["r1"].admitted_away


async def test_after_the_grace_a_place_and_a_knock_are_gone(directory, clock):
    hub = Hub(directory, reconnect_grace_seconds=0.05, wall_clock=clock, clock=clock)
    left, cancelled = asyncio.Event(), asyncio.Event()
    hub.events.subscribe(lambda name, data: (left.set() if name == "room.client.left" else None,
                                             cancelled.set() if name == "room.client.knock_cancelled" else None))
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    knocker = await knocking(hub, "Kim")
    p = guest.participant
    guest.drop()
    knocker.drop("idle")
    await asyncio.wait_for(asyncio.gather(left.wait(), cancelled.wait()), 5)
    assert host.last("participant_left")["reason"] == "disconnected" and p.state == CLOSED
    assert change(host)["state"] == "cancelled" and hub.graces.pending() == 0
    back = FakeConnection(hub)
    late = await back.request("join", roomName="r1", displayName="Gus",
                              resumeToken=p.resume_token)
    assert late["type"] == "knock_status" and late["state"] == "waiting"     # a normal join: it knocks
    await hub.close()


async def test_a_participant_kicked_while_away_is_told_so_on_resume(hub):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    pid, token = guest.participant.participant_id, guest.last("joined")["resumeToken"]
    guest.drop()
    await host.request("kick", participantId=pid)
    back = FakeConnection(hub)
    reply = await back.request("join", roomName="r1", displayName="Gus", resumeToken=token)
    assert reply["type"] == "ended" and reply["reason"] == "kicked" and back.closed


# --- kick, end, leave --------------------------------------------------------------------------

async def test_a_kicked_participant_is_told_why_and_the_others_see_it_leave(hub):
    host = await joined(hub, "Hana")
    other = await joined(hub, "Otto")
    guest = await admitted(hub, host, "Gus")
    pid = guest.participant.participant_id
    await host.request("kick", participantId=pid, reason="be nice")
    assert guest.last("ended") == {"type": "ended", "reason": "kicked", "message": "be nice"} and guest.closed
    assert guest.participant.state == CLOSED
    for c in (host, other):
        assert c.last("participant_left") == {"type": "participant_left", "participantId": pid, "reason": "kicked"}
    assert hub.drop("r1", pid) is False


async def test_ending_the_meeting_ends_it_for_everyone_and_turns_knocks_away(hub, directory):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    knocker = await knocking(hub, "Kim")
    reply = await host.request("end_meeting")
    assert reply["type"] == "ok"
    for c in (host, guest):
        assert c.last("ended")["reason"] == "meeting_ended" and c.closed
    status = knocker.last("knock_status")
    assert status["state"] == "rejected" and status["reason"] == "meeting_ended" and "retryAfter" not in status
    assert knocker.last("ended")["reason"] == "meeting_ended"
    assert "r1" not in hub.rooms and not hub.has_meeting("r1")
    await hub.idle()
    assert [(room, reason) for room, _, reason in directory.ended] == [("r1", "meeting_ended")]
    assert len(directory.started) == 1
    again = await FakeConnection(hub, remote="10.0.0.9").request("join", roomName="r1", displayName="Kim")
    assert again["state"] == "waiting"          # meeting_ended starts no cooldown


async def test_the_meeting_ends_with_its_last_participant(hub, directory):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    await guest.request("leave")
    assert host.last("participant_left")["reason"] == "left"
    assert hub.has_meeting("r1")
    host.drop("too_slow")        # no grace for a slow client
    assert not hub.has_meeting("r1") and "r1" not in hub.rooms
    await hub.idle()
    assert directory.ended[-1][2] == "last_participant_left"


# --- permissions and states --------------------------------------------------------------------

async def test_messages_need_their_state_and_permission(hub):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    knocker = await knocking(hub, "Kim")
    viewer = await joined(hub, "Vic", key="viewer")
    fresh = FakeConnection(hub)
    cases = [
        (guest, "admit", {"knockId": knock_id(knocker)}, "forbidden"),
        (guest, "kick", {"participantId": host.participant.participant_id}, "forbidden"),
        (guest, "end_meeting", {}, "forbidden"),
        (guest, "promote", {"participantId": host.participant.participant_id}, "forbidden"),
        (viewer, "chat", {"text": "hi"}, "forbidden"),
        (knocker, "chat", {"text": "hi"}, "not_joined"),
        (fresh, "set_muted", {"kind": "audio", "muted": True}, "not_joined"),
        (guest, "cancel_knock", {}, "no_pending_knock"),
        (guest, "join", {"roomName": "r1", "displayName": "again"}, "already_joined"),
        (knocker, "join", {"roomName": "r1", "displayName": "again"}, "already_joined"),
        (host, "kick", {"participantId": host.participant.participant_id}, "invalid_target"),
        (host, "demote", {"participantId": guest.participant.participant_id}, "invalid_target"),
        (host, "kick", {"participantId": "p_nobody"}, "participant_not_found"),
        (host, "admit", {"knockId": "k_nobody"}, "knock_not_found"),
        (fresh, "join", {"roomName": "nowhere", "displayName": "x"}, "room_not_found"),
        (fresh, "join", {"roomName": "r1", "displayName": "x", "key": "wrong"}, "invalid_key"),
        (host, "publish", {"sdp": "v=0"}, "bad_description"),        # this hub has no media
    ]
    for c, msg_type, fields, code in cases:
        reply = await c.request(msg_type, **fields)
        assert reply["type"] == "error" and reply["code"] == code, (msg_type, reply)


async def test_promote_and_demote_change_powers_at_once(hub):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    knocker = await knocking(hub, "Kim")
    pid = guest.participant.participant_id
    await host.request("promote", participantId=pid)
    perms = guest.last("permissions")
    assert perms["role"] == "host" and perms["permissions"]["canKickParticipants"] is True
    assert [k["displayName"] for k in guest.last("knocks")["knocks"]] == ["Kim"]   # hosts see the queue
    assert (await guest.request("admit", knockId=knock_id(knocker)))["type"] == "ok"
    await host.request("demote", participantId=pid)
    assert guest.last("permissions")["role"] == "guest"
    assert (await guest.request("kick", participantId=host.participant.participant_id))["code"] == "forbidden"


async def test_a_viewer_cannot_be_made_host_in_a_full_room(hub, directory):
    directory.rooms["r1"] = dataclasses.replace(LOCKED, max_participants=1)
    host = await joined(hub, "Hana")
    viewer = await joined(hub, "Vic", key="viewer")
    reply = await host.request("promote", participantId=viewer.participant.participant_id)
    assert reply["code"] == "room_full" and viewer.participant.role == "viewer"
    await host.request("leave")
    other = await joined(hub, "Otto", key="host")
    assert (await other.request("demote", participantId=viewer.participant.participant_id))["code"] == "invalid_target"


async def test_knockers_learn_when_the_last_host_leaves_and_when_one_comes(hub):
    guest = await knocking(hub, "Gus")
    host = await joined(hub, "Hana")
    assert guest.last("knock_status")["hostPresent"] is True
    await host.request("leave")
    assert guest.last("knock_status")["hostPresent"] is False
    assert guest.participant.state == KNOCKING


async def test_chat_mute_and_rename_reach_the_room(hub):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    await guest.request("chat", text="hello\r\nthere")
    chat = host.last("chat")
    assert chat["text"] == "hello\nthere" and chat["from"]["displayName"] == "Gus"
    await host.request("mute", participantId=guest.participant.participant_id, kind="video")
    assert guest.last("participant_updated")["participant"]["muted"]["video"] is True
    await guest.request("set_display_name", displayName="  Gustav  ")
    assert host.last("participant_updated")["participant"]["displayName"] == "Gustav"
    assert hub.display_name("r1", guest.participant.participant_id) == "Gustav"


# --- the public hub API (what the server uses) ---------------------------------------------------

async def test_the_public_api_reaches_the_meeting_only(hub):
    host = await joined(hub, "Hana")
    guest = await admitted(hub, host, "Gus")
    viewer = await joined(hub, "Vic", key="viewer")
    knocker = await knocking(hub, "Kim")
    assert hub.participant_count("r1") == 2 and hub.participant_count("nowhere") == 0
    assert hub.announce("r1", {"type": "recording", "recording": {"status": "active"}})
    assert all(c.last("recording") for c in (host, guest, viewer)) and "recording" not in knocker.types()
    assert not hub.announce("nowhere", {"type": "recording"})
    pid = guest.participant.participant_id
    assert hub.send_to("r1", pid, {"type": "recording", "recording": {"status": "ended"}})
    assert guest.last("recording")["recording"]["status"] == "ended"
    assert host.last("recording")["recording"]["status"] == "active"
    assert not hub.send_to("r1", "p_nobody", {"type": "x"})
    assert hub.display_name("r1", pid) == "Gus" and hub.display_name("r1", "p_nobody") is None
    assert hub.drop("r1", pid, "disconnected") is True
    assert guest.last("ended")["reason"] == "disconnected"
    assert host.last("participant_left")["participantId"] == pid


async def test_a_member_deleted_or_updated_over_rest_is_applied_live(hub, directory):
    from signaling.ports import Identity

    directory.members["member:m1"] = Identity(role="guest", base_role="speaker", member_id="m1")
    host = await joined(hub, "Hana")
    member = await joined(hub, "Mo", key="member:m1")
    await hub.member_updated("r1", "m1", "moderator", {})
    assert member.last("permissions")["role"] == "host"
    assert host.last("participant_updated")["participant"]["role"] == "host"
    await hub.member_removed("r1", "m1")
    assert member.last("ended")["reason"] == "member_deleted"
    assert host.last("participant_left")["reason"] == "member_deleted"
