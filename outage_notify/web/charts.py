"""Chart geometry for pages drawn as inline SVG on the server: where each bar goes and the
words written on it. Pure: numbers and words in, rectangles out; the templates draw them (so a
chart is plain markup, works without JavaScript, and scales with its viewBox). The words (bar
labels, the summary every chart carries for its SVG description) come from the caller, in the
reader's language.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Horizontal bars: the longest bar, and room for the count right of it (SVG units); the labels
# on the left get what their longest needs, at about CHAR_WIDTH a character (the pages' sans
# serif at 14 px), at least LABEL_WIDTH.
BAR_SPAN = 200.0
LABEL_WIDTH = 60.0
CHAR_WIDTH = 8.0
VALUE_WIDTH = 70.0
ROW_HEIGHT = 22.0
BAR_HEIGHT = 14.0
# Column charts: the y-axis labels on the left, the time labels underneath.
AXIS_WIDTH = 64.0
AXIS_HEIGHT = 30.0
TOP_MARGIN = 24.0
# Room a time label takes under the axis: none is written closer than this to the right edge.
TIME_LABEL_WIDTH = 90.0


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float
    tone: str = ""  # a CSS class for its colour; the label says the same in words
    text: str = ""  # the value as written beside the bar


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    bars: list[Bar]
    summary: str  # what the chart shows, in words (its SVG description)
    ticks: list[Tick]  # axis labels (column charts)
    baseline: float  # y of the axis the bars stand on (column charts)
    plot_left: float
    top_line: float = 0.0  # y of the axis's top value (column charts)


@dataclass(frozen=True)
class Row:
    """One bar of a horizontal chart."""

    label: str
    value: float
    tone: str = ""
    text: str = ""  # the value as written beside the bar (default: the plain number)


def scale_top(value: float) -> float:
    """A round number at or above `value` for the top of an axis (1, 2, 5 × 10ⁿ), at least 1:
    bars keep their proportions and the axis label reads easily."""
    if value <= 1:
        return 1.0
    magnitude = 10.0 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return 10 * magnitude  # unreachable: 10 × magnitude exceeds any value of that length


def horizontal_bars(
    rows: Sequence[Row], *, top: float, summary: str, span: float = BAR_SPAN
) -> Chart:
    """One bar a row, lengths in proportion to `top` (shared by charts that are to be
    compared, so equal counts draw equal bars in each), the longest `span` long."""
    labels = max(LABEL_WIDTH, CHAR_WIDTH * max((len(row.label) for row in rows), default=0) + 8)
    bars = [
        Bar(
            label=row.label,
            value=row.value,
            x=labels,
            y=i * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
            width=length(row.value, top, span),
            height=BAR_HEIGHT,
            tone=row.tone,
            text=row.text or plain_number(row.value),
        )
        for i, row in enumerate(rows)
    ]
    return Chart(
        width=labels + span + VALUE_WIDTH,
        height=max(len(rows), 1) * ROW_HEIGHT,
        bars=bars,
        summary=summary,
        ticks=[],
        baseline=0.0,
        plot_left=labels,
    )


def columns(
    values: Sequence[float],
    labels: Sequence[str],
    *,
    summary: str,
    marks: Sequence[int],
    number: Callable[[float], str] | None = None,
    width: float = 900.0,
    height: float = 200.0,
) -> Chart:
    """One column a value, left to right (a time series); `labels` name each column (its
    time), and those of the columns in `marks` are written under the axis (where they fit).
    The y axis runs from 0 to a round number at or above the highest value, written with
    `number`."""
    if len(values) != len(labels):
        raise ValueError("one label a value")
    write = number or plain_number
    top = scale_top(max(values, default=0.0))
    plot_width = width - AXIS_WIDTH
    plot_height = height - AXIS_HEIGHT - TOP_MARGIN
    baseline = TOP_MARGIN + plot_height
    slot = plot_width / max(len(values), 1)
    gap = min(1.0, slot / 4)
    bars = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        tall = length(value, top, plot_height)
        bars.append(
            Bar(label, value, AXIS_WIDTH + i * slot + gap / 2, baseline - tall, slot - gap, tall)
        )
    ticks = [
        Tick(AXIS_WIDTH - 6, baseline, write(0)),
        Tick(AXIS_WIDTH - 6, TOP_MARGIN, write(top)),
    ] + [
        Tick(AXIS_WIDTH + i * slot, height - 6, labels[i])
        for i in sorted(set(marks))
        if 0 <= i < len(labels) and AXIS_WIDTH + i * slot <= width - TIME_LABEL_WIDTH
    ]
    return Chart(
        width=width,
        height=height,
        bars=bars,
        summary=summary,
        ticks=ticks,
        baseline=baseline,
        plot_left=AXIS_WIDTH,
        top_line=TOP_MARGIN,
    )


def peak(values: Sequence[float]) -> int | None:
    """The index of the highest value (the first of equals), None when all are zero."""
    if not values or max(values) <= 0:
        return None
    return max(range(len(values)), key=lambda i: values[i])


def length(value: float, top: float, span: float) -> float:
    """A bar's length: in proportion, and at least a hairline for anything above zero (one
    message among a million still shows)."""
    if value <= 0 or top <= 0:
        return 0.0
    return max(span * min(value / top, 1.0), 1.0)


def plain_number(value: float) -> str:
    """A number without a locale: an integer as such, anything else with one decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
