"""What is kept only for a while, and its removal in short transactions.

- Signed-in sessions of the pages are deleted once expired (an expired one opens nothing
  already; this only keeps the table small).
- Inbound replies are kept by provider id only so that a webhook the provider retries is
  recognised; Twilio retries within hours, so a month is plenty.
- An incident closed more than RETENTION_DAYS ago goes with all that hangs off it: its
  notifications (and their outbox rows), its ties to customers, its revisions and planning job,
  and the customers' timeline events about it. The foreign keys cascade from incidents and
  from notifications; timeline events carry the incident id and notification id as plain
  columns (no foreign key), so they are deleted here, looked up by customer (the timeline's
  index) while the notifications and ties still say which customers to look at.

Each step removes at most a bounded number of rows, so that on SQLite no step holds the write
lock for long, and each is safe to repeat or to run beside another purge: what is gone stays
gone and is simply not found again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from outage_notify.auth.sessions import purge_expired_sessions
from outage_notify.db.models import (
    InboundMessage,
    Incident,
    IncidentCustomer,
    Notification,
    TimelineEvent,
)

INBOUND_KEPT = timedelta(days=30)
INCIDENTS_PER_STEP = 500
ROWS_PER_STEP = 2000

Transaction = Callable[[], AbstractContextManager[Session]]


@dataclass
class Purged:
    inbound_messages: int = 0
    web_sessions: int = 0
    incidents: int = 0
    notifications: int = 0
    ties: int = 0
    timeline_events: int = 0
    transactions: int = 0

    def add(self, other: Purged) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def purge(
    transaction: Transaction,
    *,
    now: datetime,
    retention_days: int,
    incidents_per_step: int = INCIDENTS_PER_STEP,
    rows_per_step: int = ROWS_PER_STEP,
    stopping: Callable[[], bool] = lambda: False,
) -> Purged:
    """Purges everything past retention, one short transaction a step, until nothing is left
    or `stopping()` says the process is shutting down (the next run goes on from there)."""
    total = Purged()
    while not stopping():
        with transaction() as session:
            gone = purge_inbound(session, before=now - INBOUND_KEPT, limit=rows_per_step)
        total.add(Purged(inbound_messages=gone, transactions=1))
        if gone < rows_per_step:
            break
    while not stopping():
        with transaction() as session:
            gone = purge_expired_sessions(session, now=now, limit=rows_per_step)
        total.add(Purged(web_sessions=gone, transactions=1))
        if gone < rows_per_step:
            break
    cutoff = now - timedelta(days=retention_days)
    while not stopping():
        with transaction() as session:
            ids = expired_incidents(session, closed_before=cutoff, limit=incidents_per_step)
            if not ids:
                total.transactions += 1
                break
            step = purge_step(session, incident_ids=ids, rows=rows_per_step)
        total.add(step)
    return total


def purge_inbound(session: Session, *, before: datetime, limit: int) -> int:
    sids = session.scalars(
        select(InboundMessage.message_sid).where(InboundMessage.received_at < before).limit(limit)
    ).all()
    if sids:
        session.execute(delete(InboundMessage).where(InboundMessage.message_sid.in_(sids)))
    return len(sids)


def expired_incidents(session: Session, *, closed_before: datetime, limit: int) -> list[str]:
    """The oldest incidents closed before the cutoff. An incident reopened since it closed has
    closed_at cleared, so it is never among them."""
    return list(
        session.scalars(
            select(Incident.id)
            .where(Incident.closed_at.is_not(None), Incident.closed_at < closed_before)
            .order_by(Incident.closed_at, Incident.id)
            .limit(limit)
        )
    )


def purge_step(session: Session, *, incident_ids: list[str], rows: int) -> Purged:
    """Removes up to `rows` notifications or ties of these incidents, with the timeline events
    about them; once none is left, the incidents themselves (their revisions and planning jobs
    cascade). Called again with the same incidents until they are gone."""
    notifications = session.execute(
        select(Notification.id, Notification.customer_pk)
        .where(Notification.incident_id.in_(incident_ids))
        .limit(rows)
    ).all()
    if notifications:
        return _purge_notifications(session, notifications)
    ties = session.execute(
        select(IncidentCustomer.incident_id, IncidentCustomer.customer_pk)
        .where(IncidentCustomer.incident_id.in_(incident_ids))
        .limit(rows)
    ).all()
    if ties:
        return _purge_ties(session, ties)
    # Events about these incidents that the passes above did not reach: any left for a
    # customer with no tie and no message. Without an index on incident_id this reads the
    # whole timeline, once per step of incidents.
    events = _deleted(
        session, delete(TimelineEvent).where(TimelineEvent.incident_id.in_(incident_ids))
    )
    incidents = _deleted(session, delete(Incident).where(Incident.id.in_(incident_ids)))
    return Purged(incidents=incidents, timeline_events=events, transactions=1)


def _purge_notifications(session: Session, rows: Sequence[tuple[int, int]]) -> Purged:
    ids = [row[0] for row in rows]
    customers = sorted({row[1] for row in rows})
    # Every event about a message belongs to that message's customer: the customer narrows
    # the search to the timeline's index (customer_pk, at).
    events = _deleted(
        session,
        delete(TimelineEvent).where(
            TimelineEvent.customer_pk.in_(customers), TimelineEvent.notification_id.in_(ids)
        ),
    )
    gone = _deleted(session, delete(Notification).where(Notification.id.in_(ids)))  # + outbox
    return Purged(notifications=gone, timeline_events=events, transactions=1)


def _purge_ties(session: Session, rows: Sequence[tuple[str, int]]) -> Purged:
    result = Purged(transactions=1)
    for incident_id, customers in _by_incident(rows):
        result.timeline_events += _deleted(
            session,
            delete(TimelineEvent).where(
                TimelineEvent.customer_pk.in_(customers),
                TimelineEvent.incident_id == incident_id,
            ),
        )
        result.ties += _deleted(
            session,
            delete(IncidentCustomer).where(
                IncidentCustomer.incident_id == incident_id,
                IncidentCustomer.customer_pk.in_(customers),
            ),
        )
    return result


def _by_incident(rows: Sequence[tuple[str, int]]) -> Iterator[tuple[str, list[int]]]:
    grouped: dict[str, list[int]] = defaultdict(list)
    for incident_id, customer_pk in rows:
        grouped[incident_id].append(customer_pk)
    return iter(sorted(grouped.items()))


def _deleted(session: Session, statement: object) -> int:
    result = session.execute(statement)  # type: ignore[call-overload]
    return int(result.rowcount or 0)
