"""Time in one place: everything inside is aware UTC; local time only when shown to people."""

from __future__ import annotations

from datetime import UTC, datetime

# The span of time this service reasons about. Outside it a time is a typo or an attack, and
# near the ends of the calendar converting it to another zone overflows.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class TimeRangeError(ValueError):
    """A well-formed time outside EARLIEST..LATEST."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is refused because its zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must carry a UTC offset")
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_iso_aware(text: str) -> datetime:
    """ISO 8601 with an offset ("Z" accepted) → aware UTC, between EARLIEST and LATEST;
    anything else raises ValueError (TimeRangeError when only the range is wrong)."""
    value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    try:
        moment = as_utc(value)
    except OverflowError as exc:  # year 1 or 9999 moved across the date line
        raise TimeRangeError(_RANGE) from exc
    if not EARLIEST <= moment < LATEST:
        raise TimeRangeError(_RANGE)
    return moment


_RANGE = f"must lie between {EARLIEST.year} and {LATEST.year - 1}"
