"""Customers: upsert, find, export, erase. Services take the session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, false, func, insert, or_, select, update
from sqlalchemy.orm import Session

from outage_notify.customers.contacts import ContactHasher
from outage_notify.customers.optouts import record_erasure
from outage_notify.db import meta
from outage_notify.db.models import (
    Customer,
    Incident,
    IncidentCustomer,
    Notification,
    OutageReport,
    PushSubscription,
    TimelineEvent,
)
from outage_notify.ingest.records import CustomerRecord
from outage_notify.ingest.text import has_control

CHUNK = 500


@dataclass(frozen=True)
class UpsertResult:
    created: int
    updated: int


def upsert_customers(
    session: Session, *, records: Sequence[CustomerRecord], now: datetime
) -> UpsertResult:
    """Insert new customer_ids, update known ones; bumps the customers' revision."""
    created = updated = 0
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        existing = _ids_by_customer_id(session, [r.customer_id for r in chunk])
        new_rows = [
            {**r.as_row(), "created_at": now, "updated_at": now}
            for r in chunk
            if r.customer_id not in existing
        ]
        changed_rows = [
            {**r.as_row(), "id": existing[r.customer_id], "updated_at": now}
            for r in chunk
            if r.customer_id in existing
        ]
        if new_rows:
            session.execute(insert(Customer), new_rows)
        if changed_rows:
            session.execute(update(Customer), changed_rows)
        created += len(new_rows)
        updated += len(changed_rows)
    if records:
        meta.bump_customers_revision(session)
    return UpsertResult(created, updated)


def _ids_by_customer_id(session: Session, customer_ids: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(Customer.customer_id, Customer.id).where(Customer.customer_id.in_(customer_ids))
    )
    return {cid: pk for cid, pk in rows}  # noqa: C416 - rows are Row objects


def get_customer(session: Session, *, customer_id: str) -> Customer | None:
    if has_control(customer_id):  # stored ids have none; PostgreSQL refuses a NUL outright
        return None
    return session.scalar(select(Customer).where(Customer.customer_id == customer_id))


def search_customers(
    session: Session, *, phone: str | None = None, q: str | None = None, limit: int = 50
) -> list[Customer]:
    """By phone (E.164, exact), or by customer id, name or address (case-insensitive)."""
    query = select(Customer)
    if phone:
        query = query.where(Customer.phone == phone)
    if q:
        query = query.where(text_matches(q))
    return list(session.scalars(query.order_by(Customer.customer_id).limit(limit)))


def text_matches(q: str) -> ColumnElement[bool]:
    """Customers whose id is q, or whose id, name or address holds q, case-insensitively.
    q is literal text: % and _ are escaped. Stored text holds no control characters, so a q
    with one (a NUL would end SQLite's LIKE pattern early and match everyone) matches none."""
    text = q.strip()
    if has_control(text):
        return false()
    pattern = f"%{_escape_like(text.lower())}%"
    return or_(
        Customer.customer_id == text,
        func.lower(Customer.name).like(pattern, escape="\\"),
        func.lower(Customer.address).like(pattern, escape="\\"),
        func.lower(Customer.customer_id).like(pattern, escape="\\"),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def current_incidents(session: Session, *, customer_pk: int) -> list[Incident]:
    query = (
        select(Incident)
        .join(IncidentCustomer, IncidentCustomer.incident_id == Incident.id)
        .where(IncidentCustomer.customer_pk == customer_pk, IncidentCustomer.affected.is_(True))
        .order_by(Incident.started_at)
    )
    return list(session.scalars(query))


def add_push_subscription(
    session: Session, *, customer: Customer, endpoint: str, p256dh: str, auth: str, now: datetime
) -> PushSubscription:
    existing = session.scalar(
        select(PushSubscription).where(
            PushSubscription.customer_pk == customer.id, PushSubscription.endpoint == endpoint
        )
    )
    if existing is not None:
        existing.p256dh, existing.auth = p256dh, auth
        return existing
    subscription = PushSubscription(
        customer_pk=customer.id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now
    )
    session.add(subscription)
    session.flush()
    return subscription


# ---- export and erasure ---------------------------------------------------------------------


def export_customer(session: Session, *, customer: Customer) -> dict[str, Any]:
    """Everything held on one customer, for a subject access request."""
    notifications = session.scalars(
        select(Notification)
        .where(Notification.customer_pk == customer.id)
        .order_by(Notification.id)
    )
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.customer_pk == customer.id)
        .order_by(TimelineEvent.id)
    )
    reports = session.scalars(
        select(OutageReport)
        .where(OutageReport.customer_pk == customer.id)
        .order_by(OutageReport.id)
    )
    return {
        "customer": customer_dict(customer),
        "outage_reports": [
            {
                "at": r.at.isoformat(),
                "source": r.source,
                "text": r.text,
                "incident_id": r.incident_id,
            }
            for r in reports
        ],
        "push_subscriptions": [
            {"endpoint": s.endpoint, "created_at": s.created_at.isoformat()}
            for s in customer.push_subscriptions
        ],
        "notifications": [_notification_export(n) for n in notifications],
        "timeline": [_event_export(e) for e in events],
    }


def erase_customer(
    session: Session, *, customer: Customer, hasher: ContactHasher, now: datetime
) -> None:
    """Removes the customer and everything about them. A tombstone of keyed hashes stays, so
    a later re-import of this customer cannot message them on the contacts they had; other
    customers who share a phone or email are not affected."""
    record_erasure(session, hasher=hasher, customer=customer, now=now)
    # Their outage reports say where they live and what they wrote: they go too (the link to
    # the customer alone would only be cleared by the foreign key).
    session.execute(delete(OutageReport).where(OutageReport.customer_pk == customer.id))
    session.execute(delete(Customer).where(Customer.id == customer.id))
    meta.bump_customers_revision(session)


def customer_dict(customer: Customer) -> dict[str, Any]:
    return {
        "customer_id": customer.customer_id,
        "name": customer.name,
        "address": customer.address,
        "phone": customer.phone,
        "email": customer.email,
        "language": customer.language,
        "lat": customer.lat,
        "lon": customer.lon,
        "channels": customer.channels.split(";") if customer.channels else None,
        "feeder": customer.feeder,
        "transformer": customer.transformer,
        "quiet_hours": customer.quiet_hours,
        "priority": customer.priority,
        "created_at": customer.created_at.isoformat(),
        "updated_at": customer.updated_at.isoformat(),
    }


def _notification_export(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "incident_id": n.incident_id,
        "channel": n.channel,
        "kind": n.kind,
        "to": n.to_address,
        "subject": n.subject,
        "body": n.body,
        "status": n.status,
        "reason": n.reason,
        "created_at": n.created_at.isoformat(),
    }


def _event_export(e: TimelineEvent) -> dict[str, Any]:
    return {"at": e.at.isoformat(), "type": e.type, "incident_id": e.incident_id, "data": e.data}
