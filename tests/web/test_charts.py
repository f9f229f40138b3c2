"""Chart geometry for the pages' inline SVG: bars in proportion and inside their box, axes at
round numbers, the words the caller gives written where they belong."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outage_notify.web.charts import (
    AXIS_WIDTH,
    CHAR_WIDTH,
    LABEL_WIDTH,
    VALUE_WIDTH,
    Row,
    columns,
    horizontal_bars,
    peak,
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


def test_horizontal_bars_share_a_scale_and_carry_their_words() -> None:
    rows = [Row("queued", 5, "tone-queued", "5"), Row("sent", 0), Row("delivered", 20, "", "20")]
    chart = horizontal_bars(rows, top=40, summary="SMS: 5 queued, 0 sent, 20 delivered.", span=240)
    span = 240
    queued, sent, delivered = chart.bars
    assert chart.width == chart.plot_left + span + VALUE_WIDTH
    assert chart.plot_left == max(LABEL_WIDTH, CHAR_WIDTH * len("delivered") + 8)
    assert all(bar.x == chart.plot_left for bar in chart.bars)
    assert delivered.width == pytest.approx(span / 2)
    assert queued.width == pytest.approx(span / 8)
    assert sent.width == 0
    assert (queued.tone, queued.text, sent.text) == ("tone-queued", "5", "0")
    assert chart.summary == "SMS: 5 queued, 0 sent, 20 delivered."
    assert all(b.y + b.height <= chart.height for b in chart.bars)


def test_long_labels_get_room() -> None:
    chart = horizontal_bars([Row("jätetty lähettämättä", 1)], top=1, summary="")
    assert chart.plot_left >= CHAR_WIDTH * len("jätetty lähettämättä")


def test_one_among_a_million_still_shows() -> None:
    chart = horizontal_bars([Row("failed", 1), Row("delivered", 10**6)], top=10**6, summary="")
    assert chart.bars[0].width >= 1.0
    assert chart.bars[1].text == "1000000"


@given(COUNTS)
def test_columns_stay_inside_their_plot(values: list[int]) -> None:
    labels = [f"{i // 60:02d}:{i % 60:02d}" for i in range(len(values))]
    chart = columns(values, labels, summary="", marks=range(0, 300, 12), width=900)
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


def test_the_axis_is_written_with_the_caller_s_numbers_and_marked_times() -> None:
    chart = columns(
        [0, 1500, 3],
        ["18:00", "18:05", "18:10"],
        summary="Replies",
        marks=[0, 2, 7],
        number=lambda v: f"<{v:g}>",
    )
    assert [t.text for t in chart.ticks] == ["<0>", "<2000>", "18:00", "18:10"]
    quiet = columns([0, 0], ["18:00", "18:05"], summary="", marks=[0, 1])
    assert [t.text for t in quiet.ticks] == ["0", "1", "18:00", "18:05"]


def test_the_peak_is_the_first_highest_and_none_when_all_are_zero() -> None:
    assert peak([0, 3, 1.5, 3]) == 1
    assert peak([0, 0]) is None
    assert peak([]) is None


def test_every_column_needs_its_label() -> None:
    with pytest.raises(ValueError, match="one label a value"):
        columns([1, 2], ["18:00"], summary="x", marks=[0])
