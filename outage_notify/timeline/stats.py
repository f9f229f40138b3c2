"""The arithmetic behind the storm dashboard, without a database: percentiles of a few hundred
delays, and the time buckets its series are counted in. Pure: no database, no web."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile: the smallest value that at least `percent` % of the values
    are less than or equal to. Always one of the values (an operator can find the incident
    it came from), None for no values. p50 of 10, 20, 30, 40, 300 is 30; p95 is 300."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], not {percent}")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True)
class Buckets:
    """Equal slices of time, aligned to whole multiples of their size since the Unix epoch (a
    5-minute bucket starts at :00, :05, …, whatever moment asks), so that one bucket covers the
    same minutes from one refresh to the next. The first holds `now - window`, the last holds
    `now` and is still filling."""

    start: datetime  # the first bucket's start: the window, widened to whole buckets
    size: timedelta
    count: int

    @classmethod
    def ending_at(cls, now: datetime, *, window: timedelta, size: timedelta) -> Buckets:
        seconds = size.total_seconds()
        if seconds < 1 or seconds != int(seconds):
            raise ValueError(f"a bucket is a whole number of seconds, at least 1, not {size}")
        if window <= timedelta(0):
            raise ValueError(f"the window must be longer than zero, not {window}")
        first = _floor(now - window, size)
        last = _floor(now, size)
        return cls(start=first, size=size, count=(last - first) // size + 1)

    @property
    def seconds(self) -> int:
        return int(self.size.total_seconds())

    @property
    def start_epoch(self) -> int:
        """The first bucket's start in whole seconds since the epoch (what the SQL subtracts)."""
        return (self.start - EPOCH) // timedelta(seconds=1)

    @property
    def end(self) -> datetime:
        return self.start + self.count * self.size

    def starts(self) -> list[datetime]:
        return [self.start + i * self.size for i in range(self.count)]

    def index_of(self, moment: datetime) -> int | None:
        """The bucket holding `moment`, None outside them all."""
        if not self.start <= moment < self.end:
            return None
        return (moment - self.start) // self.size

    def series(self, counts: dict[int, int]) -> list[int]:
        """Counts by bucket index (as the database groups them) as a list, zeros filled in;
        an index outside the buckets (a clock set back) is left out."""
        return [counts.get(i, 0) for i in range(self.count)]


def _floor(moment: datetime, size: timedelta) -> datetime:
    return EPOCH + (moment.astimezone(UTC) - EPOCH) // size * size
