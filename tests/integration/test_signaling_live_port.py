"""REST reaching live rooms (LiveMeetings), domain events, and server shutdown."""

from __future__ import annotations

import pytest

from tests.helpers.signaling import clients, host_key, hub, make_room, room_with_host, serve


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


async def test_rest_close_turns_waiting_knocks_away(client, auth):
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        guest = await cs.knocking(rid, "Gus")
        await host.wait_for("knocks", lambda m: m["knocks"])
        resp = await client.put(f"/api/v1/rooms/{rid}/status?applyLive=true", json={"status": "closed"},
                                headers=auth)
        assert resp.status == 200, await resp.text()
        st = await guest.wait_for("knock_status", lambda m: m["state"] == "rejected")
        assert st["reason"] == "room_closed"
        upd = await host.wait_for("room_updated", lambda m: m["room"]["status"] == "closed")
        assert upd["room"]["roomId"] == rid
        assert not host.closed.is_set()          # the meeting itself goes on


async def test_rest_role_overrides_reach_connected_participants(client, auth):
    room = await make_room(client, auth)
    rid = room["roomId"]
    async with clients(client) as cs:
        await cs.joined(rid, "Hana", host_key(room))
        guest = await cs.joined(rid, "Gus")
        body = {"roles": {"speaker": {"permissions": {"canWriteChat": False}}}}
        resp = await client.put(f"/api/v1/rooms/{rid}/roles?applyLive=true", json=body, headers=auth)
        assert resp.status == 200, await resp.text()
        perms = await guest.wait_for("permissions")
        assert perms["permissions"]["canWriteChat"] is False and perms["role"] == "guest"
        from signaling.client import SignalingErrorReply
        with pytest.raises(SignalingErrorReply) as exc:
            await guest.request("chat", text="hi")
        assert exc.value.code == "forbidden"


async def test_domain_events_for_webhooks(client, auth):
    seen: list[tuple[str, dict]] = []
    hub(client).events.subscribe(lambda name, data: seen.append((name, data)))
    async with room_with_host(client, auth, isLocked=True) as (rid, cs, host):
        guest, _ = await cs.admitted(host, rid, "Gus")
        await host.request("end_meeting")
        await guest.wait_closed()
    names = [n for n, _ in seen]
    assert names[:2] == ["room.session.started", "room.client.joined"]
    assert "room.client.knocked" in names and "room.client.knock_decided" in names
    assert names[-1] == "room.session.ended"
    ended = seen[-1][1]
    assert ended["room_id"] == rid and ended["peak"] == 2 and ended["reason"] == "meeting_ended"
    knocked = dict(seen)["room.client.knocked"]
    assert knocked["display_name"] == "Gus" and "ip" not in knocked


async def test_server_shutdown_tells_everyone(settings_factory, auth):
    async with serve(settings_factory()) as client:
        room = await make_room(client, auth, isLocked=True)
        rid = room["roomId"]
        cs_ctx = clients(client)
        cs = await cs_ctx.__aenter__()
        host = await cs.joined(rid, "Hana", host_key(room))
        guest = await cs.knocking(rid, "Gus")
    try:
        assert (await host.wait_for("ended"))["reason"] == "server_shutdown"
        assert (await guest.wait_for("ended"))["reason"] == "server_shutdown"
    finally:
        await cs_ctx.__aexit__(None, None, None)
