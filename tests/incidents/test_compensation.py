"""The Act's duration and bands, tested directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outage_notify.incidents.compensation import (
    PERCENTS,
    band_for,
    bands,
    chained_duration,
)

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
TABLE = bands([12, 24, 72, 120, 192, 288])


def test_the_bands_of_the_act() -> None:
    assert band_for(11.9 * H, TABLE) is None
    assert [band_for(h * H, TABLE).percent for h in (12, 23, 24, 72, 120, 192, 288, 999)] == [  # type: ignore[union-attr]
        10,
        10,
        25,
        50,
        100,
        150,
        200,
        200,
    ]


@pytest.mark.parametrize("hours", [[12, 24], [24, 12, 72, 120, 192, 288], [0, 1, 2, 3, 4, 5]])
def test_bad_thresholds_are_refused(hours: list[float]) -> None:
    with pytest.raises(ValueError, match="COMPENSATION_HOURS"):
        bands(hours)


def test_an_outage_resuming_within_two_hours_continues_the_same_duration() -> None:
    first = (T0, T0 + 7 * H)
    second = (T0 + 8 * H, None)  # back after one hour with power: the same outage
    assert chained_duration([first, second], now=T0 + 13 * H) == 12 * H


def test_an_outage_resuming_after_more_than_two_hours_starts_again() -> None:
    first = (T0, T0 + 7 * H)
    second = (T0 + 10 * H, None)
    assert chained_duration([first, second], now=T0 + 13 * H) == 3 * H


def test_overlapping_incidents_count_their_hours_once() -> None:
    assert chained_duration([(T0, T0 + 5 * H), (T0 + 2 * H, None)], now=T0 + 6 * H) == 6 * H


@given(
    pieces=st.lists(st.tuples(st.integers(0, 500), st.integers(1, 50)), min_size=1, max_size=8),
    now_hours=st.integers(0, 600),
)
def test_the_duration_never_exceeds_the_span_nor_the_sum_of_the_outages(
    pieces: list[tuple[int, int]], now_hours: int
) -> None:
    intervals = [(T0 + s * H, T0 + (s + d) * H) for s, d in pieces]
    now = T0 + now_hours * H
    total = chained_duration(intervals, now=now)
    assert timedelta(0) <= total <= sum((d * H for _, d in pieces), timedelta(0))
    assert total <= now - T0 or total == timedelta(0)


def test_six_percentages() -> None:
    assert PERCENTS == (10, 25, 50, 100, 150, 200)
