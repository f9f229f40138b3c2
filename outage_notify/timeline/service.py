"""One function logs every event that concerns a customer; every flow calls it.

Incidents touching a customer, messages planned / sent / delivered / failed / suppressed,
replies, opt-outs: all land here, and the agent's timeline reads nothing else for events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from outage_notify.db.bulk import insert_rows
from outage_notify.db.models import TimelineEvent

# Event types. Messages carry a channel; everything else has channel None.
INCIDENT_AFFECTED = "incident_affected"
INCIDENT_UPDATED = "incident_updated"
INCIDENT_RELEASED = "incident_released"
INCIDENT_CLOSED = "incident_closed"
MESSAGE = "message"
MESSAGE_STATUS = "message_status"
REPLY = "reply"
PREFERENCE_CHANGED = "preference_changed"
# An agent's: a note on the customer's timeline, and a message sent again on another channel.
NOTE = "note"
RESEND = "resend"
# A customer's outage report (public/reports.py), from the public map, an SMS or an agent;
# data: source, and the agent's name.
REPORT = "report"
# The clock's: a customer's outage reached a standard-compensation band (data: percent, the
# band's hours, and duration_minutes as the Act counts it).
COMPENSATION = "compensation"

BATCH = 2000


@dataclass(frozen=True)
class Event:
    customer_pk: int
    at: datetime
    type: str
    incident_id: str | None = None
    notification_id: int | None = None
    channel: str | None = None
    kind: str | None = None
    status: str | None = None
    reason: str | None = None
    body: str | None = None
    data: dict[str, Any] | None = None


EVENT_FIELDS = tuple(f.name for f in fields(Event))
TABLE = TimelineEvent.metadata.tables[TimelineEvent.__tablename__]


def message_status_events(
    rows: Iterable[Any],
    *,
    at: datetime,
    status: str,
    reason: str | None,
    data: dict[str, Any] | None = None,
) -> Iterator[Event]:
    """One status event per notification row (id, customer_pk, channel, kind)."""
    for row in rows:
        yield Event(
            customer_pk=row.customer_pk,
            at=at,
            type=MESSAGE_STATUS,
            notification_id=row.id,
            channel=row.channel,
            kind=row.kind,
            status=status,
            reason=reason,
            data=data,
        )


def log_event(session: Session, event: Event) -> None:
    log_events(session, [event])


def log_events(session: Session, events: Iterable[Event]) -> int:
    """Writes events in batches (a storm touches many customers at once)."""
    count = 0
    batch: list[dict[str, Any]] = []
    for event in events:
        # Shallow: dataclasses.asdict would deep-copy each event's data, at storm scale a
        # large share of all the planning time.
        batch.append({name: getattr(event, name) for name in EVENT_FIELDS})
        if len(batch) >= BATCH:
            count += _write(session, batch)
            batch = []
    if batch:
        count += _write(session, batch)
    return count


def _write(session: Session, rows: list[dict[str, Any]]) -> int:
    # Core, not the ORM's bulk path: these rows never become objects in the session.
    insert_rows(session, TABLE, rows)
    return len(rows)
