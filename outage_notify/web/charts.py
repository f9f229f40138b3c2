"""Chart geometry for pages drawn as inline SVG on the server: where each bar goes and what
it says. Pure: numbers in, rectangles and labels out; the templates draw them (so a chart is
plain markup, works without JavaScript, and scales with its viewBox).

Every chart also says in words what it shows (`summary`), for its SVG title and description;
the templates put the exact numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Room for the labels left of horizontal bars and the count right of them (SVG units).
LABEL_WIDTH = 90.0
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
    summary: str
    ticks: list[Tick]  # axis labels (column charts)
    baseline: float  # y of the axis the bars stand on (column charts)
    plot_left: float
    top_line: float = 0.0  # y of the axis's top value (column charts)


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
    rows: Sequence[tuple[str, float, str]],
    *,
    top: float,
    title: str,
    width: float = 380.0,
) -> Chart:
    """One bar a row, (label, value, tone), lengths in proportion to `top` (shared by charts
    that are to be compared, so equal counts draw equal bars in each)."""
    span = width - LABEL_WIDTH - VALUE_WIDTH
    bars = [
        Bar(
            label=label,
            value=value,
            x=LABEL_WIDTH,
            y=i * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
            width=_length(value, top, span),
            height=BAR_HEIGHT,
            tone=tone,
        )
        for i, (label, value, tone) in enumerate(rows)
    ]
    parts = ", ".join(f"{_number(value)} {label}" for label, value, _ in rows)
    return Chart(
        width=width,
        height=max(len(rows), 1) * ROW_HEIGHT,
        bars=bars,
        summary=f"{title}: {parts}." if rows else f"{title}: nothing.",
        ticks=[],
        baseline=0.0,
        plot_left=LABEL_WIDTH,
    )


def columns(
    values: Sequence[float],
    labels: Sequence[str],
    *,
    title: str,
    unit: str,
    marks: Sequence[int],
    width: float = 900.0,
    height: float = 200.0,
) -> Chart:
    """One column a value, left to right (a time series); `labels` name each column (its
    time), and those of the columns in `marks` are written under the axis (where they fit).
    The y axis runs from 0 to a round number at or above the highest value."""
    if len(values) != len(labels):
        raise ValueError("one label a value")
    top = scale_top(max(values, default=0.0))
    plot_width = width - AXIS_WIDTH
    plot_height = height - AXIS_HEIGHT - TOP_MARGIN
    baseline = TOP_MARGIN + plot_height
    slot = plot_width / max(len(values), 1)
    gap = min(1.0, slot / 4)
    bars = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        tall = _length(value, top, plot_height)
        bars.append(
            Bar(label, value, AXIS_WIDTH + i * slot + gap / 2, baseline - tall, slot - gap, tall)
        )
    ticks = [
        Tick(AXIS_WIDTH - 6, baseline, "0"),
        Tick(AXIS_WIDTH - 6, TOP_MARGIN, _number(top)),
    ] + [
        Tick(AXIS_WIDTH + i * slot, height - 6, labels[i])
        for i in sorted(set(marks))
        if 0 <= i < len(labels) and AXIS_WIDTH + i * slot <= width - TIME_LABEL_WIDTH
    ]
    return Chart(
        width=width,
        height=height,
        bars=bars,
        summary=_series_summary(values, labels, title=title, unit=unit),
        ticks=ticks,
        baseline=baseline,
        plot_left=AXIS_WIDTH,
        top_line=TOP_MARGIN,
    )


def _series_summary(
    values: Sequence[float], labels: Sequence[str], *, title: str, unit: str
) -> str:
    if not values or max(values) <= 0:
        return f"{title}: none in this period."
    peak = max(range(len(values)), key=lambda i: values[i])
    return (
        f"{title}: highest {_number(values[peak])} {unit} at {labels[peak]}; "
        f"latest {_number(values[-1])} {unit} ({labels[-1]})."
    )


def _length(value: float, top: float, span: float) -> float:
    """A bar's length: in proportion, and at least a hairline for anything above zero (one
    message among a million still shows)."""
    if value <= 0 or top <= 0:
        return 0.0
    return max(span * min(value / top, 1.0), 1.0)


def _number(value: float) -> str:
    """Counts as integers with thin separators; rates with one decimal at most."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{value:,.1f}".replace(",", "\u202f")
