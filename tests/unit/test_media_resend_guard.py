"""Which NACKed packets are sent again (media/forward/resend.py): not twice within a round trip,
at most three times, and within a budget of a quarter of the packets forwarded, so a subscriber on a
congested link that NACKs everything missing at every new gap does not get a storm of resends.
Pure logic: a clock passed in; the storm replay drives a real PacketSubscription with a list for
its transport (tests/unit/test_media_nack_history.py's stand-ins)."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from media.forward.resend import BURST, FORGET, MAX_RESENDS, MIN_INTERVAL, SHARE, ResendGuard
from tests.unit.test_media_nack_history import feed, publisher_packet, subscription


def test_a_packet_is_not_resent_again_within_a_round_trip_nor_more_than_three_times():
    g = ResendGuard(forwarded=0)
    assert g.allow(10, now=0.0, forwarded=1000)
    assert not g.allow(10, now=0.05, forwarded=1000)             # within 100 ms: the same loss
    assert g.allow(10, now=0.11, forwarded=1000)
    assert not g.allow(10, now=0.3, forwarded=1000, rtt=0.5)     # a known round trip of 0.5 s counts
    assert g.allow(10, now=0.62, forwarded=1000, rtt=0.5)
    assert not g.allow(10, now=5.0, forwarded=1000)              # three times already
    assert g.ignored == 3
    assert g.allow(11, now=5.0, forwarded=1000)                  # another packet is its own


def test_a_record_is_forgotten_with_the_history_so_a_sequence_number_after_a_wrap_is_new():
    g = ResendGuard(forwarded=0)
    for t in (0.0, 0.2, 0.4):
        assert g.allow(7, now=t, forwarded=1000)
    assert not g.allow(7, now=0.6, forwarded=1000)
    assert g.allow(7, now=0.4 + FORGET, forwarded=2000)           # 65536 packets later: another packet


def test_resends_are_bounded_by_a_quarter_of_what_is_forwarded_after_the_burst():
    g = ResendGuard(forwarded=0)
    allowed = sum(g.allow(seq, now=0.0, forwarded=0) for seq in range(200))
    assert allowed == int(BURST)                                  # the saved budget, then nothing
    assert not g.allow(500, now=0.0, forwarded=0)
    allowed = sum(g.allow(1000 + seq, now=1.0, forwarded=40) for seq in range(50))
    assert allowed == int(SHARE * 40)                             # 40 packets forwarded earn 10 resends


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.floats(0, 0.5), st.integers(0, 20)), max_size=300))
def test_never_more_than_the_budget_nor_three_resends_of_one_packet(nacks):
    g = ResendGuard(forwarded=0)
    now, forwarded, allowed = 0.0, 0, {}
    for seq, step, sent in nacks:
        now += step
        forwarded += sent
        if g.allow(seq, now, forwarded):
            allowed.setdefault(seq, []).append(now)
    total = sum(len(v) for v in allowed.values())
    assert total <= BURST + SHARE * forwarded
    for times in allowed.values():
        assert all(b - a >= MIN_INTERVAL for a, b in zip(times, times[1:]))
        # FORGET seconds after its last resend a sequence number is another packet's (a later wrap):
        # at most MAX_RESENDS of each packet, counted since the last such gap
        run = 0
        for i, t in enumerate(times):
            run = 1 if i == 0 or t - times[i - 1] >= FORGET else run + 1
            assert run <= MAX_RESENDS, times


def test_a_receiver_nacking_everything_missing_at_every_gap_gets_each_packet_once_per_round_trip():
    """aiortc's receiver NACKs all of its (up to 128) missing packets whenever a new gap appears:
    on a link losing most packets, 100 packets forwarded used to bring ~100 x 50 resends."""
    sub, sent, history = subscription()
    packets = [publisher_packet(1000 + i, 960 * i, b"p" * 200) for i in range(100)]
    feed(sub, history, packets)
    ours = [int.from_bytes(d[2:4], "big") for d in sent]
    lost = ours[::2]                                      # the link lost every other packet

    async def storm() -> None:                            # well within one round trip (100 ms)
        for i in range(1, len(lost) + 1):                 # each packet that arrives reveals a new gap
            for seq in lost[:i]:
                await sub._retransmit(seq)
    asyncio.run(storm())
    resent = len(sent) - 100
    assert resent <= BURST + SHARE * 100                  # was 1275 (50 x 51 / 2) before the guard
    assert len(set(sent[100:])) == resent                 # and no packet twice within the round trip
    assert sub.counts()["nacks_ignored"] == 1275 - resent
