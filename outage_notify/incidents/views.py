"""Incidents as the API shows them, with counts of their notifications by status; their
history; and the priority customers an incident affects, for operators to call."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, not_, select
from sqlalchemy.orm import Session

from outage_notify.db.models import (
    Customer,
    Incident,
    IncidentCustomer,
    IncidentRevision,
    Notification,
)
from outage_notify.incidents.model import ACTIVE_STATUSES, describe, value_of
from outage_notify.ingest.records import PRIORITIES
from outage_notify.ingest.text import has_control
from outage_notify.timeutil import iso


def notification_counts(session: Session, incident_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    if not incident_ids:
        return counts
    rows = session.execute(
        select(Notification.incident_id, Notification.status, func.count())
        .where(Notification.incident_id.in_(list(incident_ids)))
        .group_by(Notification.incident_id, Notification.status)
    )
    for incident_id, status, count in rows:
        if incident_id is not None:
            counts[incident_id][status] = count
    return counts


def is_overdue(incident: Incident, now: datetime) -> bool:
    """Open, and its ETR has passed: customers were promised a time that did not hold."""
    return incident.status in ACTIVE_STATUSES and incident.etr is not None and incident.etr <= now


def _overdue_clause(now: datetime) -> ColumnElement[bool]:
    # The same rule as is_overdue, in SQL.
    return and_(
        Incident.status.in_(sorted(ACTIVE_STATUSES)),
        Incident.etr.is_not(None),
        Incident.etr <= now,
    )


@dataclass(frozen=True)
class IncidentFilter:
    """What GET /incidents narrows to; None is no filter."""

    status: str | None = None  # "active", or one status
    source: str | None = None  # exact: "operator", "feed:<id>"
    kind: str | None = None
    overdue: bool | None = None


def list_incidents(
    session: Session,
    *,
    now: datetime,
    where: IncidentFilter = IncidentFilter(),
    limit: int = 100,
    offset: int = 0,
) -> list[Incident]:
    query = select(Incident).order_by(Incident.updated_at.desc(), Incident.id)
    if where.status == "active":
        query = query.where(Incident.status.in_(sorted(ACTIVE_STATUSES)))
    elif where.status:
        query = query.where(Incident.status == where.status)
    if where.source is not None:
        # Stored sources hold no control characters; PostgreSQL refuses a NUL outright.
        query = query.where(
            false() if has_control(where.source) else Incident.source == where.source
        )
    if where.kind is not None:
        query = query.where(Incident.kind == where.kind)
    if where.overdue is not None:
        overdue = _overdue_clause(now)
        query = query.where(overdue if where.overdue else not_(overdue))
    return list(session.scalars(query.limit(limit).offset(offset)))


def incident_dict(
    incident: Incident,
    counts: dict[str, int] | None = None,
    planning: str = "done",
    *,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": incident.id,
        "source": incident.source,
        **describe(value_of(incident), extent=True),
        "version": incident.version,
        "affected_customers": incident.affected_count,
        "planning": planning,
        "notifications": dict(counts or {}),
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "closed_at": iso(incident.closed_at),
        "confirmed_at": iso(incident.confirmed_at),
        "overdue": is_overdue(incident, now),
    }


# ---- history ------------------------------------------------------------------------------------


def list_revisions(
    session: Session, *, incident_id: str, after_version: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """The incident's revisions after `after_version`, oldest first, and who made each."""
    revisions = session.scalars(
        select(IncidentRevision)
        .where(
            IncidentRevision.incident_id == incident_id,
            IncidentRevision.version > after_version,
        )
        .order_by(IncidentRevision.version)
        .limit(limit)
    )
    return [
        {
            "version": r.version,
            "at": iso(r.at),
            "actor": r.actor,
            "changes": list(r.changes),
            "snapshot": r.snapshot,
        }
        for r in revisions
    ]


# ---- priority customers -------------------------------------------------------------------------


def priority_customers(session: Session, *, incident_id: str) -> list[dict[str, Any]]:
    """The priority customers this incident affects now (not those released from it), in the
    order to call them: life support first, then critical facilities, then by customer id."""
    rank = case({p: i for i, p in enumerate(PRIORITIES)}, value=Customer.priority)
    rows = session.execute(
        select(
            Customer.customer_id,
            Customer.name,
            Customer.address,
            Customer.phone,
            Customer.priority,
            Customer.language,
        )
        .join(IncidentCustomer, IncidentCustomer.customer_pk == Customer.id)
        .where(
            IncidentCustomer.incident_id == incident_id,
            IncidentCustomer.affected.is_(True),
            Customer.priority.in_(PRIORITIES),
        )
        .order_by(rank, Customer.customer_id)
    )
    return [row._asdict() for row in rows]


# ---- who was told, on which channel, and who was not --------------------------------------------


@dataclass(frozen=True)
class ChannelOutcome:
    channel: str
    status: str
    reason: str | None
    customers: int  # distinct customers with a message of this fate on this channel


def channel_outcomes(session: Session, *, incident_id: str) -> list[ChannelOutcome]:
    """Per channel, how many customers' messages about the incident are queued, sent,
    delivered, failed or suppressed, and why for the last two: one GROUP BY, however large."""
    rows = session.execute(
        select(
            Notification.channel,
            Notification.status,
            Notification.reason,
            func.count(func.distinct(Notification.customer_pk)),
        )
        .where(Notification.incident_id == incident_id)
        .group_by(Notification.channel, Notification.status, Notification.reason)
    )
    outcomes = [ChannelOutcome(c, s, r, n) for c, s, r, n in rows]
    order = {name: i for i, name in enumerate(CHANNEL_ORDER)}
    fates = {name: i for i, name in enumerate(STATUS_ORDER)}
    return sorted(
        outcomes,
        key=lambda o: (
            order.get(o.channel, 99),
            fates.get(o.status, 99),
            -o.customers,
            o.reason or "",
        ),
    )


CHANNEL_ORDER = ("sms", "email", "push", "in_app")
STATUS_ORDER = ("delivered", "sent", "queued", "failed", "suppressed")


def customers_untold(session: Session, *, incident_id: str) -> int:
    """Customers affected now to whom nothing about the incident was sent or queued on any
    channel but the in-app feed: the ones an agent may hear from first."""
    reached = exists().where(
        Notification.incident_id == incident_id,
        Notification.customer_pk == IncidentCustomer.customer_pk,
        Notification.channel != "in_app",
        Notification.status.in_(("queued", "sent", "delivered")),
    )
    return (
        session.scalar(
            select(func.count())
            .select_from(IncidentCustomer)
            .where(
                IncidentCustomer.incident_id == incident_id,
                IncidentCustomer.affected.is_(True),
                ~reached,
            )
        )
        or 0
    )
