"""Planning as durable background work: one job per incident, advanced in chunks by workers.

The request that changes an incident records the revision and raises its job's `version`; it
plans nothing. A worker leases the job and advances it one step per transaction:

1. If the incident's extent was last matched for an older version, the ties
   (incident_customers) are first moved to the current match in one set-based statement:
   customers newly matched are tied, those left out are released; both are marked unplanned.
2. Then it takes the next chunk of ties (in customer key order, from the job's cursor)
   whose planned version is behind: the newly tied or released, or everyone when the ETR,
   schedule, status or details changed. It decides, writes the messages and marks the chunk
   planned, all in one transaction, so a crash between chunks loses nothing and a chunk
   planned twice writes nothing twice (the dedup key is unique). A chunk shorter than
   PLANNING_CHUNK ends the pass, in the same transaction: a small incident is one step.

A revision that lands while an earlier one is still being planned only raises `version`: the
next step re-matches and restarts the pass, so customers get the latest state, not each one in
between. Chunks already planned at a version still current are skipped cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shapely.geometry import shape
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from outage_notify.db.among import among
from outage_notify.db.models import (
    Customer,
    Incident,
    IncidentCustomer,
    IncidentRevision,
    PlanningJob,
)
from outage_notify.incidents.changes import Change
from outage_notify.incidents.model import TERMINAL_STATUSES, describe, value_of
from outage_notify.matching.matcher import Matcher
from outage_notify.planning import setwise
from outage_notify.planning.service import TIE_STATE, Audience, Planner, state_of
from outage_notify.timeline import service as timeline

PENDING, DONE = "pending", "done"
KNOWN_CHANGES = frozenset(c.value for c in Change)

# Changes after which every tied customer is looked at again: what they were told may be out
# of date (ETR, schedule, restoration) or their timeline should show the news (status,
# details). A change of extent alone only concerns those who joined or left.
REVIEW_ALL = frozenset(
    {
        Change.NEW,
        Change.CONFIRMED,
        Change.ETR_MISSED,
        Change.SILENCE,
        Change.REMINDER_DUE,
        Change.COMPENSATION_DUE,
        Change.ETR_CHANGED,
        Change.STATUS_CHANGED,
        Change.SCHEDULE_CHANGED,
        Change.DETAILS_CHANGED,
        Change.SEVERITY_CHANGED,
        Change.RESTORED,
        Change.CANCELLED,
        Change.EXPIRED,
    }
)
# Changes that staying customers see on their timeline as an update of the incident.
NOTEWORTHY = frozenset(
    {
        Change.ETR_CHANGED,
        Change.STATUS_CHANGED,
        Change.SCHEDULE_CHANGED,
        Change.DETAILS_CHANGED,
        Change.SEVERITY_CHANGED,
    }
)


class Step(StrEnum):
    PLANNED = "planned"  # one chunk of customers planned
    DONE = "done"  # nothing left to plan at the latest version
    LOST = "lost"  # the lease passed to another worker: stop


@dataclass(frozen=True)
class Progress:
    step: Step
    messages: int = 0


def request_planning(session: Session, *, incident: Incident, now: datetime) -> None:
    """Records that the incident must be planned up to its current version (in the caller's
    transaction, the one that records the revision)."""
    job = session.get(PlanningJob, incident.id, with_for_update=True)
    if job is None:
        session.add(
            PlanningJob(
                incident_id=incident.id,
                version=incident.version,
                matched_version=0,
                review_from=0,
                cursor=0,
                state=PENDING,
                chunks=0,
                created_at=now,
                updated_at=now,
            )
        )
        return
    job.version = incident.version
    job.state = PENDING
    job.done_at = None
    job.updated_at = now


def planning_state(session: Session, incident_ids: Sequence[str]) -> dict[str, str]:
    """Incident id → "pending" or "done" (an incident never planned counts as done)."""
    if not incident_ids:
        return {}
    rows = session.execute(
        select(PlanningJob.incident_id, PlanningJob.state).where(
            PlanningJob.incident_id.in_(list(incident_ids))
        )
    )
    found: dict[str, str] = {incident_id: state for incident_id, state in rows}  # noqa: C416
    return {i: found.get(i, DONE) for i in incident_ids}


def claim(session: Session, *, worker: str, now: datetime, lease: timedelta) -> str | None:
    """Leases the oldest pending job that nobody holds (or whose holder's lease ran out) and
    returns its incident id. SKIP LOCKED lets workers on PostgreSQL claim side by side."""
    incident_id = session.scalar(
        select(PlanningJob.incident_id)
        .where(
            PlanningJob.state == PENDING,
            or_(PlanningJob.lease_expires_at.is_(None), PlanningJob.lease_expires_at < now),
        )
        .order_by(PlanningJob.updated_at, PlanningJob.incident_id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if incident_id is None:
        return None
    session.execute(
        update(PlanningJob)
        .where(PlanningJob.incident_id == incident_id)
        .values(lease_owner=worker, lease_expires_at=now + lease)
    )
    return incident_id


def release(session: Session, *, incident_id: str, worker: str) -> None:
    """Gives the job back (another incident's turn, or shutdown) if this worker still holds it."""
    session.execute(
        update(PlanningJob)
        .where(PlanningJob.incident_id == incident_id, PlanningJob.lease_owner == worker)
        .values(lease_owner=None, lease_expires_at=None)
    )


def defer(session: Session, *, incident_id: str, worker: str, error: str, until: datetime) -> None:
    """A step failed: keep why, and let nobody take the job again before `until` (it goes to
    the back of the queue), if this worker still holds it."""
    session.execute(
        update(PlanningJob)
        .where(PlanningJob.incident_id == incident_id, PlanningJob.lease_owner == worker)
        .values(lease_owner=None, lease_expires_at=until, updated_at=until, last_error=error[:2000])
    )


@dataclass(frozen=True)
class JobContext:
    planner: Planner
    matcher: Matcher  # moves an incident's ties to its current extent
    chunk_size: int
    lease: timedelta
    # PostgreSQL: plan each chunk in the database, decided per class of customer
    # (planning/setwise.py); off, every customer is decided in Python as on SQLite.
    setwise: bool = True


def advance(
    session: Session, *, incident_id: str, worker: str, context: JobContext, now: datetime
) -> Progress:
    """One step of the job, in the caller's transaction."""
    job = session.get(PlanningJob, incident_id, with_for_update=True, populate_existing=True)
    if job is None or job.lease_owner != worker:
        return Progress(Step.LOST)
    job.lease_expires_at = now + context.lease
    job.updated_at = now
    incident = session.get(Incident, incident_id)
    if incident is None:  # deleted under us (retention): nothing left to plan
        session.delete(job)
        return Progress(Step.DONE)
    if job.matched_version < job.version:
        # The first chunk goes in the same transaction: for the many small incidents of a
        # storm the whole job is then one step.
        _match(session, job, incident, context, now)
    if context.setwise and session.get_bind().dialect.name == "postgresql":
        return _advance_setwise(session, job, incident, context, now)
    ties, priority_pass = _next_ties(session, job, context.chunk_size)
    if not ties:
        _finish(job, now)
        return Progress(Step.DONE)
    written = _plan_ties(session, job, incident, ties, context, now)
    return _after_chunk(job, len(ties), ties[-1].customer_pk, priority_pass, written, context, now)


def _advance_setwise(
    session: Session, job: PlanningJob, incident: Incident, context: JobContext, now: datetime
) -> Progress:
    chunk = setwise.plan_chunk(
        session,
        job=job,
        incident=incident,
        planner=context.planner,
        size=context.chunk_size,
        touches=touch_entries,
        now=now,
    )
    if chunk.customers == 0 or chunk.last_pk is None:
        _finish(job, now)
        return Progress(Step.DONE)
    return _after_chunk(
        job, chunk.customers, chunk.last_pk, chunk.priority_pass, chunk.messages, context, now
    )


def _after_chunk(
    job: PlanningJob,
    count: int,
    last_pk: int,
    priority_pass: bool,
    written: int,
    context: JobContext,
    now: datetime,
) -> Progress:
    job.chunks += 1
    if priority_pass:
        return Progress(Step.PLANNED, messages=written)
    job.cursor = last_pk
    if count < context.chunk_size:  # the pass reached its end: nothing is left behind
        _finish(job, now)
        return Progress(Step.DONE, messages=written)
    return Progress(Step.PLANNED, messages=written)


def _finish(job: PlanningJob, now: datetime) -> None:
    job.state, job.done_at, job.last_error = DONE, now, None
    job.lease_owner, job.lease_expires_at = None, None


def _match(
    session: Session, job: PlanningJob, incident: Incident, context: JobContext, now: datetime
) -> None:
    """Moves the ties to the extent of the latest version; decides who must be looked at.

    A new incident's first step ties only its first chunk of customers (priority ones first)
    where the whole match is slow (PostGIS over a large area): the first chunk is planned in
    this same step and its messages leave, and the next step ties the rest."""
    changes = _changes_since(session, incident.id, job.matched_version)
    terminal = incident.status in TERMINAL_STATUSES
    area = None if terminal or not incident.area else shape(incident.area)
    feeders = () if terminal else tuple(incident.feeders or ())
    transformers = () if terminal else tuple(incident.transformers or ())
    # Those in its first extent are out since the outage began (its compensation counts from
    # then); those it reaches later, since then.
    since = incident.started_at if job.matched_version == 0 and not terminal else now
    if REVIEW_ALL & changes:
        job.review_from = job.version
    job.cursor = 0
    if job.matched_version == 0 and job.chunks == 0 and not terminal:
        tied = context.matcher.head_start(
            session,
            incident_id=incident.id,
            area=area,
            feeders=feeders,
            transformers=transformers,
            now=since,
            limit=context.chunk_size,
        )
        if tied is not None and tied >= context.chunk_size:
            return  # matched_version stays behind: the next step ties everyone
    context.matcher.move_ties(
        session,
        incident_id=incident.id,
        area=area,
        feeders=feeders,
        transformers=transformers,
        now=since,
    )
    job.matched_version = job.version


def _changes_since(session: Session, incident_id: str, version: int) -> set[Change]:
    rows = session.scalars(
        select(IncidentRevision.changes).where(
            IncidentRevision.incident_id == incident_id, IncidentRevision.version > version
        )
    )
    return {Change(name) for changes in rows for name in changes if name in KNOWN_CHANGES}


def _next_ties(session: Session, job: PlanningJob, size: int) -> tuple[list[Any], bool]:
    """The next chunk to plan, and whether it is of the priority pass: priority customers
    first (at the start of a pass, until none is left behind), then everyone else in key
    order from the job's cursor."""
    behind = or_(
        IncidentCustomer.planned_version.is_(None),
        IncidentCustomer.planned_version < job.review_from,
    )
    if job.cursor == 0:
        first = session.execute(
            select(*TIE_STATE)
            .join(Customer, Customer.id == IncidentCustomer.customer_pk)
            .where(
                IncidentCustomer.incident_id == job.incident_id,
                Customer.priority.is_not(None),
                behind,
            )
            .order_by(IncidentCustomer.customer_pk)
            .limit(size)
        ).all()
        if first:
            return list(first), True
    rows = session.execute(
        select(*TIE_STATE)
        .where(
            IncidentCustomer.incident_id == job.incident_id,
            IncidentCustomer.customer_pk > job.cursor,
            behind,
        )
        .order_by(IncidentCustomer.customer_pk)
        .limit(size)
    )
    return list(rows), False


def _plan_ties(
    session: Session,
    job: PlanningJob,
    incident: Incident,
    ties: list[Any],
    context: JobContext,
    now: datetime,
) -> int:
    audience = [Audience(customer_pk=t.customer_pk, state=state_of(t)) for t in ties]
    written = context.planner.plan_incident(session, incident=incident, audience=audience, now=now)
    _log_touches(session, incident, ties)
    for affected in (True, False):
        chosen = [t.customer_pk for t in ties if bool(t.affected) is affected]
        if chosen:
            session.execute(
                update(IncidentCustomer)
                .where(
                    IncidentCustomer.incident_id == incident.id,
                    among(IncidentCustomer.customer_pk, chosen),
                )
                .values(planned_version=job.version, planned_affected=affected)
                .execution_options(synchronize_session=False)
            )
    return written


# ---- the timeline: who joined, left or saw the incident change --------------------------------


def _log_touches(session: Session, incident: Incident, ties: list[Any]) -> None:
    classes = {_touch_class(tie) for tie in ties}
    entries, at = touch_entries(session, incident, classes)
    events = []
    for tie in ties:
        entry = entries.get(_touch_class(tie))
        if entry is not None:
            kind, reason, data = entry
            events.append(
                timeline.Event(
                    customer_pk=tie.customer_pk,
                    at=at,
                    type=kind,
                    incident_id=incident.id,
                    reason=reason,
                    data=data,
                )
            )
    timeline.log_events(session, events)


TouchClass = tuple[bool, bool, int]  # affected, affected when last planned, version seen
TouchEntry = tuple[str, str | None, dict[str, Any]]  # event type, reason, data


def _touch_class(tie: Any) -> TouchClass:
    return bool(tie.affected), bool(tie.planned_affected), _seen(tie)


def touch_entries(
    session: Session, incident: Incident, classes: Iterable[TouchClass]
) -> tuple[dict[TouchClass, TouchEntry], datetime]:
    """The timeline entry each class of tie gets for this incident's news (classes that get
    none left out), and the moment it is dated: the latest revision's."""
    classes = list(classes)
    if not classes:
        return {}, incident.updated_at
    revisions = _revisions_since(session, incident.id, min(seen for _, _, seen in classes))
    latest_at = revisions[-1].at if revisions else incident.updated_at
    summary = {**describe(value_of(incident), extent=False), "version": incident.version}
    terminal = incident.status in TERMINAL_STATUSES
    entries: dict[TouchClass, TouchEntry] = {}
    for affected, before, seen in classes:
        changes = sorted({c for r in revisions if r.version > seen for c in r.changes})
        kind = _touch(affected, before, terminal, bool(NOTEWORTHY & set(changes)))
        if kind is not None:
            entries[(affected, before, seen)] = (
                kind,
                _why_untold(incident, kind),
                {"changes": changes, **summary},
            )
    return entries, latest_at


def _why_untold(incident: Incident, kind: str) -> str | None:
    """Why the customer of a closed, never confirmed outage heard nothing of it."""
    if kind != timeline.INCIDENT_CLOSED or incident.confirmed_at is not None:
        return None
    return (
        "nothing was sent: power came back before the outage was confirmed "
        "(a momentary interruption, shorter than CONFIRM_SECONDS)"
    )


def _seen(tie: Any) -> int:
    """The last version this customer's timeline reflects."""
    return tie.planned_version or 0


def _touch(affected: bool, before: bool, terminal: bool, noteworthy: bool) -> str | None:
    if affected and not before:
        return timeline.INCIDENT_AFFECTED
    if before and not affected:
        return timeline.INCIDENT_CLOSED if terminal else timeline.INCIDENT_RELEASED
    if affected and noteworthy:
        return timeline.INCIDENT_UPDATED
    return None


def _revisions_since(session: Session, incident_id: str, version: int) -> list[Any]:
    return list(
        session.execute(
            select(IncidentRevision.version, IncidentRevision.at, IncidentRevision.changes)
            .where(IncidentRevision.incident_id == incident_id, IncidentRevision.version > version)
            .order_by(IncidentRevision.version)
        )
    )
