"""A burst of joins over real websockets (media/turns.py hands each connection's messages a few per
loop iteration): everyone gets in, and each connection's messages keep their order."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.signaling import room_with_host

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
