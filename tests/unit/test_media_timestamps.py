"""RTP timestamp unwrapping on the receive path (pure logic)."""

from __future__ import annotations

from media.inbound import TimestampUnwrapper


def test_unwraps_across_the_32_bit_boundary_and_keeps_late_frames_before():
    u = TimestampUnwrapper()
    assert [u.map(t) for t in (2**32 - 3000, 0, 3000)] == [2**32 - 3000, 2**32, 2**32 + 3000]
    assert u.map(2**32 - 1500) == 2**32 - 1500  # late frame maps just before


def test_a_new_stream_continues_after_the_last_timestamp():
    u = TimestampUnwrapper()
    assert [u.map(t) for t in (100, 3100)] == [100, 3100]
    u.continue_after(3000)  # new SSRC: random timestamps, here far behind
    assert [u.map(t) for t in (5, 3005, 2**32 - 10)] == [6100, 9100, 6085]
    assert u.map(6005) == 12100


def test_continue_after_before_any_frame_changes_nothing():
    u = TimestampUnwrapper()
    u.continue_after(3000)
    assert u.map(42) == 42
