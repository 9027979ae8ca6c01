"""Key -> identity (server/domain/access/identity.py): the one rule joining and recording access use."""

from __future__ import annotations

import pytest

from server.domain.access.identity import HOST, MEMBER, RECORDING, VIEWER, RoomAccess, link_enabled
from server.domain.access.keys import derive_key
from server.store.records import Member, Room

SECRET = b"s" * 32


class Members:
    """The one store call the rule makes (get_member), over a dict."""

    def __init__(self, *members: Member) -> None:
        self.members = {(m.room_id, m.member_id): m for m in members}
        self.asked: list[str] = []

    async def get_member(self, room_id: str, member_id: str) -> Member | None:
        self.asked.append(member_id)
        return self.members.get((room_id, member_id))


def room(**kw) -> Room:
    return Room(room_id="r1", **kw)


@pytest.mark.parametrize("kind, base_role", [(HOST, "moderator"), (VIEWER, "viewer"), (RECORDING, "viewer")])
async def test_each_room_key_names_its_bearer(kind, base_role):
    access = RoomAccess(SECRET, Members())
    bearer = await access.bearer(room(), access.key(room(), kind))
    assert (bearer.kind, bearer.base_role, bearer.enabled, bearer.member) == (kind, base_role, True, None)


async def test_keys_of_another_room_or_version_or_made_up_are_no_one():
    access = RoomAccess(SECRET, Members())
    assert await access.bearer(room(), derive_key(SECRET, "r2", "host", 0)) is None
    assert await access.bearer(room(key_version=1), derive_key(SECRET, "r1", "host", 0)) is None   # rotated
    assert await access.bearer(room(), "not-a-key") is None
    assert await access.bearer(room(), "") is None


async def test_member_keys_carry_the_member_and_its_own_version():
    alice = Member(member_id="mbr_alice", room_id="r1", name="Alice", base_role="speaker",
                   custom_permissions={"canRecord": True})
    members = Members(alice)
    access = RoomAccess(SECRET, members)
    key = access.member_key(alice)
    assert key.startswith("mbr_alice.")
    bearer = await access.bearer(room(), key)
    assert (bearer.kind, bearer.member, bearer.base_role) == (MEMBER, alice, "speaker")
    perms = bearer.permissions(room())
    assert perms["canRecord"] is True and perms["canDeleteRecordings"] is False
    old = RoomAccess(SECRET, Members(Member(member_id="mbr_alice", room_id="r1", name="Alice",
                                            base_role="speaker", key_version=1)))
    assert await old.bearer(room(), key) is None                       # the member's link was renewed
    assert await access.bearer(room(), "mbr_bob." + key.split(".", 1)[1]) is None
    members.asked.clear()
    assert await access.bearer(room(), "x" * 101 + ".key") is None
    assert members.asked == []                                         # an id no member has: no lookup


async def test_a_turned_off_link_is_recognised_and_grants_nothing():
    off = room(access={"anonymous": {"moderator": {"enabled": False}, "recording": {"enabled": False}}})
    access = RoomAccess(SECRET, Members())
    for kind in (HOST, RECORDING):
        bearer = await access.bearer(off, access.key(off, kind))
        assert bearer.kind == kind and bearer.enabled is False and bearer.permissions(off) == {}
    viewer = await access.bearer(off, access.key(off, VIEWER))
    assert viewer.enabled and viewer.permissions(off)["canJoinMeeting"] is True


async def test_permissions_follow_the_room_roles():
    denied = room(roles={"moderator": {"permissions": {"canRetrieveRecordings": False}}})
    access = RoomAccess(SECRET, Members())
    host = await access.bearer(denied, access.key(denied, HOST))
    assert host.permissions(denied)["canRetrieveRecordings"] is False
    recording = await access.bearer(denied, access.key(denied, RECORDING))
    assert recording.permissions(denied) == {"canRetrieveRecordings": True}


def test_links_are_on_unless_turned_off():
    assert link_enabled(room(), "speaker") and link_enabled(room(access={"anonymous": {}}), "moderator")
    assert not link_enabled(room(access={"anonymous": {"speaker": {"enabled": False}}}), "speaker")
