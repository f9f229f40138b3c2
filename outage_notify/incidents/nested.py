"""Still out after the restoration: a customer who answers the `restored` SMS with OUT /
EI SÄHKÖÄ / STRÖMLÖS (within a day of it) becomes a nested outage of their own. Operators see
it (source `reply`, listed with the others; its revision names the customer); it is not
confirmed, so nobody else is told anything: whoever goes to look decides what it is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.db.models import Customer, Incident, Notification
from outage_notify.incidents.model import IncidentKind, IncidentValue, Status
from outage_notify.incidents.service import IncidentService
from outage_notify.matching.geometry import circle_polygon

SOURCE = "reply"
# How long after a restored message an OUT reply still refers to it.
WINDOW = timedelta(hours=24)
# The customer's own point: one metre round it (only customers at the very same place).
RADIUS_M = 1.0


def report_still_out(
    session: Session, *, service: IncidentService, customer_pks: Sequence[int], now: datetime
) -> list[tuple[int, Incident]]:
    """(customer pk, their nested outage) for each of these customers told of a restoration
    within WINDOW."""
    nested = []
    for customer_pk in customer_pks:
        parent = _last_restored(session, customer_pk, now)
        customer = session.get(Customer, customer_pk)
        if parent is None or customer is None:
            continue
        record = IncidentValue(
            external_id=f"{parent.external_id[:150]}/{customer.customer_id}"[:200],
            kind=IncidentKind.UNPLANNED,
            status=Status.DETECTED,
            cause=parent.cause,
            area=circle_polygon(customer.lon, customer.lat, RADIUS_M),
            started_at=now,
        )
        outcome = service.upsert(
            session,
            source=SOURCE,
            record=record,
            actor=f"reply:{customer.customer_id}"[:300],
            now=now,
            confirmed=False,
        )
        nested.append((customer_pk, outcome.incident))
    return nested


def _last_restored(session: Session, customer_pk: int, now: datetime) -> Incident | None:
    incident_id = session.scalar(
        select(Notification.incident_id)
        .where(
            Notification.customer_pk == customer_pk,
            Notification.kind == "restored",
            Notification.channel == "sms",
            Notification.created_at >= now - WINDOW,
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
    )
    return None if incident_id is None else session.get(Incident, incident_id)
