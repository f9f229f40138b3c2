"""The retention sweep deletes exactly what is past retention, with all that hangs off it,
in bounded steps, and nothing else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.db.models import (
    Customer,
    InboundMessage,
    Incident,
    IncidentCustomer,
    IncidentRevision,
    Notification,
    OutboxItem,
    PlanningJob,
    TimelineEvent,
    User,
    WebSession,
)
from outage_notify.runtime import Runtime
from outage_notify.scheduler import retention, runs
from outage_notify.scheduler.jobs import JOBS, JobContext, run_job

NOW = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TABLES = (
    Incident,
    IncidentCustomer,
    IncidentRevision,
    PlanningJob,
    Notification,
    OutboxItem,
    TimelineEvent,
    InboundMessage,
    Customer,
    WebSession,
)


def add_customers(session: Session, count: int) -> list[int]:
    rows = [
        Customer(
            customer_id=f"K-{n}",
            language="fi",
            lat=60.17,
            lon=24.94,
            created_at=NOW - 2000 * DAY,
            updated_at=NOW - 2000 * DAY,
        )
        for n in range(count)
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def add_incident(
    session: Session, incident_id: str, *, closed: datetime | None, customers: list[int]
) -> None:
    """An incident with everything that can hang off it, for each of the customers."""
    at = (closed or NOW) - 3 * DAY
    session.add(
        Incident(
            id=incident_id,
            source="api",
            external_id=incident_id,
            kind="outage",
            status="restored" if closed else "active",
            started_at=at,
            version=2,
            created_at=at,
            updated_at=closed or at,
            closed_at=closed,
        )
    )
    session.flush()
    for version in (1, 2):
        session.add(
            IncidentRevision(
                incident_id=incident_id, version=version, at=at, changes=[], snapshot={}
            )
        )
    session.add(
        PlanningJob(incident_id=incident_id, version=2, state="done", created_at=at, updated_at=at)
    )
    for pk in customers:
        session.add(
            IncidentCustomer(incident_id=incident_id, customer_pk=pk, affected=False, since=at)
        )
        session.add(
            TimelineEvent(customer_pk=pk, at=at, type="incident_affected", incident_id=incident_id)
        )
        for kind in ("outage", "restored"):
            note = Notification(
                customer_pk=pk,
                incident_id=incident_id,
                channel="sms",
                kind=kind,
                dedup_key=f"{incident_id}:{pk}:{kind}",
                language="fi",
                body="…",
                status="queued",
                created_at=at,
                updated_at=at,
            )
            session.add(note)
            session.flush()
            session.add(OutboxItem(notification_id=note.id, available_at=at))
            session.add(
                TimelineEvent(
                    customer_pk=pk,
                    at=at,
                    type="message",
                    incident_id=incident_id,
                    notification_id=note.id,
                )
            )
            # Status events name the message only, not the incident.
            session.add(
                TimelineEvent(customer_pk=pk, at=at, type="message_status", notification_id=note.id)
            )


def add_sessions(session: Session, *, expires: list[datetime]) -> None:
    user = User(username="retention", role="agent", password_hash="-", created_at=NOW - 9 * DAY)
    session.add(user)
    session.flush()
    for n, at in enumerate(expires):
        session.add(
            WebSession(
                token_hash=f"{n:064x}",
                user_id=user.id,
                csrf_token="-",
                created_at=at - DAY,
                expires_at=at,
            )
        )


def counts(runtime: Runtime) -> dict[str, int]:
    with runtime.reading() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in TABLES
        }


def remaining_incidents(runtime: Runtime) -> set[str]:
    with runtime.reading() as session:
        return set(session.scalars(select(Incident.id)))


def test_only_what_is_past_retention_goes_with_all_that_hangs_off_it(
    make_settings: Callable[..., Settings],
) -> None:
    runtime = Runtime.build(make_settings(retention_days=730))
    with runtime.transaction() as session:
        pks = add_customers(session, 3)
        add_incident(session, "old", closed=NOW - 731 * DAY, customers=pks[:2])
        add_incident(session, "kept", closed=NOW - 729 * DAY, customers=pks[1:])
        add_incident(session, "open", closed=None, customers=pks)
        # Not about any incident: stays whatever its age.
        session.add(TimelineEvent(customer_pk=pks[0], at=NOW - 900 * DAY, type="reply"))
        session.add(InboundMessage(message_sid="SM-old", received_at=NOW - 31 * DAY))
        session.add(InboundMessage(message_sid="SM-new", received_at=NOW - 29 * DAY))
        add_sessions(session, expires=[NOW - DAY, NOW, NOW + DAY])  # the first two are over
    before = counts(runtime)
    ctx = JobContext(runtime.sessions, runtime.settings, ManualClock(NOW), "test")
    outcome = run_job(JOBS["retention"], ctx)
    assert outcome.ok
    # "old" had 2 customers: 2 ties, 4 messages (with 4 outbox rows), 2 + 4 + 4 events.
    assert outcome.result == {
        "inbound_messages": 1,
        "web_sessions": 2,
        "incidents": 1,
        "notifications": 4,
        "ties": 2,
        "timeline_events": 10,
        "transactions": 6,
    }
    after = counts(runtime)
    gone = {name: before[name] - after[name] for name in before}
    assert gone == {
        "incidents": 1,
        "incident_customers": 2,
        "incident_revisions": 2,
        "planning_jobs": 1,
        "notifications": 4,
        "outbox": 4,
        "timeline_events": 10,
        "inbound_messages": 1,
        "customers": 0,
        "web_sessions": 2,
    }
    assert remaining_incidents(runtime) == {"kept", "open"}
    with runtime.reading() as session:
        assert set(session.scalars(select(InboundMessage.message_sid))) == {"SM-new"}
        assert not session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(TimelineEvent.incident_id == "old")
        )
        last = runs.last_runs(session)["retention"]
    assert (last.owner, last.started_at, last.result) == ("test", NOW, outcome.result)
    # Idempotent: a second run finds nothing more.
    again = run_job(JOBS["retention"], ctx)
    assert again.result is not None
    assert {k: v for k, v in again.result.items() if k != "transactions"} == dict.fromkeys(
        (
            "inbound_messages",
            "web_sessions",
            "incidents",
            "notifications",
            "ties",
            "timeline_events",
        ),
        0,
    )
    assert counts(runtime) == after
    runtime.close()


def test_a_long_purge_goes_in_bounded_transactions(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        pks = add_customers(session, 4)
        for n in range(7):
            add_incident(session, f"old-{n}", closed=NOW - (800 + n) * DAY, customers=pks)
        add_incident(session, "kept", closed=NOW - 10 * DAY, customers=pks)
        for n in range(5):
            session.add(InboundMessage(message_sid=f"SM-{n}", received_at=NOW - 40 * DAY))
        add_sessions(session, expires=[NOW - n * DAY for n in range(1, 8)])
    per_transaction: list[dict[str, int]] = []

    @contextmanager
    def watched() -> Iterator[Session]:
        before = counts(runtime)
        with runtime.transaction() as session:
            yield session
        after = counts(runtime)
        per_transaction.append({name: before[name] - after[name] for name in before})

    purged = retention.purge(
        watched, now=NOW, retention_days=730, incidents_per_step=3, rows_per_step=5
    )
    assert remaining_incidents(runtime) == {"kept"}
    # 7 incidents x 4 customers: 28 ties, 56 messages, 28 + 56 + 56 events.
    assert (purged.incidents, purged.ties, purged.notifications) == (7, 28, 56)
    assert (purged.timeline_events, purged.inbound_messages) == (140, 5)
    assert purged.transactions == len(per_transaction)
    assert max(step["notifications"] for step in per_transaction) <= 5
    assert max(step["incident_customers"] for step in per_transaction) <= 5
    assert max(step["incidents"] for step in per_transaction) <= 3
    assert max(step["inbound_messages"] for step in per_transaction) <= 5
    assert purged.web_sessions == 7
    assert max(step["web_sessions"] for step in per_transaction) <= 5
    # What is left of the kept incident is whole.
    left = counts(runtime)
    assert (left["incident_customers"], left["notifications"], left["outbox"]) == (4, 8, 8)
    assert left["timeline_events"] == 4 + 8 + 8


def test_a_purge_told_to_stop_stops_between_steps_and_the_next_run_finishes(
    runtime: Runtime,
) -> None:
    with runtime.transaction() as session:
        pks = add_customers(session, 2)
        for n in range(3):
            add_incident(session, f"old-{n}", closed=NOW - 800 * DAY, customers=pks)
    steps: list[Any] = []

    def stop_after_two() -> bool:
        steps.append(None)
        return len(steps) > 2

    first = retention.purge(
        runtime.transaction,
        now=NOW,
        retention_days=730,
        rows_per_step=2,
        stopping=stop_after_two,
    )
    assert first.transactions == 2
    assert len(remaining_incidents(runtime)) == 3
    second = retention.purge(runtime.transaction, now=NOW, retention_days=730, rows_per_step=2)
    assert remaining_incidents(runtime) == set()
    assert first.notifications + second.notifications == 12
