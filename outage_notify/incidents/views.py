"""Incidents as the API shows them, with counts of their notifications by status."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outage_notify.db.models import Incident, Notification
from outage_notify.timeutil import iso

ACTIVE = ("detected", "crew_assigned", "in_progress")


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
        query = query.where(Incident.status.in_(ACTIVE))
    elif status:
        query = query.where(Incident.status == status)
    return list(session.scalars(query.limit(limit).offset(offset)))


def incident_dict(
    incident: Incident, counts: dict[str, int] | None = None, planning: str = "done"
) -> dict[str, Any]:
    return {
        "id": incident.id,
        "source": incident.source,
        "external_id": incident.external_id,
        "kind": incident.kind,
        "status": incident.status,
        "cause": incident.cause,
        "message": incident.message,
        "area": incident.area,
        "feeders": incident.feeders,
        "transformers": incident.transformers,
        "etr": iso(incident.etr),
        "starts_at": iso(incident.starts_at),
        "ends_at": iso(incident.ends_at),
        "started_at": iso(incident.started_at),
        "version": incident.version,
        "affected_customers": incident.affected_count,
        "planning": planning,
        "notifications": dict(counts or {}),
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "closed_at": iso(incident.closed_at),
    }
