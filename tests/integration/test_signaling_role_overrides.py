"""Per-role permission overrides changed through REST (PUT /rooms/{id}/roles) in live rooms."""

from __future__ import annotations

import pytest

from signaling.client import SignalingErrorReply
from tests.helpers.signaling import clients, host_key, make_room

pytestmark = pytest.mark.timeout(60)


async def put_speaker(client, auth, rid: str, **perms: bool) -> None:
    resp = await client.put(f"/api/v1/rooms/{rid}/roles?applyLive=true", headers=auth,
                            json={"roles": {"speaker": {"permissions": perms}}})
    assert resp.status == 200, await resp.text()


async def refused(cs, rid: str, name: str) -> dict:
    c = await cs.open()
    with pytest.raises(SignalingErrorReply) as exc:
        await c.join(rid, name)
    await c.request("ping")           # the connection stays usable
    return exc.value.reply


@pytest.mark.parametrize("locked", [False, True])
async def test_speakers_may_not_join_refuses_new_guests_with_forbidden(client, auth, locked):
    room = await make_room(client, auth, isLocked=locked)
    rid = room["roomId"]
    async with clients(client) as cs:
        await put_speaker(client, auth, rid, canJoinMeeting=False)       # no meeting running yet
        err = await refused(cs, rid, "Gus")
        assert err["code"] == "forbidden" and "join" in err["message"]

        host = await cs.joined(rid, "Hana", host_key(room))               # hosts still enter
        await put_speaker(client, auth, rid, canJoinMeeting=True)
        guest = await cs.open()
        reply = await guest.join(rid, "Gia")
        assert reply["type"] == ("knock_status" if locked else "joined")
        if locked:
            await host.wait_for("knocks", lambda m: m["knocks"])
            await host.request("admit", knockId=reply["knockId"])
            await guest.wait_for("joined")

        # changed while the meeting runs: the live room refuses the next guest at once
        await put_speaker(client, auth, rid, canJoinMeeting=False)
        perms = await guest.wait_for("permissions")
        assert perms["permissions"]["canJoinMeeting"] is False
        err = await refused(cs, rid, "Gus")
        assert err["code"] == "forbidden"
        assert not [m for m in host.history if m["type"] == "knocks" and any(k["displayName"] == "Gus"
                                                                           for k in m["knocks"])]
        # the guest already in the meeting stays; the host's view is unchanged
        await host.request("chat", text="still here")
        await guest.wait_for("chat", lambda m: m["text"] == "still here")


async def test_a_queued_guest_cannot_be_let_in_once_speakers_may_not_join(client, auth):
    room = await make_room(client, auth, isLocked=True)
    rid = room["roomId"]
    async with clients(client) as cs:
        host = await cs.joined(rid, "Hana", host_key(room))
        gus = await cs.knocking(rid, "Gus")
        kid = (await host.wait_for("knocks", lambda m: m["knocks"]))["knocks"][0]["knockId"]
        await put_speaker(client, auth, rid, canJoinMeeting=False)
        with pytest.raises(SignalingErrorReply) as exc:
            await host.request("admit", knockId=kid)
        assert exc.value.code == "forbidden"
        assert (await host.request("admit_all"))["admitted"] == 0
        assert not [m for m in gus.history if m["type"] == "joined"]
        # unlocking turns the queued guest away rather than letting them in
        resp = await client.put(f"/api/v1/rooms/{rid}/lock", headers=auth, json={"isLocked": False})
        assert resp.status == 200, await resp.text()
        status = await gus.wait_for("knock_status", lambda m: m["state"] == "rejected")
        assert status["reason"] == "forbidden"
        await put_speaker(client, auth, rid, canJoinMeeting=True)
        again = await cs.joined(rid, "Gia")              # unlocked, speakers allowed again
        assert again.participant_id
