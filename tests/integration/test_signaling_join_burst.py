"""A burst of joins over real websockets (media/turns.py hands each connection's messages a few per
loop iteration): everyone gets in, and each connection's messages keep their order, also when its
writer sends a backlog of roster changes as one frame."""

from __future__ import annotations

import asyncio
import json

import msgpack
import pytest

from tests.helpers.signaling import hub, room_with_host

GUESTS = 16     # under the 20 websockets per address that may wait for a join (config.py)
RENAMES = 4


@pytest.fixture
def store_kind() -> str:
    return "sqlite"


async def test_a_burst_of_joins_all_get_in_and_each_connections_messages_keep_their_order(client, auth):
    async with room_with_host(client, auth, roomMode="group") as (rid, cs, host):
        guests = await asyncio.gather(*(cs.open() for _ in range(GUESTS)))

        async def join_and_rename(i: int) -> str:
            g = guests[i]
            joined = await g.join(rid, f"Guest {i}")
            assert joined["type"] == "joined", joined
            for n in range(1, RENAMES + 1):     # sent back to back, not waited for one by one
                await g.send("set_display_name", displayName=f"Guest {i}.{n}")
            return joined["participantId"]

        ids = await asyncio.wait_for(asyncio.gather(*(join_and_rename(i) for i in range(GUESTS))), 60)
        assert len(set(ids)) == GUESTS
        # the host sees each guest's renames in the order they were sent, the last one last
        seen: dict[str, list[str]] = {pid: [] for pid in ids}
        while any(not names or not names[-1].endswith(f".{RENAMES}") for names in seen.values()):
            m = await host.wait_for("participant_updated", timeout=60)
            seen[m["participant"]["participantId"]].append(m["participant"]["displayName"])
        for i, pid in enumerate(ids):
            numbers = [int(name.rsplit(".", 1)[1]) for name in seen[pid]]
            assert numbers == sorted(numbers) and numbers[-1] == RENAMES, (i, seen[pid])
            assert all(name.startswith(f"Guest {i}.") for name in seen[pid])


@pytest.mark.parametrize("use_msgpack", [False, True])
async def test_a_backlog_of_roster_changes_goes_as_one_frame_in_order(client, auth, use_msgpack):
    """Roster changes queued faster than a connection's writer runs (wire/merge.py): the host gets
    them as merged frames, in the order they were made, with any other message kept in its place; the
    Python client expands them back into single messages."""
    async with room_with_host(client, auth, roomMode="group") as (rid, cs, host):
        guests = [await cs.joined(rid, f"Guest {i}", use_msgpack=use_msgpack) for i in range(3)]
        watcher = await cs.joined(rid, "Watcher", use_msgpack=use_msgpack)
        room = hub(client).room(rid)
        people = [room.find(g.participant_id) for g in guests]
        before = len(watcher.raw_frames)
        # what MeetingFlows.enter / remove broadcast, queued in one go (nothing runs in between)
        for p in people:
            room.broadcast({"type": "participant_joined", "participant": p.public()}, exclude=p)
        room.broadcast({"type": "participant_updated", "participant": people[0].public()})
        for p in people[:2]:
            room.broadcast({"type": "participant_left", "participantId": p.participant_id, "reason": "left"})
        got = [await watcher.wait_for(None, lambda m: m["type"].startswith("participant"), timeout=30)
               for _ in range(6)]
        assert [(m["type"], m.get("participant", {}).get("participantId") or m.get("participantId"))
                for m in got] == [
            *(("participant_joined", p.participant_id) for p in people),
            ("participant_updated", people[0].participant_id),
            *(("participant_left", p.participant_id) for p in people[:2])]
        decode = (lambda f: msgpack.unpackb(f, raw=False)) if use_msgpack else json.loads
        frames = [decode(f) for f in watcher.raw_frames[before:]]
        assert [f["type"] for f in frames] == ["participants_joined", "participant_updated", "participants_left"]
        assert [p["participant"]["displayName"] for p in frames[0]["participants"]] == \
            [f"Guest {i}" for i in range(3)]
        assert [p["reason"] for p in frames[2]["participants"]] == ["left", "left"]
        # one at a time, a roster change goes as it always did
        await guests[2].send("leave")
        left = await watcher.wait_for("participant_left", timeout=30)
        assert left["participantId"] == people[2].participant_id
        assert decode(watcher.raw_frames[-1])["type"] == "participant_left"
