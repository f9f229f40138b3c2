"""Time in one place: everything inside is aware UTC; local time only when shown to people."""

from __future__ import annotations

from datetime import UTC, datetime


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
    """ISO 8601 with an offset ("Z" accepted) → aware UTC; anything else raises ValueError."""
    value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    return as_utc(value)
