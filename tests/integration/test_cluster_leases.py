"""Leases, meeting ownership and the leader lease on the real Redis (server/cluster/)."""

from __future__ import annotations

import asyncio
import time

import pytest

from server.cluster.leader import Leader
from server.cluster.leases import LeaseKeeper, Leases
from server.cluster.ownership import Ownership
from tests.helpers.cluster_redis import TcpProxy, cluster_namespace, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


@pytest.fixture
async def ns(redis_url):
    async with cluster_namespace(redis_url) as namespace:
        yield namespace


@pytest.fixture
async def proxy(redis_url):
    """A TCP proxy in front of the test Redis (cut it to make Redis unreachable for one client)."""
    p = await TcpProxy.to_redis(redis_url)
    yield p
    await p.cut()


def leases_of(ns, *node_ids, via=None):
    client = ns.client(via)
    return [Leases(client, ns.prefix, n) for n in node_ids]


async def test_two_nodes_claim_one_meeting_only_one_holds(ns):
    la, lb = leases_of(ns, "node-a", "node-b")
    a, b = Ownership(la, "node-a"), Ownership(lb, "node-b")
    try:
        got_a, got_b = await asyncio.gather(a.claim("room1"), b.claim("room1"))
        assert (got_a is None) != (got_b is None)
        winner, loser = (a, b) if got_a else (b, a)
        assert await a.owner("room1") == await b.owner("room1") == winner.node_id
        assert winner.held("room1") is not None and loser.held("room1") is None
        assert winner.owned() == ["room1"] and loser.owned() == []
        # the holder's second claim is the same lease; the other still cannot
        assert await winner.claim("room1") is winner.held("room1")
        assert await loser.claim("room1") is None
        # released: the other claims it, with a newer epoch
        epoch = winner.held("room1").epoch
        await winner.release("room1")
        assert winner.held("room1") is None
        lease = await loser.claim("room1")
        assert lease is not None and lease.epoch > epoch
        assert await winner.owner("room1") == loser.node_id
    finally:
        await a.close()
        await b.close()
    assert await la.holder("meeting:room1") is None


async def test_concurrent_claims_on_one_node_share_the_acquisition(ns):
    (la,) = leases_of(ns, "node-a")
    a = Ownership(la, "node-a")
    try:
        leases = await asyncio.gather(*(a.claim("r") for _ in range(5)))
        assert all(lease is leases[0] for lease in leases) and leases[0] is not None
        assert leases[0].epoch == 1
    finally:
        await a.close()


async def test_a_cancelled_claim_still_keeps_the_lease_it_took(ns):
    (la,) = leases_of(ns, "node-a")
    a = Ownership(la, "node-a")
    try:
        caller = asyncio.create_task(a.claim("r"))
        await asyncio.sleep(0)                        # the acquisition is under way
        caller.cancel()
        await wait_for(lambda: a.held("r") is not None, timeout=5)
        assert await la.holder("meeting:r") == ("node-a", a.held("r").epoch)
    finally:
        await a.close()
    assert await la.holder("meeting:r") is None


async def test_epoch_increases_on_each_acquisition(ns):
    la, lb = leases_of(ns, "node-a", "node-b")
    epochs = []
    for leases in (la, lb, la, la, lb):
        lease = await leases.acquire("meeting:x", 5000)
        assert lease is not None
        assert await la.holder("meeting:x") == (leases.node_id, lease.epoch)
        assert await lb.acquire("meeting:x", 5000) is None and await la.acquire("meeting:x", 5000) is None
        epochs.append(lease.epoch)
        await lease.release()
        assert not lease.valid and await la.holder("meeting:x") is None
    assert epochs == sorted(set(epochs)) and len(epochs) == 5


async def test_expired_lease_is_taken_over_and_the_stale_holder_cannot_write(ns):
    la, lb = leases_of(ns, "node-a", "node-b")
    target = ns.prefix + "mirror:room1"
    old = await la.acquire("meeting:room1", 600)
    keeper = LeaseKeeper(old, lambda lease: None)
    keeper.start()
    assert await old.fenced_set(target, b"from-a", px=10_000)
    await asyncio.sleep(1.5)            # an observation period of several ttls, not a timing check
    assert old.valid and await lb.acquire("meeting:room1", 600) is None
    await keeper.stop()                               # the old holder stops renewing

    new = None

    async def taken() -> bool:
        nonlocal new
        new = await lb.acquire("meeting:room1", 5000)
        return new is not None

    await wait_for(taken, timeout=10)
    assert new.epoch > old.epoch
    assert not old.valid
    assert await old.fenced_set(target, b"stale") is False
    assert await old.fenced_delete(target) is False
    assert await old.renew() is False
    assert await ns.client().get(target) == b"from-a"
    assert await new.fenced_set(target, b"from-b")
    assert await ns.client().get(target) == b"from-b"
    await old.release()                               # not its lease any more: a no-op
    assert await lb.holder("meeting:room1") == ("node-b", new.epoch)
    assert await new.fenced_delete(target)
    assert await ns.client().exists(target) == 0
    await new.release()


async def test_fenced_set_checks_redis_not_only_the_local_deadline(ns):
    la, lb = leases_of(ns, "node-a", "node-b")
    old = await la.acquire("meeting:r", 5000)
    await ns.client().delete(la.lease_key("meeting:r"))   # as if it expired on Redis
    new = await lb.acquire("meeting:r", 5000)
    assert old.valid                                  # locally still trusted...
    assert await old.fenced_set(ns.prefix + "mirror:r", b"x") is False   # ...but fenced by Redis
    assert await old.renew() is False and not old.valid
    await new.release()


async def test_valid_turns_false_at_the_deadline_without_redis(ns):
    (la,) = leases_of(ns, "node-a")
    lost = []
    lease = await la.acquire("meeting:p", 300)
    keeper = LeaseKeeper(lease, lost.append)
    keeper.start()
    assert lease.valid
    # the process is paused longer than the ttl (SIGSTOP-like: the loop does not run at all)
    time.sleep(0.4)
    assert not lease.valid                            # known at once, before any round trip
    assert await lease.renew() is False               # a dead lease is never revived
    await wait_for(lambda: lost == [lease], timeout=5)
    await keeper.stop()
    assert lost == [lease]


async def test_keeper_reports_loss_once_when_redis_is_unreachable(ns, proxy):
    (la,) = leases_of(ns, "node-a", via=proxy.url())
    lost = []
    lease = await la.acquire("meeting:q", 600)
    keeper = LeaseKeeper(lease, lost.append)
    keeper.start()
    await proxy.cut()
    took = await wait_for(lambda: bool(lost), timeout=10)
    assert lost == [lease] and not lease.valid
    assert took < 3.0
    assert keeper._task is not None and keeper._task.done() and keeper._task.exception() is None
    await keeper.stop()


async def test_ownership_drops_a_lost_meeting_and_calls_back_once(ns):
    la, lb = leases_of(ns, "node-a", "node-b")
    a, b = Ownership(la, "node-a", ttl_ms=600), Ownership(lb, "node-b", ttl_ms=600)
    lost: list[str] = []
    a.on_lost(lost.append)
    try:
        assert await a.claim("m1") is not None and await a.claim("m2") is not None
        await ns.client().delete(la.lease_key("meeting:m1"))   # taken over behind a's back
        assert await b.claim("m1") is not None
        await wait_for(lambda: lost == ["m1"], timeout=5)
        assert a.held("m1") is None and a.owned() == ["m2"]
        assert await a.owner("m1") == "node-b"
        # a deadline that passes (loop paused) is not trusted at the first look; nobody else took
        # the lease meanwhile, so it is acquired anew with a fresh epoch, and nothing is lost
        old_epoch = a.held("m2").epoch
        time.sleep(0.7)
        assert a.held("m2") is None and a.owned() == [] and not a.may_act("m2")
        await a.settle("m2")
        assert a.held("m2") is not None and a.held("m2").epoch > old_epoch and a.may_act("m2")
        await asyncio.sleep(0)                                 # no second call for either room
        assert lost == ["m1"]

    finally:
        await a.close()
        await b.close()


async def _sample_leaders(leaders, stop: asyncio.Event, overlaps: list, seen: set) -> None:
    while not stop.is_set():
        now = [x for x in leaders if x.is_leader]
        if len(now) > 1:
            overlaps.append(time.monotonic())
        seen.update(id(x) for x in now)
        await asyncio.sleep(0.002)


async def test_leader_two_candidates_never_both_and_takeover_after_close(ns):
    la, lb = leases_of(ns, "node-a", "node-b")
    a, b = Leader(la, "leader:sweeper", ttl_ms=600), Leader(lb, "leader:sweeper", ttl_ms=600)
    stop, overlaps, seen = asyncio.Event(), [], set()
    sampler = asyncio.create_task(_sample_leaders([a, b], stop, overlaps, seen))
    try:
        a.start()
        await wait_for(lambda: a.is_leader, timeout=5)
        b.start()
        await asyncio.sleep(1.5)        # several renew periods with both competing (observation)
        assert a.is_leader and not b.is_leader and a.epoch is not None
        epoch = a.epoch
        closed_at = time.monotonic()
        await a.close()
        assert not a.is_leader
        await wait_for(lambda: b.is_leader, timeout=10)
        took = time.monotonic() - closed_at
        assert took < 0.6 * 2, f"takeover after close took {took:.3f} s"
        assert b.epoch > epoch
    finally:
        stop.set()
        await sampler
        await a.close()
        await b.close()
    assert overlaps == []


async def test_leader_takeover_when_the_leader_cannot_renew(ns, proxy):
    (la,) = leases_of(ns, "node-a", via=proxy.url())
    (lb,) = leases_of(ns, "node-b")
    a, b = Leader(la, "leader:sweeper", ttl_ms=600), Leader(lb, "leader:sweeper", ttl_ms=600)
    stop, overlaps, seen = asyncio.Event(), [], set()
    sampler = asyncio.create_task(_sample_leaders([a, b], stop, overlaps, seen))
    try:
        a.start()
        await wait_for(lambda: a.is_leader, timeout=5)
        b.start()
        await proxy.cut()                                 # a can no longer reach Redis
        cut_at = time.monotonic()
        await wait_for(lambda: b.is_leader, timeout=10)
        took = time.monotonic() - cut_at
        assert not a.is_leader
        assert took < 0.6 * 3, f"takeover took {took:.3f} s"
        # Redis comes back for a: it does not lead again while b holds the lease
        await proxy.restore()
        await asyncio.sleep(1.0)        # observation period
        assert b.is_leader and not a.is_leader
    finally:
        stop.set()
        await sampler
        await a.close()
        await b.close()
    assert overlaps == [] and len(seen) == 2
