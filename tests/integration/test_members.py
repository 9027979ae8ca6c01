"""Members REST API (OpenVidu Meet shape) and member links in live meetings."""

from __future__ import annotations

import pytest

from signaling.client import SignalingErrorReply
from tests.helpers.signaling import clients, make_room


def _key(member: dict) -> str:
    return member["accessUrl"].split("memberKey=")[1]


@pytest.mark.parametrize("prefix", ["/api/v1", "/meet/api/v1"])
async def test_member_crud(client, auth, prefix):
    room = await make_room(client, auth)
    rid = room["roomId"]
    base = f"{prefix}/rooms/{rid}/members"
    resp = await client.post(base, json={"name": "Mo", "baseRole": "moderator"}, headers=auth)
    assert resp.status == 201, await resp.text()
    mo = await resp.json()
    assert mo["memberId"] and mo["name"] == "Mo" and mo["baseRole"] == "moderator"
    assert mo["accessUrl"].startswith(f"http://meet.test/{rid}?memberKey=")
    assert mo["effectivePermissions"]["canKickParticipants"] is True
    assert resp.headers["Location"].endswith(f"/members/{mo['memberId']}")
    resp = await client.post(base, json={"name": "Sam", "baseRole": "speaker",
                                         "customPermissions": {"canWriteChat": False}}, headers=auth)
    sam = await resp.json()
    assert sam["effectivePermissions"]["canWriteChat"] is False
    assert sam["effectivePermissions"]["canPublishVideo"] is True
    assert sam["customPermissions"] == {"canWriteChat": False}
    listed = await (await client.get(base, headers=auth)).json()
    assert {m["memberId"] for m in listed["members"]} == {mo["memberId"], sam["memberId"]}
    assert listed["pagination"] == {"isTruncated": False, "nextPageToken": None, "maxItems": 10}
    got = await (await client.get(f"{base}/{sam['memberId']}", headers=auth)).json()
    assert got == sam
    resp = await client.put(f"{base}/{sam['memberId']}", json={"name": "Samuel", "baseRole": "moderator"},
                            headers=auth)
    assert resp.status == 200
    upd = await resp.json()
    assert upd["name"] == "Samuel" and upd["baseRole"] == "moderator" and upd["accessUrl"] == sam["accessUrl"]
    resp = await client.delete(f"{base}/{sam['memberId']}", headers=auth)
    assert resp.status == 200   # OpenVidu Meet answers 200 with a message
    assert (await resp.json())["message"] == f"Member '{sam['memberId']}' deleted successfully from room '{rid}'"
    resp = await client.get(f"{base}/{sam['memberId']}", headers=auth)
    assert resp.status == 404 and (await resp.json())["code"] == "member_not_found"


async def test_member_validation_and_auth(client, auth):
    room = await make_room(client, auth)
    base = f"/api/v1/rooms/{room['roomId']}/members"
    assert (await client.get(base)).status == 401
    for body in ({"name": "x"}, {"name": "x", "baseRole": "viewer"}, {"name": "", "baseRole": "speaker"},
                 {"name": "x", "baseRole": "speaker", "customPermissions": {"canFly": True}},
                 {"name": "x", "baseRole": "speaker", "extra": 1}):
        resp = await client.post(base, json=body, headers=auth)
        assert resp.status == 422, body
        assert (await resp.json())["code"] == "validation_error"
    resp = await client.post(base, data="{nope", headers={**auth, "Content-Type": "application/json"})
    assert resp.status == 400
    resp = await client.post("/api/v1/rooms/nope/members", json={"name": "x", "baseRole": "speaker"}, headers=auth)
    assert resp.status == 404 and (await resp.json())["code"] == "room_not_found"
    assert (await (await client.get(base, headers=auth)).json())["members"] == []


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_members_enter_locked_rooms_and_deleted_links_stop_working(client, auth):
    room = await make_room(client, auth, isLocked=True)
    rid = room["roomId"]
    base = f"/api/v1/rooms/{rid}/members"
    sam = await (await client.post(base, json={"name": "Sam", "baseRole": "speaker"}, headers=auth)).json()
    mo = await (await client.post(base, json={"name": "Mo", "baseRole": "moderator"}, headers=auth)).json()
    async with clients(client) as cs:
        moc = await cs.joined(rid, "Mo", _key(mo))             # a moderator member is a host
        samc = await cs.open()
        joined = await samc.join(rid, "Sam", _key(sam))        # a speaker member skips the queue
        assert joined["type"] == "joined" and joined["role"] == "guest"
        assert joined["permissions"]["canKickParticipants"] is False
        guest = await cs.knocking(rid, "Gus")
        k = await moc.wait_for("knocks", lambda m: m["knocks"])
        await moc.request("admit", knockId=k["knocks"][0]["knockId"])
        await guest.wait_for("joined")
        # deleting the member removes them from the meeting at once
        resp = await client.delete(f"{base}/{sam['memberId']}", headers=auth)
        assert resp.status == 200
        assert (await samc.wait_for("ended"))["reason"] == "member_deleted"
        left = await moc.wait_for("participant_left", lambda m: m["participantId"] == joined["participantId"])
        assert left["reason"] == "member_deleted"
        again = await cs.open()
        with pytest.raises(SignalingErrorReply) as exc:
            await again.join(rid, "Sam", _key(sam))
        assert exc.value.code == "invalid_key"
        forged = _key(mo).split(".")[0] + ".AAAA"
        with pytest.raises(SignalingErrorReply) as exc:
            await (await cs.open()).join(rid, "Mo", forged)
        assert exc.value.code == "invalid_key"


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_member_edits_reach_a_connected_member_at_once(client, auth):
    from tests.helpers.signaling import host_key

    room = await make_room(client, auth, isLocked=True)
    rid = room["roomId"]
    base = f"/api/v1/rooms/{rid}/members"
    sam = await (await client.post(base, json={"name": "Sam", "baseRole": "speaker"}, headers=auth)).json()
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        samc = await cs.open()
        joined = await samc.join(rid, "Sam", _key(sam))
        sid = joined["participantId"]
        assert joined["role"] == "guest" and "knocks" not in joined
        gus = await cs.knocking(rid, "Gus")
        await host.wait_for("knocks", lambda m: m["knocks"])
        with pytest.raises(SignalingErrorReply) as exc:
            await samc.request("admit", knockId="k_nobody")
        assert exc.value.code == "forbidden"

        # promoted to moderator through REST: at once, without rejoining
        resp = await client.put(f"{base}/{sam['memberId']}", json={"baseRole": "moderator"}, headers=auth)
        assert resp.status == 200, await resp.text()
        perms = await samc.wait_for("permissions")
        assert perms["role"] == "host" and perms["permissions"]["canKickParticipants"] is True
        knocks = await samc.wait_for("knocks")
        assert [k["displayName"] for k in knocks["knocks"]] == ["Gus"]
        for c in (host, samc):
            upd = await c.wait_for("participant_updated", lambda m: m["participant"]["participantId"] == sid)
            assert upd["participant"]["role"] == "host"
        await samc.request("admit", knockId=knocks["knocks"][0]["knockId"])   # the new power works
        await gus.wait_for("joined")

        # back to speaker, without chat: the member loses both at once
        resp = await client.put(f"{base}/{sam['memberId']}", headers=auth,
                                json={"baseRole": "speaker", "customPermissions": {"canWriteChat": False}})
        assert resp.status == 200
        perms = await samc.wait_for("permissions", lambda m: m["role"] == "guest")
        assert perms["permissions"]["canKickParticipants"] is False
        assert perms["permissions"]["canWriteChat"] is False
        upd = await gus.wait_for("participant_updated", lambda m: m["participant"]["participantId"] == sid
                                 and m["participant"]["role"] == "guest")
        assert upd["participant"]["displayName"] == "Sam"
        with pytest.raises(SignalingErrorReply) as exc:
            await samc.request("chat", text="hello?")
        assert exc.value.code == "forbidden"
        with pytest.raises(SignalingErrorReply) as exc:
            await samc.request("kick", participantId=gus.participant_id)
        assert exc.value.code == "forbidden"
        # a name-only edit changes nothing live
        before = len(samc.history)
        resp = await client.put(f"{base}/{sam['memberId']}", json={"name": "Samuel"}, headers=auth)
        assert resp.status == 200
        await samc.request("ping")
        assert not [m for m in samc.history[before:] if m["type"] in ("permissions", "participant_updated")]
