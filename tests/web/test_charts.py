"""Chart geometry for the pages' inline SVG: bars in proportion and inside their box, axes at
round numbers, and a summary in words for every chart."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outage_notify.web.charts import (
    AXIS_WIDTH,
    LABEL_WIDTH,
    VALUE_WIDTH,
    columns,
    horizontal_bars,
    scale_top,
)

COUNTS = st.lists(st.integers(0, 10**7), min_size=1, max_size=300)


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (0.4, 1), (1, 1), (1.5, 2), (3, 5), (7, 10), (12, 20), (100, 100), (101, 200)],
)
def test_an_axis_ends_at_a_round_number(value: float, top: float) -> None:
    assert scale_top(value) == top


@given(st.floats(1, 1e9))
def test_an_axis_top_is_above_the_value_and_not_far(value: float) -> None:
    top = scale_top(value)
    assert value <= top <= 2.5 * value


def test_horizontal_bars_share_a_scale_and_say_what_they_show() -> None:
    chart = horizontal_bars(
        [("queued", 5, "tone-queued"), ("sent", 0, "tone-sent"), ("delivered", 20, "")],
        top=40,
        title="SMS messages by status",
        width=400,
    )
    span = 400 - LABEL_WIDTH - VALUE_WIDTH
    queued, sent, delivered = chart.bars
    assert delivered.width == pytest.approx(span / 2)
    assert queued.width == pytest.approx(span / 8)
    assert sent.width == 0
    assert queued.tone == "tone-queued"
    assert chart.summary == "SMS messages by status: 5 queued, 0 sent, 20 delivered."
    assert all(b.y + b.height <= chart.height for b in chart.bars)


def test_one_among_a_million_still_shows() -> None:
    chart = horizontal_bars([("failed", 1, ""), ("delivered", 10**6, "")], top=10**6, title="x")
    assert chart.bars[0].width >= 1.0
    assert "1\u202f000\u202f000 delivered" in chart.summary


@given(COUNTS)
def test_columns_stay_inside_their_plot(values: list[int]) -> None:
    labels = [f"{i // 60:02d}:{i % 60:02d}" for i in range(len(values))]
    chart = columns(
        values, labels, title="Replies", unit="per minute", marks=range(0, 300, 12), width=900
    )
    top = scale_top(max(values))
    assert len(chart.bars) == len(values)
    for bar, value in zip(chart.bars, values, strict=True):
        assert bar.x >= AXIS_WIDTH and bar.x + bar.width <= chart.width + 1e-6
        assert bar.y + bar.height == pytest.approx(chart.baseline)
        assert 0 <= bar.height <= chart.baseline - chart.top_line + 1e-6
        if value:
            assert bar.height == pytest.approx(
                max((chart.baseline - chart.top_line) * value / top, 1.0)
            )
    assert all(tick.x <= chart.width for tick in chart.ticks)


def test_a_series_summary_names_its_peak_and_its_latest() -> None:
    chart = columns(
        [0, 3, 1.5],
        ["18:00", "18:05", "18:10"],
        title="Replies",
        unit="per minute",
        marks=[0, 1, 2],
    )
    assert chart.summary == (
        "Replies: highest 3 per minute at 18:05; latest 1.5 per minute (18:10)."
    )
    quiet = columns([0, 0], ["18:00", "18:05"], title="Opt-outs", unit="per minute", marks=[0, 1])
    assert quiet.summary == "Opt-outs: none in this period."
    assert [t.text for t in quiet.ticks] == ["0", "1", "18:00", "18:05"]


def test_every_column_needs_its_label() -> None:
    with pytest.raises(ValueError, match="one label a value"):
        columns([1, 2], ["18:00"], title="x", unit="y", marks=[0])
