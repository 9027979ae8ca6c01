"""MeetingMirror (server/live/mirror.py) on the real Redis: fenced writes of the room's snapshot,
coalesced, deleted when the meeting ends, kept on hand-over. The lease is a stand-in with the
Lease interface (fenced_set / fenced_delete / valid) over the same Redis."""

from __future__ import annotations

import asyncio
import uuid

import msgpack
import pytest
import redis.asyncio as aioredis

from server.live.mirror import MeetingMirror
from signaling.live.hub import Hub
from signaling.ports import RoomInfo
from tests.helpers.live_fakes import Clock, FakeConnection, MemoryDirectory
from tests.helpers.redis_server import drop_prefix

LOCKED = RoomInfo(room_id="r1", display_name="Room", is_locked=True)


class StandInLease:
    """Writes while ``held``; counts the writes in flight at once."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis, self.held, self.valid = redis, True, True
        self.in_flight = self.most_in_flight = self.sets = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def fenced_set(self, key: str, value: bytes, px: int | None = None) -> bool:
        return await self._do(self.redis.set(key, value))

    async def fenced_delete(self, key: str) -> bool:
        return await self._do(self.redis.delete(key))

    async def _do(self, command) -> bool:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
            if not self.held:
                command.close()
                return False
            await command
            self.sets += 1
            return True
        finally:
            self.in_flight -= 1


@pytest.fixture
async def setup(redis_url):
    prefix = f"t{uuid.uuid4().hex[:12]}:cluster:"
    redis = aioredis.from_url(redis_url)
    directory = MemoryDirectory(LOCKED)
    clock = Clock()
    hub = Hub(directory, reconnect_grace_seconds=30, wall_clock=clock, clock=clock)
    await hub.start()
    lease = StandInLease(redis)
    mirror = MeetingMirror(redis, prefix, hub, lambda room_id: lease)
    mirror.start()
    yield hub, mirror, lease, redis, directory
    await mirror.close()
    await hub.close()
    await redis.aclose()
    await drop_prefix(redis_url, prefix)


async def join(hub: Hub, name: str, key: str | None = None) -> FakeConnection:
    c = FakeConnection(hub)
    await c.request("join", roomName="r1", displayName=name, **({"key": key} if key else {}))
    return c


async def test_the_snapshot_is_written_fenced_and_coalesced(setup):
    hub, mirror, lease, redis, _ = setup
    lease.gate.clear()          # the first write hangs while the room keeps changing
    host = await join(hub, "Hana", key="host")
    knockers = [await join(hub, f"K{i}") for i in range(5)]
    await host.request("hold", knockId=knockers[2].last("knock_status")["knockId"], message="wait")
    await asyncio.sleep(0)
    lease.gate.set()
    await mirror.flush("r1")
    assert lease.most_in_flight == 1
    assert lease.sets <= 3      # one write in flight, one more with the latest state (+ restarts)
    snap = await mirror.load("r1")
    assert snap == hub.snapshot("r1")
    assert [k["displayName"] for k in snap["knocks"]] == [f"K{i}" for i in range(5)]
    assert snap["knocks"][2]["message"] == "wait"
    assert msgpack.unpackb(await redis.get(mirror.key("r1")), raw=False) == snap


async def test_a_lost_lease_writes_nothing_more(setup):
    hub, mirror, lease, redis, _ = setup
    await join(hub, "Hana", key="host")
    await mirror.flush("r1")
    before = await redis.get(mirror.key("r1"))
    lease.held = False
    await join(hub, "Kai")
    await mirror.flush("r1")
    assert await redis.get(mirror.key("r1")) == before


async def test_deleted_when_the_meeting_ends_kept_on_hand_over(setup):
    hub, mirror, lease, redis, _ = setup
    host = await join(hub, "Hana", key="host")
    await mirror.flush("r1")
    assert await mirror.load("r1") is not None
    await host.request("end_meeting")
    await mirror.flush("r1")
    assert await redis.get(mirror.key("r1")) is None and await mirror.load("r1") is None

    await join(hub, "Hana", key="host")
    await join(hub, "Kai")
    await mirror.flush("r1")
    kept = await mirror.load("r1")
    assert hub.hand_over("r1", "draining")
    await asyncio.sleep(0)
    await mirror.flush("r1")
    assert await mirror.load("r1") == kept


async def test_no_lease_no_write(redis_url):
    prefix = f"t{uuid.uuid4().hex[:12]}:cluster:"
    redis = aioredis.from_url(redis_url)
    hub = Hub(MemoryDirectory(LOCKED), reconnect_grace_seconds=30)
    await hub.start()
    mirror = MeetingMirror(redis, prefix, hub, lambda room_id: None)
    mirror.start()
    try:
        await join(hub, "Hana", key="host")
        await mirror.flush()
        assert await redis.get(mirror.key("r1")) is None
    finally:
        await mirror.close()
        await hub.close()
        await redis.aclose()


async def test_another_hub_restores_the_meeting_from_the_mirror(setup, redis_url):
    hub, mirror, lease, redis, directory = setup
    host = await join(hub, "Hana", key="host")
    kai = await join(hub, "Kai")
    hub.set_recording("r1", "rec_1")
    await mirror.flush("r1")
    fresh = Hub(directory, reconnect_grace_seconds=30)
    await fresh.start()
    other = MeetingMirror(redis, mirror.prefix, fresh, lambda room_id: lease)
    try:
        snap = await other.restore("r1")
        assert snap is not None and snap["recordingId"] == "rec_1"
        room = fresh.room("r1")
        assert list(room.participants) == [host.participant.participant_id]
        assert [k.knock_id for k in room.waiting.pending()] == [kai.last("knock_status")["knockId"]]
        assert await other.restore("r1") is None          # live here already
        assert await other.restore("nowhere") is None
    finally:
        await fresh.close()


async def test_a_stale_owner_cannot_overwrite_the_new_owners_mirror(redis_url):
    """With the real fenced leases (server/cluster/leases.py): node a's lease moved to node b while
    a still trusts it (a pause): a's writes are refused, b's mirror stays."""
    from server.cluster.leases import Leases

    prefix = f"t{uuid.uuid4().hex[:12]}:cluster:"
    redis = aioredis.from_url(redis_url)
    directory = MemoryDirectory(LOCKED)
    hubs = [Hub(directory, reconnect_grace_seconds=30) for _ in range(2)]
    mirrors: list[MeetingMirror] = []
    try:
        for h in hubs:
            await h.start()
        lease_a = await Leases(redis, prefix, "a").acquire("meeting:r1", 60_000)
        mirrors.append(MeetingMirror(redis, prefix, hubs[0], lambda room_id: lease_a))
        mirrors[0].start()
        await join(hubs[0], "Hana", key="host")
        await mirrors[0].flush("r1")
        snap = await mirrors[0].load("r1")

        await redis.delete(f"{prefix}lease:meeting:r1")          # a's lease expired (a was paused)
        lease_b = await Leases(redis, prefix, "b").acquire("meeting:r1", 60_000)
        assert lease_b is not None and lease_b.epoch > lease_a.epoch and lease_a.valid
        mirrors.append(MeetingMirror(redis, prefix, hubs[1], lambda room_id: lease_b))
        mirrors[1].start()
        assert await mirrors[1].restore("r1") == snap
        await mirrors[1].flush("r1")
        b_wrote = await redis.get(mirrors[1].key("r1"))

        await join(hubs[0], "Kai")                               # a acts on its stale view
        await mirrors[0].flush("r1")
        assert await redis.get(mirrors[0].key("r1")) == b_wrote
    finally:
        for m in mirrors:
            await m.close()
        for h in hubs:
            await h.close()
        await redis.aclose()
        await drop_prefix(redis_url, prefix)
