"""A ``joined``'s roster is joined from each participant's entry encoded once and kept
(signaling/live/participant.py ``public`` / ``public_frame``, signaling/wire/codec.py
``encode_with_list``): whatever changes about a participant must show in the next newcomer's roster,
in JSON and in msgpack, exactly as the room was told it in ``participant_updated``.
"""

from __future__ import annotations

import json

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signaling.live.hub import Hub
from signaling.ports import RoomInfo
from signaling.wire.codec import Codec, EncodeError
from tests.helpers.live_fakes import Clock, FakeConnection, MemoryDirectory

OPEN = RoomInfo(room_id="r1", display_name="Room", is_locked=False, max_participants=20)


@pytest.fixture
async def hub():
    clock = Clock()
    hub = Hub(MemoryDirectory(OPEN), knock_cooldown_seconds=30, knocks_per_ip_per_minute=30,
              reconnect_grace_seconds=60, wall_clock=clock, clock=clock)
    await hub.start()
    yield hub
    await hub.close()


async def join(hub: Hub, name: str, key: str | None = None, binary: bool = False, **fields) -> FakeConnection:
    c = FakeConnection(hub, binary=binary)
    reply = await c.request("join", roomName="r1", displayName=name, key=key, **fields)
    assert reply["type"] == "joined", reply
    return c


async def entry_seen_by_newcomers(hub: Hub, pid: str) -> dict:
    """The roster entry a JSON newcomer and a msgpack newcomer get for ``pid`` (the same one)."""
    entries = []
    for binary in (False, True):
        c = await join(hub, "Newcomer", binary=binary)
        entries.append(next(e for e in c.last("joined")["participants"] if e["participantId"] == pid))
        await c.request("leave")
    assert entries[0] == entries[1]
    return entries[0]


async def test_every_change_shows_in_the_next_roster_as_the_room_was_told(hub):
    host = await join(hub, "Hana", key="host")
    gus = await join(hub, "Gus", binary=True)
    p = gus.participant
    pid = p.participant_id
    assert (await entry_seen_by_newcomers(hub, pid))["displayName"] == "Gus"

    await gus.request("set_display_name", displayName="Gus B")
    seen = await entry_seen_by_newcomers(hub, pid)
    assert seen["displayName"] == "Gus B" and seen == host.last("participant_updated")["participant"]

    await gus.request("set_muted", kind="audio", muted=True)
    seen = await entry_seen_by_newcomers(hub, pid)
    assert seen["muted"] == {"audio": True, "video": False, "screen": False}
    assert seen == host.last("participant_updated")["participant"]

    await host.request("promote", participantId=pid)
    seen = await entry_seen_by_newcomers(hub, pid)
    assert seen["role"] == "host" and seen == host.last("participant_updated")["participant"]

    token = gus.last("joined")["resumeToken"]
    gus.drop()
    seen = await entry_seen_by_newcomers(hub, pid)
    assert seen["connection"] == "reconnecting" and seen == host.last("participant_updated")["participant"]

    back = await join(hub, "ignored", resumeToken=token)
    assert back.last("joined")["resumed"] is True
    seen = await entry_seen_by_newcomers(hub, pid)
    assert "connection" not in seen and seen == host.last("participant_updated")["participant"]
    assert seen["displayName"] == "Gus B" and seen["role"] == "host" and seen["muted"]["audio"] is True


async def test_the_roster_lists_everyone_in_order_with_the_newcomer_last(hub):
    names = ["Hana", "Gus", "Ида", "李", "O'Brien \"Ob\""]
    for i, name in enumerate(names):
        c = await join(hub, name, key="host" if i == 0 else None, binary=bool(i % 2))
        joined = c.last("joined")
        assert [e["displayName"] for e in joined["participants"]] == names[:i + 1]
        assert joined["participants"][-1]["participantId"] == joined["participantId"]


async def test_mute_state_is_changed_through_the_participant_only(hub):
    gus = await join(hub, "Gus")
    with pytest.raises(TypeError):
        gus.participant.muted["audio"] = True   # would change it without dropping the kept entry


names = st.text(max_size=30)
values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | names,
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
                      max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(message=st.dictionaries(names.filter(lambda k: k != "participants"), values, max_size=6),
       entries=st.lists(st.dictionaries(names, values, max_size=4), max_size=8), binary=st.booleans())
def test_a_list_of_encoded_parts_decodes_as_if_encoded_whole(message, entries, binary):
    codec = Codec(binary, 1 << 20)
    try:
        whole = codec.encode({**message, "participants": entries})
    except EncodeError:     # a lone surrogate, say: then the joined frame must refuse it too
        with pytest.raises(EncodeError):
            codec.encode_with_list(message, "participants", [codec.encode(e) for e in entries])
        return
    frame = codec.encode_with_list(message, "participants", [codec.encode(e) for e in entries])
    assert type(frame) is type(whole)
    decode = (lambda f: msgpack.unpackb(f, raw=False, strict_map_key=False)) if binary else json.loads
    assert decode(frame) == decode(whole)
