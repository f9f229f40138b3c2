"""The storm dashboard's figures, read in a handful of set-based queries: who is affected now,
what was sent on which channel and what became of it, how long the first message of an outage
took, and what customers are sending back, minute by minute.

Every query counts and groups in the database (GROUP BY, COUNT DISTINCT, MIN), so the work in
Python is bounded by the number of groups (channels × statuses, outages of the window,
buckets), never by the number of notifications. The same SQL runs on SQLite and PostgreSQL
(db/epoch.py puts times into buckets on both).

Indexes used: incident_customers' primary key (incident, customer) for the ties of the open
incidents; incidents (status, updated_at) for the open ones and those confirmed in the window;
notifications (incident_id) for each new outage's first message; incidents (source, …) for
the reports. Not covered by any index: the window's messages by channel and status (no index
of notifications holds either, so they are counted from the table itself), and the replies
and opt-outs of the window (small tables, kept short by retention). bench/dashboard.py
measures it, and what notifications (channel, status, created_at) and (incident_id, channel,
sent_at) would buy: a migration may add them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from outage_notify.db.among import among
from outage_notify.db.epoch import epoch_seconds
from outage_notify.db.models import (
    InboundMessage,
    Incident,
    IncidentCustomer,
    Notification,
    OptOut,
    OutageReport,
    PlanningJob,
)
from outage_notify.incidents.model import ACTIVE_STATUSES, IncidentKind, Status
from outage_notify.incidents.nested import SOURCE as STILL_OUT_REPLY
from outage_notify.timeline.stats import Buckets, nearest_rank
from outage_notify.timeutil import iso

KINDS: tuple[str, ...] = tuple(kind.value for kind in IncidentKind)
CHANNELS = ("sms", "email", "push", "in_app")
STATUSES = ("queued", "sent", "delivered", "failed", "suppressed")
# Channels on which a message goes out to the customer. The in-app feed is written (and counts
# as delivered) the moment it is planned, so it says nothing about how fast anyone was told.
OUTBOUND = frozenset({"sms", "email", "push"})
# Incidents made by customers rather than by operators or feeds: "still out" replies. With
# the outage reports (the public map, an SMS, an agent) they are the reports per minute.
REPORT_SOURCES = (STILL_OUT_REPLY,)
# The most incidents of one window whose first-message delay is measured (the latest).
MAX_MEASURED = 10_000
ACTIVE = tuple(sorted(ACTIVE_STATUSES))
ALL_STATUSES = tuple(sorted(Status))


@dataclass(frozen=True)
class FirstMessage:
    """How long the customers of a new outage waited for the first message.

    Measured per unplanned incident confirmed in the window, from `confirmed_at` (the moment
    its customers may first be told: the operator's post itself; for a feed's outage, once it
    has lasted CONFIRM_SECONDS, so that the deliberate wait for a momentary cut is not counted
    as slowness) to the earliest `sent_at` of its messages on an outbound channel (SMS, email,
    push: the moment a provider accepted one). Planned work and weather warnings are left out:
    their notices wait for quiet hours to end by design."""

    measured: int  # incidents that have a first message
    awaiting: int  # open, customers affected, confirmed in the window, nothing sent yet
    p50_seconds: float | None
    p95_seconds: float | None
    max_seconds: float | None


@dataclass(frozen=True)
class StormStats:
    now: datetime
    buckets: Buckets
    affected: dict[str, int]  # customers affected now, by incident kind (every kind present)
    affected_total: int  # distinct customers, whatever the kind (one in two incidents is one)
    open_incidents: dict[str, int]  # by kind
    overdue_incidents: int  # open with an ETR that has passed
    messages: dict[str, dict[str, int]]  # channel → status → messages created in the window
    first_message: FirstMessage
    replies: list[int]  # SMS replies received, per bucket
    reports: list[int]  # outage reports and "still out" replies, per bucket
    opt_outs: list[int]  # contacts that opted out (and have not opted back in), per bucket
    notes: list[str] = field(default_factory=list)

    @property
    def since(self) -> datetime:
        return self.buckets.start

    @property
    def open_total(self) -> int:
        return sum(self.open_incidents.values())

    def messages_total(self, status: str | None = None) -> int:
        return sum(
            count
            for by_status in self.messages.values()
            for name, count in by_status.items()
            if status is None or name == status
        )


def storm_stats(
    session: Session,
    *,
    now: datetime,
    window: timedelta = timedelta(hours=6),
    bucket: timedelta = timedelta(minutes=5),
) -> StormStats:
    """The dashboard's figures at `now`. The window runs from the start of the bucket that
    holds `now - window` to `now` (buckets are aligned: see timeline.stats.Buckets); messages
    count when they were created in it. Raises ValueError for a bucket that is not a whole
    number of seconds or a window that is not positive."""
    buckets = Buckets.ending_at(now, window=window, size=bucket)
    affected, total = _affected(session, now)
    open_by_kind, overdue = _open_incidents(session, now)
    first, notes = _first_message(session, buckets)
    return StormStats(
        now=now,
        buckets=buckets,
        affected=affected,
        affected_total=total,
        open_incidents=open_by_kind,
        overdue_incidents=overdue,
        messages=_messages(session, buckets),
        first_message=first,
        replies=_series(session, buckets, InboundMessage.received_at),
        reports=_added(
            _series(session, buckets, Incident.created_at, Incident.source.in_(REPORT_SOURCES)),
            _series(session, buckets, OutageReport.at),
        ),
        opt_outs=_series(session, buckets, OptOut.created_at),
        notes=notes,
    )


# ---- who is affected now -----------------------------------------------------------------------


def in_force(now: datetime) -> ColumnElement[bool]:
    """An incident whose customers are affected now: open (detected, crew assigned, in
    progress); planned work only once its window has begun (customers told of next week's
    work have no power cut yet); a weather warning until it expires."""
    return and_(
        Incident.status.in_(ACTIVE),
        or_(
            Incident.kind != IncidentKind.PLANNED.value,
            Incident.starts_at.is_(None),
            Incident.starts_at <= now,
        ),
        or_(
            Incident.kind != IncidentKind.WARNING.value,
            Incident.ends_at.is_(None),
            Incident.ends_at > now,
        ),
    )


def _affected(session: Session, now: datetime) -> tuple[dict[str, int], int]:
    """Distinct customers by kind and in all, in one pass over the open incidents' ties (found
    by their primary key, incident first)."""
    ties = (
        select(Incident.kind, IncidentCustomer.customer_pk)
        .join(IncidentCustomer, IncidentCustomer.incident_id == Incident.id)
        .where(in_force(now), IncidentCustomer.affected.is_(True))
        .subquery()
    )
    of_kind = [
        func.count(distinct(case((ties.c.kind == kind, ties.c.customer_pk)))) for kind in KINDS
    ]
    total, *by_kind = session.execute(
        select(func.count(distinct(ties.c.customer_pk)), *of_kind)
    ).one()
    return dict(zip(KINDS, by_kind, strict=True)), total


def _open_incidents(session: Session, now: datetime) -> tuple[dict[str, int], int]:
    overdue = case((and_(Incident.etr.is_not(None), Incident.etr <= now), 1), else_=0)
    rows = session.execute(
        select(Incident.kind, func.count(), func.sum(overdue))
        .where(Incident.status.in_(ACTIVE))
        .group_by(Incident.kind)
    )
    by_kind, late = dict.fromkeys(KINDS, 0), 0
    for kind, count, overdue_count in rows:
        by_kind[kind] = count
        late += overdue_count or 0
    return by_kind, late


# ---- messages of the window --------------------------------------------------------------------


def _messages(session: Session, buckets: Buckets) -> dict[str, dict[str, int]]:
    """Messages created in the window, by channel and status (every known one present)."""
    counts = {channel: dict.fromkeys(STATUSES, 0) for channel in CHANNELS}
    rows = session.execute(
        select(Notification.channel, Notification.status, func.count())
        .where(Notification.created_at >= buckets.start, Notification.created_at < buckets.end)
        .group_by(Notification.channel, Notification.status)
    )
    for channel, status, count in rows:
        counts.setdefault(channel, dict.fromkeys(STATUSES, 0))[status] = count
    return counts


# ---- time to the first message -----------------------------------------------------------------


def _first_message(session: Session, buckets: Buckets) -> tuple[FirstMessage, list[str]]:
    outages = _confirmed_outages(session, buckets)
    ids = [row.id for row in outages]
    first_sent = _first_sent(session, ids)
    waiting = _with_queued(session, [row.id for row in outages if row.id not in first_sent])
    delays, awaiting = [], 0
    for row in outages:
        sent = first_sent.get(row.id)
        if sent is not None:
            delays.append(max((sent - row.confirmed_at).total_seconds(), 0.0))
        elif row.open and row.affected and (row.planning == "pending" or row.id in waiting):
            awaiting += 1
    notes = []
    if len(outages) == MAX_MEASURED:
        notes.append(f"time to first message: the latest {MAX_MEASURED:,} outages only")
    first = FirstMessage(
        measured=len(delays),
        awaiting=awaiting,
        p50_seconds=nearest_rank(delays, 50),
        p95_seconds=nearest_rank(delays, 95),
        max_seconds=max(delays) if delays else None,
    )
    return first, notes


def _confirmed_outages(session: Session, buckets: Buckets) -> list[Any]:
    """(id, confirmed_at, open, affected, planning) of the unplanned incidents confirmed in the
    window, latest first, at most MAX_MEASURED. Confirming an incident updates it, so these
    were all updated in the window too: that condition (on every status) lets the database
    find them by its (status, updated_at) index instead of reading every incident ever kept."""
    return list(
        session.execute(
            select(
                Incident.id,
                Incident.confirmed_at,
                Incident.status.in_(ACTIVE).label("open"),
                (Incident.affected_count > 0).label("affected"),
                PlanningJob.state.label("planning"),
            )
            .outerjoin(PlanningJob, PlanningJob.incident_id == Incident.id)
            .where(
                Incident.status.in_(ALL_STATUSES),
                Incident.updated_at >= buckets.start,
                Incident.kind == IncidentKind.UNPLANNED.value,
                Incident.confirmed_at >= buckets.start,
                Incident.confirmed_at < buckets.end,
            )
            .order_by(Incident.confirmed_at.desc(), Incident.id)
            .limit(MAX_MEASURED)
        )
    )


def _first_sent(session: Session, incident_ids: list[str]) -> dict[str, datetime]:
    """When a provider first accepted a message of each incident on an outbound channel."""
    if not incident_ids:
        return {}
    rows = session.execute(
        select(Notification.incident_id, func.min(Notification.sent_at))
        .where(
            among(Notification.incident_id, incident_ids),
            Notification.channel.in_(sorted(OUTBOUND)),
            Notification.sent_at.is_not(None),
        )
        .group_by(Notification.incident_id)
    )
    return {
        incident_id: sent
        for incident_id, sent in rows
        if incident_id is not None and sent is not None
    }


def _with_queued(session: Session, incident_ids: list[str]) -> set[str]:
    """Those of these incidents that have a message queued on an outbound channel."""
    if not incident_ids:
        return set()
    rows = session.scalars(
        select(Notification.incident_id)
        .where(
            among(Notification.incident_id, incident_ids),
            Notification.channel.in_(sorted(OUTBOUND)),
            Notification.status == "queued",
        )
        .distinct()
    )
    return {incident_id for incident_id in rows if incident_id is not None}


# ---- what customers send back ------------------------------------------------------------------


def _series(
    session: Session, buckets: Buckets, moment: Any, *where: ColumnElement[bool]
) -> list[int]:
    """Rows whose `moment` falls in each bucket, counted by the database."""
    index = ((epoch_seconds(moment) - buckets.start_epoch) // buckets.seconds).label("bucket")
    inner = select(index).where(moment >= buckets.start, moment < buckets.end, *where).subquery()
    rows = session.execute(select(inner.c.bucket, func.count()).group_by(inner.c.bucket))
    return buckets.series({int(bucket): count for bucket, count in rows})


def _added(*series: list[int]) -> list[int]:
    return [sum(counts) for counts in zip(*series, strict=True)]


# ---- as JSON -----------------------------------------------------------------------------------


def stats_dict(stats: StormStats) -> dict[str, Any]:
    """The figures as the API gives them (times ISO 8601 UTC)."""
    first = stats.first_message
    buckets = stats.buckets
    return {
        "now": iso(stats.now),
        "since": iso(buckets.start),
        "until": iso(buckets.end),
        "bucket_seconds": buckets.seconds,
        "affected": {**stats.affected, "total": stats.affected_total},
        "incidents": {
            "open": stats.open_total,
            "overdue": stats.overdue_incidents,
            "open_by_kind": dict(stats.open_incidents),
        },
        "messages": {channel: dict(counts) for channel, counts in stats.messages.items()},
        "first_message": {
            "measured": first.measured,
            "awaiting": first.awaiting,
            "p50_seconds": first.p50_seconds,
            "p95_seconds": first.p95_seconds,
            "max_seconds": first.max_seconds,
        },
        "buckets": [
            {"start": iso(start), "replies": replies, "reports": reports, "opt_outs": opt_outs}
            for start, replies, reports, opt_outs in zip(
                buckets.starts(), stats.replies, stats.reports, stats.opt_outs, strict=True
            )
        ],
        "inbound_totals": {
            "replies": sum(stats.replies),
            "reports": sum(stats.reports),
            "opt_outs": sum(stats.opt_outs),
        },
        "notes": list(stats.notes),
    }
