"""A polled feed's record: validators, health, and the ingest log operators read.

Services: the caller owns the transaction. Shared by the outage feeds (and the weather
warnings' feeds, which come next)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.db.models import Feed, IngestLogEntry
from outage_notify.timeutil import iso

if TYPE_CHECKING:
    from outage_notify.ingest.fetch import Validators

REJECTED = "rejected"  # one item refused, the rest applied
FAILED = "failed"  # the whole poll: the feed could not be fetched or read
OVERDUE = "overdue"  # an ETR already past: kept from customers
# A feed failing again and again is tried less often, up to this long apart.
MAX_BACKOFF = timedelta(minutes=15)
# A feed not read for this many poll periods is stale even before a poll fails.
STALE_AFTER_POLLS = 3


class BackingOff(Exception):
    """The feed failed lately and is not to be tried again yet."""


def start_poll(session: Session, *, feed_id: str, spec: str, now: datetime) -> Validators:
    """The validators for this poll's conditional GET; BackingOff while the feed waits."""
    from outage_notify.ingest.fetch import Validators

    feed = get_or_create(session, feed_id=feed_id, spec=spec)
    if feed.next_attempt_at is not None and feed.next_attempt_at > now:
        raise BackingOff(f"backing off until {feed.next_attempt_at.isoformat()}")
    return Validators(etag=feed.etag, last_modified=feed.last_modified)


def get_or_create(session: Session, *, feed_id: str, spec: str) -> Feed:
    feed = session.get(Feed, feed_id)
    if feed is None:
        feed = Feed(id=feed_id, spec=spec, polls=0, failures=0, items=0, rejected=0)
        session.add(feed)
        session.flush()
    return feed


def record_success(
    session: Session,
    *,
    feed_id: str,
    validators: Validators,
    items: int | None,
    rejected: int | None,
    now: datetime,
) -> None:
    """items/rejected None: the feed had nothing new (304), the last counts stand."""
    feed = session.get(Feed, feed_id)
    assert feed is not None
    feed.etag, feed.last_modified = validators.etag, validators.last_modified
    feed.polls += 1
    feed.failures = 0
    feed.last_attempt_at = feed.last_success_at = now
    feed.next_attempt_at = None
    feed.last_error = None
    if items is not None:
        feed.items = items
    if rejected is not None:
        feed.rejected = rejected


def record_failure(
    session: Session, *, feed_id: str, reason: str, now: datetime, poll_seconds: float
) -> None:
    """The feed could not be read: back off (double the wait each time, up to MAX_BACKOFF)
    and keep why, for operators."""
    feed = session.get(Feed, feed_id)
    assert feed is not None
    feed.failures += 1
    feed.last_attempt_at = now
    feed.last_error = reason[:2000]
    feed.next_attempt_at = now + backoff(feed.failures, poll_seconds)
    log_entry(session, feed_id=feed_id, item=None, outcome=FAILED, reason=reason, now=now)


def backoff(failures: int, poll_seconds: float) -> timedelta:
    """Wait before the next try after `failures` failures in a row: the first retry comes at
    the next poll, then 2, 4, 8… periods apart."""
    periods = 2 ** min(max(failures - 1, 0), 16)
    return min(timedelta(seconds=poll_seconds * periods), MAX_BACKOFF)


def log_entry(
    session: Session,
    *,
    feed_id: str,
    item: str | None,
    outcome: str,
    reason: str,
    now: datetime,
) -> None:
    session.add(
        IngestLogEntry(
            feed_id=feed_id,
            at=now,
            item=None if item is None else item[:200],
            outcome=outcome,
            reason=reason[:2000],
        )
    )


def state_of(feed: Feed, *, now: datetime, poll_seconds: float) -> str:
    """ok: read at its last poll, recently. stale: its last poll failed, or it has not been
    read for STALE_AFTER_POLLS periods; what it said last stands, and nothing is restored
    from it. never: not read yet."""
    if feed.last_success_at is None:
        return "never"
    late = now - feed.last_success_at > timedelta(seconds=poll_seconds * STALE_AFTER_POLLS)
    return "stale" if feed.failures or late else "ok"


def feed_dict(feed: Feed, *, now: datetime, poll_seconds: float) -> dict[str, Any]:
    return {
        "id": feed.id,
        "spec": redacted_spec(feed.spec),
        "state": state_of(feed, now=now, poll_seconds=poll_seconds),
        "polls": feed.polls,
        "failures": feed.failures,
        "last_attempt_at": iso(feed.last_attempt_at),
        "last_success_at": iso(feed.last_success_at),
        "next_attempt_at": iso(feed.next_attempt_at),
        "last_error": feed.last_error,
        "items": feed.items,
        "rejected": feed.rejected,
    }


def redacted_spec(spec: str) -> str:
    """The feed as configured, without a query string or user info (either may hold a
    secret)."""
    head, sep, rest = spec.partition("://")
    if not sep:
        return spec
    authority, slash, path = rest.partition("/")
    host = authority.rsplit("@", 1)[-1]
    return f"{head}://{host}{slash}{path.split('?', 1)[0]}"


def log_page(
    session: Session, *, feed_id: str | None, limit: int, before: int | None
) -> list[dict[str, Any]]:
    """The ingest log, newest first."""
    query = select(IngestLogEntry).order_by(IngestLogEntry.id.desc()).limit(limit)
    if feed_id is not None:
        query = query.where(IngestLogEntry.feed_id == feed_id)
    if before is not None:
        query = query.where(IngestLogEntry.id < before)
    return [
        {
            "id": entry.id,
            "feed_id": entry.feed_id,
            "at": iso(entry.at),
            "item": entry.item,
            "outcome": entry.outcome,
            "reason": entry.reason,
        }
        for entry in session.scalars(query)
    ]
