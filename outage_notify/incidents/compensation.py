"""Standard compensation for long outages (Finnish Electricity Market Act 588/2013, 100 §):
the outage's duration as the Act counts it, and the band it has reached. Pure.

A customer's outage that resumes within two hours of a restoration continues the same
outage: its duration is the sum of the outages so chained (the hours with power between them
do not count). The band is a percentage of the customer's annual network fee, by duration:
12 h → 10 %, 24 h → 25 %, 72 h → 50 %, 120 h → 100 %, 192 h → 150 %, 288 h → 200 %
(COMPENSATION_HOURS moves the thresholds; the percentages are the Act's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

PERCENTS = (10, 25, 50, 100, 150, 200)
CHAIN_GAP = timedelta(hours=2)


@dataclass(frozen=True)
class Band:
    hours: float
    percent: int


def bands(hours: Sequence[float]) -> tuple[Band, ...]:
    """The bands for COMPENSATION_HOURS (six ascending durations)."""
    if len(hours) != len(PERCENTS):
        raise ValueError(f"COMPENSATION_HOURS takes {len(PERCENTS)} durations")
    if any(b <= a for a, b in pairwise(hours)) or hours[0] <= 0:
        raise ValueError("COMPENSATION_HOURS must be positive and ascending")
    return tuple(Band(h, p) for h, p in zip(hours, PERCENTS, strict=True))


def band_for(duration: timedelta, table: Sequence[Band]) -> Band | None:
    """The highest band the duration has reached (None: below the first)."""
    reached = [band for band in table if duration >= timedelta(hours=band.hours)]
    return reached[-1] if reached else None


def chained_duration(
    intervals: Iterable[tuple[datetime, datetime | None]], *, now: datetime
) -> timedelta:
    """The duration of the latest outage as the Act counts it: intervals (start, end; None:
    still out) merged where they overlap, and chained where one resumes within CHAIN_GAP of
    the previous end. Only the last chain counts; earlier outages more than the gap apart
    are outages of their own."""
    spans = sorted((start, min(end or now, now)) for start, end in intervals if start < now)
    total = timedelta(0)
    chain_end: datetime | None = None
    for start, end in spans:
        if end <= start:
            continue
        if chain_end is None or start > chain_end + CHAIN_GAP:
            total, chain_end = end - start, end  # a new outage
        elif end > chain_end:
            total += end - max(start, chain_end)
            chain_end = end
    return total
