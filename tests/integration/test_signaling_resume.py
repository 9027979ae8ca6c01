"""Resuming after a dropped websocket: the place is kept for the grace period (docs/protocol.md)."""

from __future__ import annotations

import contextlib

import pytest

from server.http.appkeys import STORE
from server.app import HUB
from signaling.client import SignalingClient, SignalingErrorReply
from tests.helpers.media_peers import (
    COLOURS,
    PeerClient,
    SolidColourTrack,
    answer_over_signaling,
    colour_close,
    publish_over_signaling,
)
from tests.helpers.signaling import clients, host_key, make_room, room_with_host, serve, until, ws_url

pytestmark = pytest.mark.timeout(60)


@contextlib.asynccontextmanager
async def server(settings_factory, grace: float):
    async with serve(settings_factory(reconnect_grace_seconds=grace)) as c:
        yield c


def about(pid: str):
    return lambda m: m.get("participantId") == pid or m.get("participant", {}).get("participantId") == pid


def carries(client: SignalingClient, secret: str) -> bool:
    needle = secret.encode()
    return any(needle in (f if isinstance(f, bytes) else f.encode()) for f in client.raw_frames)


async def test_a_guest_of_a_locked_room_resumes_without_knocking(settings_factory, auth):
    async with server(settings_factory, 15) as client:
        async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
            gus = (await cs.admitted(host, rid, "Gus"))[0]
            olga = (await cs.admitted(host, rid, "Olga"))[0]
            pid, token = gus.participant_id, gus.resume_token
            assert token and len(token) >= 22 and token != olga.resume_token != host.resume_token
            seen = {c: len(c.history) for c in (host, olga)}
            await gus.abort()
            away = await host.wait_for("participant_updated", lambda m: m["participant"]["participantId"] == pid)
            assert away["participant"]["connection"] == "reconnecting"
            await olga.wait_for("participant_updated", lambda m: m["participant"]["participantId"] == pid)

            back = await cs.open()
            joined = await back.join(rid, "Gus", resume_token=token)
            assert joined["type"] == "joined" and joined["resumed"] is True
            assert joined["participantId"] == pid and joined["role"] == "guest"
            assert {p["participantId"] for p in joined["participants"]} == {
                host.participant_id, pid, olga.participant_id}
            here = await host.wait_for("participant_updated", lambda m: m["participant"]["participantId"] == pid)
            assert "connection" not in here["participant"]
            # the roster never changed for the others: no left/joined pair, no knock
            await host.request("chat", text="still here?")
            await back.wait_for("chat", lambda m: m["text"] == "still here?")
            for other in (host, olga):
                assert not [m for m in other.history[seen[other]:] if m["type"] in ("participant_left", "participant_joined")
                            and about(pid)(m)]
            assert not [m for m in back.history if m["type"] == "knock_status"]
            # the resumed connection is the participant: it can act, the others see it
            await back.request("set_muted", kind="audio", muted=True)
            await olga.wait_for("participant_updated", lambda m: m["participant"]["participantId"] == pid
                                and m["participant"]["muted"]["audio"])
            # nobody else ever saw a resume token but their own
            for other, own in ((host, host.resume_token), (olga, olga.resume_token)):
                assert not carries(other, token)
                assert own is not None and not carries(back, own) and not carries(gus, own)


async def test_the_old_half_open_connection_is_closed_when_its_token_is_reused(settings_factory, auth):
    async with server(settings_factory, 15) as client:
        room = await make_room(client, auth)
        rid = room["roomId"]
        async with clients(client) as cs:
            host = await cs.joined(rid, "Hana", host_key(room))
            gus = await cs.joined(rid, "Gus")
            back = await cs.open()
            joined = await back.join(rid, "Gus", resume_token=gus.resume_token)
            assert joined["participantId"] == gus.participant_id and joined["resumed"] is True
            ended = await gus.wait_for("ended")
            assert ended["reason"] == "resumed_elsewhere"
            await gus.wait_closed()
            await host.request("ping")
            assert not [m for m in host.history if m["type"] == "participant_left"]
            assert len(client.server.app[HUB].rooms[rid].participants) == 2


async def test_after_the_grace_the_participant_leaves_and_a_resume_knocks_again(settings_factory, auth):
    async with server(settings_factory, 0.5) as client:
        async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
            gus = (await cs.admitted(host, rid, "Gus"))[0]
            pid, token = gus.participant_id, gus.resume_token
            await gus.abort()
            left = await host.wait_for("participant_left", lambda m: m["participantId"] == pid, timeout=10)
            assert left["reason"] == "disconnected"
            back = await cs.open()
            reply = await back.join(rid, "Gus", resume_token=token)
            assert reply["type"] == "knock_status" and reply["state"] == "waiting"


async def test_a_token_is_good_only_for_its_own_participant_and_room(settings_factory, auth):
    async with server(settings_factory, 15) as client:
        locked = await make_room(client, auth, isLocked=True)
        other = await make_room(client, auth)
        async with clients(client) as cs:
            host = await cs.joined(locked["roomId"], "Hana", host_key(locked))
            elsewhere = await cs.joined(other["roomId"], "Eve")
            await elsewhere.abort()
            await until(lambda: client.server.app[HUB].graces.pending() == 1, what="grace started")
            last = host.resume_token[-1]
            forged = host.resume_token[:-1] + ("B" if last == "A" else "A")   # always differs from the real one
            for token in (elsewhere.resume_token, "x" * 32, forged):
                c = await cs.open()
                reply = await c.join(locked["roomId"], "Eve", resume_token=token)
                assert reply["type"] == "knock_status" and reply["state"] == "waiting", reply
                await c.close()
            assert len(client.server.app[HUB].rooms[locked["roomId"]].participants) == 1


@pytest.mark.parametrize("action,reason", [("kick", "kicked"), ("end_meeting", "meeting_ended")])
async def test_removed_during_the_grace_a_resume_is_told_why(settings_factory, auth, action, reason):
    async with server(settings_factory, 15) as client:
        async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
            gus = (await cs.admitted(host, rid, "Gus"))[0]
            pid, token = gus.participant_id, gus.resume_token
            await gus.abort()
            await host.wait_for("participant_updated", lambda m: m["participant"]["participantId"] == pid)
            if action == "kick":
                await host.request("kick", participantId=pid)
                left = await host.wait_for("participant_left", lambda m: m["participantId"] == pid)
                assert left["reason"] == "kicked"
            else:
                await host.request("end_meeting")
            assert client.server.app[HUB].graces.pending() == 0
            back = await cs.open()
            reply = await back.join(rid, "Gus", resume_token=token)
            assert reply["type"] == "ended" and reply["reason"] == reason
            await back.wait_closed()


async def test_sent_to_the_waiting_room_during_the_grace_a_resume_knocks(settings_factory, auth):
    async with server(settings_factory, 15) as client:
        async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
            gus = (await cs.admitted(host, rid, "Gus"))[0]
            pid, token = gus.participant_id, gus.resume_token
            await gus.abort()
            await host.wait_for("participant_updated", lambda m: m["participant"]["participantId"] == pid)
            await host.request("send_to_waiting_room", participantId=pid)
            await host.wait_for("participant_left", lambda m: m["participantId"] == pid)
            assert len(client.server.app[HUB].rooms[rid].waiting) == 0   # no knock owned by a dead socket
            back = await cs.open()
            reply = await back.join(rid, "Gus", resume_token=token)
            assert reply["type"] == "knock_status" and reply["state"] == "waiting"


async def test_the_meeting_outlives_its_only_participant_for_the_grace_only(settings_factory, auth):
    async with server(settings_factory, 1.0) as client:
        room = await make_room(client, auth)
        rid = room["roomId"]
        hub = client.server.app[HUB]
        async with clients(client) as cs:
            host = await cs.joined(rid, "Hana", host_key(room))
            await host.abort()
            await until(lambda: hub.graces.pending() == 1, what="grace started")
            assert hub.has_meeting(rid)
            await until(lambda: not hub.has_meeting(rid), timeout=10, what="meeting ended after the grace")
            await hub.idle()
        meetings = await client.server.app[STORE].list_meetings(rid)
        assert len(meetings) == 1 and meetings[0].end_reason == "last_participant_left"


async def test_a_resumed_participant_publishes_again_and_video_flows(settings_factory, auth):
    async with server(settings_factory, 15) as client:
        room = await make_room(client, auth)
        rid = room["roomId"]
        made: list[PeerClient] = []
        try:
            async with clients(client) as cs:
                host = await cs.joined(rid, "Hana", host_key(room))
                gus = await cs.joined(rid, "Gus")
                pid = gus.participant_id
                hp, gp = PeerClient("host"), PeerClient("gus")
                made += [hp, gp]
                answer_over_signaling(host, hp)
                answer_over_signaling(gus, gp)
                await publish_over_signaling(gus, gp, {"camera": SolidColourTrack(COLOURS["green"])})
                await hp.wait_for(lambda: hp.frames_from(pid, "video") >= 3, timeout=30, what="first video")
                await gus.abort()
                await gp.close()
                await hp.wait_for(lambda: pid not in hp.subscribed_publishers(), timeout=10, what="tracks gone")
                back = SignalingClient(ws_url(client))
                await back.connect()
                cs.opened.append(back)
                joined = await back.join(rid, "Gus", resume_token=gus.resume_token)
                assert joined["participantId"] == pid
                bp = PeerClient("gus again")
                made.append(bp)
                answer_over_signaling(back, bp)
                await publish_over_signaling(back, bp, {"camera": SolidColourTrack(COLOURS["blue"])})
                await hp.wait_for(lambda: (r := hp.video_from(pid)) is not None and r.frames >= 3
                                  and colour_close(r.mean_rgb, COLOURS["blue"]), timeout=30, what="video again")
        finally:
            for p in made:
                await p.close()


# --- knockers keep their place in the queue too ---------------------------------------------------

def knock_named(msg, name: str):
    return next((k for k in msg["knocks"] if k["displayName"] == name), None)


async def test_a_dropped_knocker_keeps_its_place_and_held_message(settings_factory, auth):
    async with server(settings_factory, 15) as client:
        async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
            first = await cs.open()
            status = await first.join(rid, "Ann")
            token = status["resumeToken"]
            assert status["state"] == "waiting" and token and len(token) >= 22
            await cs.knocking(rid, "Ben")
            queue = await host.wait_for("knocks", lambda m: [k["displayName"] for k in m["knocks"]] == ["Ann", "Ben"])
            ann_id = knock_named(queue, "Ann")["knockId"]
            await host.request("hold", knockId=ann_id, message="One minute please")
            await first.wait_for("knock_status", lambda m: m["state"] == "held")
            await first.abort()
            away = await host.wait_for("knocks", lambda m: m.get("change", {}).get("connection") == "reconnecting")
            assert [k["displayName"] for k in away["knocks"]] == ["Ann", "Ben"]
            assert knock_named(away, "Ann")["connection"] == "reconnecting"
            assert knock_named(away, "Ann")["state"] == "held"
            assert "connection" not in knock_named(away, "Ben")

            back = await cs.open()
            reply = await back.join(rid, "Ann", resume_token=token)
            assert reply["type"] == "knock_status" and reply["resumed"] is True
            assert reply["knockId"] == ann_id and reply["state"] == "held"
            assert reply["message"] == "One minute please" and reply["resumeToken"] == token
            here = await host.wait_for("knocks", lambda m: m.get("change", {}).get("connection") == "connected")
            assert [k["knockId"] for k in here["knocks"]][0] == ann_id
            assert "connection" not in knock_named(here, "Ann")
            assert not [m for m in host.history if m["type"] == "knocks"
                        and m.get("change", {}).get("state") == "cancelled"]
            # the same knock, on the new connection: admitting it lets the new connection in
            await host.request("admit", knockId=ann_id)
            joined = await back.wait_for("joined")
            assert joined["resumeToken"] == token
            # hosts never saw a knocker's token
            assert not carries(host, token)


@pytest.mark.parametrize("decision", ["admit", "reject", "end_meeting"])
async def test_a_knock_decided_while_away_is_told_on_resume(settings_factory, auth, decision):
    async with server(settings_factory, 15) as client:
        async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
            gus = await cs.open()
            token = (await gus.join(rid, "Gus"))["resumeToken"]
            queue = await host.wait_for("knocks", lambda m: knock_named(m, "Gus") is not None)
            kid = knock_named(queue, "Gus")["knockId"]
            await gus.abort()
            await host.wait_for("knocks", lambda m: m.get("change", {}).get("connection") == "reconnecting")
            if decision == "admit":
                await host.request("admit", knockId=kid)
            elif decision == "end_meeting":
                await host.request("end_meeting")
            else:
                await host.request("reject", knockId=kid, reason="not today")
            back = await cs.open()
            reply = await back.join(rid, "Gus", resume_token=token)
            if decision == "admit":
                assert reply["type"] == "joined" and reply["role"] == "guest"
                joined = await host.wait_for("participant_joined")
                assert joined["participant"]["participantId"] == reply["participantId"]
                assert reply["resumeToken"] == token
            elif decision == "end_meeting":
                assert reply["type"] == "ended" and reply["reason"] == "meeting_ended"
                assert not client.server.app[HUB].graces.knockers()
            else:
                assert reply["type"] == "knock_status" and reply["state"] == "rejected"
                assert reply["knockId"] == kid and reply["reason"] == "not today"
                assert reply["retryAfter"] > 0 and "resumeToken" not in reply
                again = await cs.open()
                with pytest.raises(SignalingErrorReply) as err:
                    await again.join(rid, "Gus")
                assert err.value.code == "rejected_recently"


async def test_after_the_grace_a_dropped_knock_is_cancelled(settings_factory, auth):
    async with server(settings_factory, 0.5) as client:
        async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
            gus = await cs.open()
            token = (await gus.join(rid, "Gus"))["resumeToken"]
            await host.wait_for("knocks", lambda m: knock_named(m, "Gus") is not None)
            await gus.abort()
            gone = await host.wait_for("knocks", lambda m: m.get("change", {}).get("state") == "cancelled",
                                       timeout=10)
            assert gone["knocks"] == []
            assert client.server.app[HUB].graces.pending() == 0 and not client.server.app[HUB].graces.knockers()
            back = await cs.open()
            reply = await back.join(rid, "Gus", resume_token=token)
            assert reply["type"] == "knock_status" and reply["state"] == "waiting"   # a new knock
            assert reply["resumeToken"] != token


async def test_leave_or_cancel_still_cancels_a_knock_at_once(settings_factory, auth):
    async with server(settings_factory, 15) as client:
        async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
            for name in ("Ann", "Ben"):
                c = await cs.open()
                token = (await c.join(rid, name))["resumeToken"]
                await host.wait_for("knocks", lambda m: knock_named(m, name) is not None)
                if name == "Ann":
                    await c.close()       # sends leave, like the browser on pagehide
                else:
                    await c.request("cancel_knock")
                change = (await host.wait_for("knocks", lambda m: m.get("change", {}).get("state") == "cancelled"
                                              and m["change"]["displayName"] == name))["change"]
                assert "connection" not in change
                back = await cs.open()
                reply = await back.join(rid, name, resume_token=token)
                assert reply["type"] == "knock_status" and reply["state"] == "waiting"
                assert reply["knockId"] != change["knockId"] and "resumed" not in reply
                await back.close()
            assert not client.server.app[HUB].graces.knockers()


async def test_a_live_knocker_token_reused_closes_the_old_connection(settings_factory, auth):
    async with server(settings_factory, 15) as client:
        async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
            gus = await cs.open()
            first = await gus.join(rid, "Gus")
            back = await cs.open()
            reply = await back.join(rid, "Gus", resume_token=first["resumeToken"])
            assert reply["knockId"] == first["knockId"] and reply["resumed"] is True
            assert (await gus.wait_for("ended"))["reason"] == "resumed_elsewhere"
            queue = await host.wait_for("knocks", lambda m: m.get("change", {}).get("connection") == "connected")
            assert [k["knockId"] for k in queue["knocks"]] == [first["knockId"]]
