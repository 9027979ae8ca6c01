"""`quick_min_frame_period` gives aiortc's `OveruseEstimator.update_min_frame_period` results."""

from __future__ import annotations

from aiortc.rate import OveruseEstimator
from hypothesis import given, strategies as st

from media.aiortc_compat.lean_receive import quick_min_frame_period


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=200))
def test_same_minimum_and_history_as_aiortc(deltas):
    stock, quick = OveruseEstimator(), OveruseEstimator()
    quick_min_frame_period(quick)
    for d in deltas:
        assert quick.update_min_frame_period(d) == stock.update_min_frame_period(d)
    assert quick.ts_delta_hist == stock.ts_delta_hist


def test_a_method_of_that_estimator_only():
    patched, other = OveruseEstimator(), OveruseEstimator()
    quick_min_frame_period(patched)
    assert "update_min_frame_period" in vars(patched) and "update_min_frame_period" not in vars(other)
