"""Incidents as the API shows them, with counts of their notifications by status."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outage_notify.db.models import Incident, Notification
from outage_notify.incidents.model import ACTIVE_STATUSES, describe, value_of
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


def list_incidents(
    session: Session, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[Incident]:
    query = select(Incident).order_by(Incident.updated_at.desc(), Incident.id)
    if status == "active":
        query = query.where(Incident.status.in_(sorted(ACTIVE_STATUSES)))
    elif status:
        query = query.where(Incident.status == status)
    return list(session.scalars(query.limit(limit).offset(offset)))


def incident_dict(
    incident: Incident, counts: dict[str, int] | None = None, planning: str = "done"
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
    }
