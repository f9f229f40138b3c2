"""The dashboard's arithmetic: nearest-rank percentiles and aligned time buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outage_notify.timeline.stats import Buckets, nearest_rank

DELAYS = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200)
MOMENTS = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
)
SIZES = st.integers(1, 3600).map(lambda s: timedelta(seconds=s))
WINDOWS = st.integers(1, 48 * 3600).map(lambda s: timedelta(seconds=s))


def test_nearest_rank_by_hand() -> None:
    delays = [300, 10, 40, 20, 30]
    assert nearest_rank(delays, 50) == 30
    assert nearest_rank(delays, 95) == 300
    assert nearest_rank(delays, 20) == 10
    assert nearest_rank(delays, 100) == 300
    assert nearest_rank([7.5], 50) == nearest_rank([7.5], 95) == 7.5
    assert nearest_rank([], 50) is None


@pytest.mark.parametrize("percent", [0, -1, 100.5])
def test_a_percent_outside_zero_to_a_hundred_is_refused(percent: float) -> None:
    with pytest.raises(ValueError, match="percent"):
        nearest_rank([1.0], percent)


@given(DELAYS, st.floats(0.1, 100))
def test_a_percentile_is_one_of_the_values_with_enough_at_or_below_it(
    values: list[float], percent: float
) -> None:
    found = nearest_rank(values, percent)
    assert found in values
    at_or_below = sum(v <= found for v in values)
    assert at_or_below >= percent / 100 * len(values) - 1e-9
    assert sum(v < found for v in values) < percent / 100 * len(values)


@given(DELAYS)
def test_p50_never_exceeds_p95(values: list[float]) -> None:
    p50, p95 = nearest_rank(values, 50), nearest_rank(values, 95)
    assert p50 is not None and p95 is not None and p50 <= p95 <= max(values)


def test_buckets_by_hand() -> None:
    now = datetime(2026, 11, 25, 19, 2, 30, tzinfo=UTC)
    buckets = Buckets.ending_at(now, window=timedelta(hours=1), size=timedelta(minutes=5))
    assert buckets.start == datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    assert buckets.count == 13  # 18:00 … 19:00, the last one holding now
    assert buckets.end == datetime(2026, 11, 25, 19, 5, tzinfo=UTC)
    assert buckets.index_of(datetime(2026, 11, 25, 18, 4, 59, tzinfo=UTC)) == 0
    assert buckets.index_of(now) == 12
    assert buckets.index_of(buckets.end) is None
    assert buckets.start_epoch == int(buckets.start.timestamp())
    assert buckets.series({0: 2, 12: 1, 99: 5}) == [2] + [0] * 11 + [1]


@given(MOMENTS, WINDOWS, SIZES)
def test_buckets_are_aligned_and_cover_the_window_up_to_now(
    now: datetime, window: timedelta, size: timedelta
) -> None:
    buckets = Buckets.ending_at(now, window=window, size=size)
    assert buckets.start_epoch % buckets.seconds == 0
    assert buckets.start <= now - window < buckets.start + size
    assert buckets.index_of(now) == buckets.count - 1
    assert buckets.index_of(now - window) == 0
    starts = buckets.starts()
    assert len(starts) == buckets.count and starts[0] == buckets.start
    assert all(later - earlier == size for earlier, later in pairwise(starts))


@pytest.mark.parametrize(
    ("window", "size", "reason"),
    [
        (timedelta(hours=1), timedelta(seconds=0.5), "whole number of seconds"),
        (timedelta(hours=1), timedelta(seconds=90.5), "whole number of seconds"),
        (timedelta(0), timedelta(minutes=5), "longer than zero"),
    ],
)
def test_bad_buckets_are_refused(window: timedelta, size: timedelta, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Buckets.ending_at(datetime(2026, 1, 1, tzinfo=UTC), window=window, size=size)
