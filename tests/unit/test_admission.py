"""Who enters at once, who knocks, who is turned away (pure)."""

from __future__ import annotations

import pytest

from signaling.rules.admission import ENTER, KNOCK, Counts, decide, has_room_for, permissions_for
from signaling.errors import Forbidden, RoomClosed, RoomFull
from signaling.ports import Identity, RoomInfo

HOST = Identity("host", "moderator")
GUEST = Identity("guest", "speaker")
VIEWER = Identity("viewer", "viewer")
MEMBER = Identity("guest", "speaker", member_id="mbr_1")


def run(room: RoomInfo, who: Identity, counts: Counts = Counts()) -> str:
    return decide(room, who, counts, permissions_for(room, who))


@pytest.mark.parametrize("who, locked, expected", [
    (GUEST, False, ENTER), (GUEST, True, KNOCK),
    (HOST, True, ENTER), (VIEWER, True, ENTER), (MEMBER, True, ENTER),
])
def test_lock_decides_knock_for_guests_only(who, locked, expected):
    assert run(RoomInfo("r", is_locked=locked), who) == expected


def test_closed_room():
    with pytest.raises(RoomClosed):
        run(RoomInfo("r", status="closed"), HOST)


def test_full_room_also_for_knocks_and_viewers_counted_apart():
    room = RoomInfo("r", is_locked=True, max_participants=2, max_viewers=1)
    with pytest.raises(RoomFull):
        run(room, GUEST, Counts(participants=2))
    with pytest.raises(RoomFull):
        run(room, HOST, Counts(participants=2))
    assert run(room, VIEWER, Counts(participants=2, viewers=0)) == ENTER
    with pytest.raises(RoomFull):
        run(room, VIEWER, Counts(participants=0, viewers=1))
    assert has_room_for(room, "guest", Counts(participants=1, viewers=5))


def test_room_role_overrides_can_forbid_joining():
    room = RoomInfo("r", roles={"speaker": {"permissions": {"canJoinMeeting": False}}})
    with pytest.raises(Forbidden):
        run(room, GUEST)
    assert run(room, HOST) == ENTER


def test_member_custom_permissions_apply():
    member = Identity("guest", "speaker", member_id="m", custom_permissions={"canKickParticipants": True})
    assert permissions_for(RoomInfo("r"), member)["canKickParticipants"] is True
    assert permissions_for(RoomInfo("r"), GUEST)["canKickParticipants"] is False
