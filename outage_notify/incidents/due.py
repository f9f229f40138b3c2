"""Rules that time sets off, run by the `due-rules` sweep: what became due since the last run
is read from the database, so a sweep missed (a restart, a lease moving) is caught up by the
next, and a sweep run twice changes nothing the second time.

- Confirmation: an unplanned outage from a feed is told once it has lasted CONFIRM_SECONDS
  since its start, if the feed still lists it (one missing from the latest poll may be over:
  it is never confirmed then).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from outage_notify.db.models import FeedItem, Incident
from outage_notify.incidents.model import ACTIVE_STATUSES
from outage_notify.incidents.service import IncidentService

CONFIRM_ACTOR = "rule:confirm"


def due_for_confirmation(session: Session, *, now: datetime, confirm_seconds: float) -> list[str]:
    """Unconfirmed open incidents that have lasted long enough and are still listed."""
    cutoff = now - timedelta(seconds=confirm_seconds)
    missing_from_feed = exists().where(
        FeedItem.incident_id == Incident.id, FeedItem.absent_polls > 0
    )
    return list(
        session.scalars(
            select(Incident.id)
            .where(
                Incident.confirmed_at.is_(None),
                Incident.status.in_(tuple(ACTIVE_STATUSES)),
                Incident.started_at <= cutoff,
                ~missing_from_feed,
            )
            .order_by(Incident.started_at)
        )
    )


def confirm(session: Session, *, service: IncidentService, incident_id: str, now: datetime) -> bool:
    """Confirms one incident (locked, and looked at again under the lock)."""
    incident = session.scalar(
        select(Incident).where(Incident.id == incident_id).with_for_update(key_share=True)
    )
    if incident is None:
        return False
    return service.confirm(session, incident=incident, actor=CONFIRM_ACTOR, now=now)


def run_due_rules(ctx: Any) -> dict[str, Any]:
    """The sweep: each incident in its own short transaction."""
    now = ctx.clock.now()
    with ctx.transaction() as session:
        due = due_for_confirmation(session, now=now, confirm_seconds=ctx.settings.confirm_seconds)
    confirmed = 0
    for incident_id in due:
        if ctx.stopping():
            break
        with ctx.transaction() as session:
            confirmed += confirm(session, service=ctx.incidents, incident_id=incident_id, now=now)
    if confirmed:
        ctx.wake()
    return {"confirmed": confirmed}
