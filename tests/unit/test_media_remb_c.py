"""The C REMB estimator (media/aiortc_compat/_remb.c) against aiortc's own RemoteBitrateEstimator:
the same REMB (bitrate and SSRCs) after every packet, and the same filter figures, for packet
streams through a link of limited capacity (its queue builds up and drains: overuse, underuse,
the rate control's increase, decrease and hold), with jitter, reordering, clock steps back,
abs-send-time wrap-around and RTX SSRCs."""

from __future__ import annotations

import pytest
from aiortc.rate import RemoteBitrateEstimator
from hypothesis import given, settings
from hypothesis import strategies as st

_srtpsend = pytest.importorskip("media.aiortc_compat._srtpsend", reason="the C module is not built")
Estimator = _srtpsend.Estimator


def figures(py: RemoteBitrateEstimator) -> dict:
    return {"offset": py.estimator._offset, "slope": py.estimator.slope, "var_noise": py.estimator.var_noise,
            "threshold": float(py.detector.threshold), "num_of_deltas": py.estimator._num_of_deltas,
            "hypothesis": py.detector.hypothesis.value, "avg_noise": py.estimator.avg_noise,
            "current_bitrate": py.rate_control.current_bitrate, "rate_state": py.rate_control.state.value,
            "bitrate_sum": py.incoming_bitrate._total.value}


def packets(frames: list[tuple[int, int, int, int, int]], capacity_kbps: int, start_s: float) -> list[tuple]:
    """(arrival_ms, abs_send_time, size, ssrc) of frames sent through a link of `capacity_kbps`:
    each frame is (gap after the previous one in ms, packets, size, extra delay ms, ssrc choice)."""
    out, send_ms, link_free_ms = [], start_s * 1000.0, 0.0
    for gap, count, size, extra, choice in frames:
        send_ms += gap
        for _ in range(count):
            link_free_ms = max(link_free_ms, send_ms) + size * 8 / capacity_kbps
            arrival = int(link_free_ms) + extra
            abs_send_time = int(send_ms / 1000 * (1 << 18)) & 0xFFFFFF    # 6.18 fixed point seconds
            out.append((arrival, abs_send_time, size, (1111, 2222, 3333)[choice]))
    return out


def run_both(stream: list[tuple]) -> set[tuple]:
    """Both estimators over `stream`, compared after every packet; what aiortc's went through:
    {(detector hypothesis, rate control state, near max)} after each REMB."""
    py, c = RemoteBitrateEstimator(), Estimator()
    seen = set()
    for i, (arrival, ast, size, ssrc) in enumerate(stream):
        a = py.add(arrival_time_ms=arrival, abs_send_time=ast, payload_size=size, ssrc=ssrc)
        b = c.add(arrival, ast, size, ssrc) if i % 2 else \
            c.add(arrival_time_ms=arrival, abs_send_time=ast, payload_size=size, ssrc=ssrc)
        assert b == a, i
        assert c.state() == figures(py), i
        if a is not None:
            seen.add((py.detector.hypothesis.name, py.rate_control.state.name, py.rate_control.near_max))
    return seen


frame = st.tuples(st.integers(0, 120), st.integers(1, 6), st.integers(1, 1400), st.integers(-40, 60),
                  st.sampled_from((0, 0, 0, 1, 2)))


@settings(max_examples=150, deadline=None)
@given(frames=st.lists(frame, min_size=1, max_size=400), capacity_kbps=st.integers(100, 5000),
       start_s=st.floats(0, 64))
def test_the_same_remb_and_figures_as_aiortc_for_any_stream(frames, capacity_kbps, start_s):
    run_both(packets(frames, capacity_kbps, start_s))


def test_a_link_that_fills_up_and_drains_goes_through_every_state_alike():
    """30 fps video through a 1 Mbit/s link: 10 s at 0.72 Mbit/s, 10 s at 1.44 (the queue builds:
    overuse, decrease) and 15 s at 0.48 (it drains: underuse, then increase, additive near the
    link's maximum); the abs-send-time wraps at 64 s."""
    frames = [(33, 3, 1000, 0, 0)] * 300 + [(33, 6, 1000, 0, 0)] * 300 + [(33, 2, 1000, 0, 0)] * 450
    seen = run_both(packets(frames, capacity_kbps=1000, start_s=63.5))
    assert seen == {("OVERUSING", "HOLD", True), ("UNDERUSING", "HOLD", True),     # after a decrease
                    ("NORMAL", "INCREASE", False), ("NORMAL", "INCREASE", True)}   # multiplicative, additive


def test_state_survives_a_restart_of_the_clock_and_huge_gaps():
    stream = [(10_000 + 33 * i, (i * 8650) & 0xFFFFFF, 900, 1111) for i in range(200)]
    stream += [(5_000 + 33 * i, (i * 8650) & 0xFFFFFF, 900, 1111) for i in range(50)]        # the clock went back
    stream += [(10_000_000 + 33 * i, (i * 8650) & 0xFFFFFF, 900, 1111) for i in range(50)]   # a long silence
    run_both(stream)
