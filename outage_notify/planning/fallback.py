"""Channel fallback: an SMS that failed for good is sent by email, where the customer has one.

The email says what the SMS said: it is rendered from the incident revision the SMS was, with
the same arguments, and its dedup key is the SMS's with the channel changed, so a customer who
already gets email for this message is not sent it twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.customers.contacts import Contact, ContactHasher
from outage_notify.customers.optouts import blocked
from outage_notify.db.models import Customer, Incident, IncidentRevision, Notification
from outage_notify.incidents.model import IncidentValue, MessageKind, frozen_message, value_of
from outage_notify.planning.messages import MessageRenderer
from outage_notify.planning.rules import ChannelIntent
from outage_notify.planning.service import notification_row, write_notifications
from outage_notify.timeutil import parse_iso_aware

FALLBACKS = {"sms": "email"}


def plan_fallback(
    session: Session,
    *,
    failed: Notification,
    renderer: MessageRenderer,
    hasher: ContactHasher,
    now: datetime,
) -> bool:
    """Plans the fallback message for a permanently failed one; True if one was written."""
    channel = FALLBACKS.get(failed.channel)
    if channel is None or failed.incident_id is None:
        return False
    customer = session.get(Customer, failed.customer_pk)
    if customer is None or not customer.email:
        return False
    if blocked(
        session, hasher=hasher, contacts=[Contact(customer.customer_id, channel, customer.email)]
    ):
        return False
    row = same_message_on(
        session,
        original=failed,
        channel=channel,
        customer=customer,
        to_address=customer.email,
        renderer=renderer,
        now=now,
    )
    if row is None:
        return False
    row["fallback_of"] = failed.id
    row["priority"] = 10
    return bool(write_notifications(session, [row], now=now))


def same_message_on(
    session: Session,
    *,
    original: Notification,
    channel: str,
    customer: Customer,
    to_address: str | None,
    renderer: MessageRenderer,
    now: datetime,
) -> dict[str, Any] | None:
    """The notification row of `original`'s message on another channel: rendered from the
    incident revision the original was, with its arguments, its dedup key the original's with
    the channel changed. None when the original is about no incident or its revision is gone."""
    if original.incident_id is None:
        return None
    args = original.render_args or {}
    text = _text_at(session, original.incident_id, args.get("version"))
    if text is None:
        return None
    rendered = renderer.render(
        kind=MessageKind(original.kind),
        channel=channel,
        language=original.language,
        incident=text,
        now=now,
        address=customer.address,
        later=args.get("later"),
    )
    return notification_row(
        customer_pk=customer.id,
        incident_id=original.incident_id,
        kind=MessageKind(original.kind),
        version=int(args.get("version") or 0),
        channel=channel,
        language=original.language,
        to_address=to_address,
        rendered=rendered,
        intent=ChannelIntent(channel),
        now=now,
        later=args.get("later"),
    )


def _text_at(session: Session, incident_id: str, version: object) -> IncidentValue | None:
    """The incident as it stood when the failed message was written, so the fallback says the
    same thing."""
    incident = session.get(Incident, incident_id)
    revision = session.scalar(
        select(IncidentRevision).where(
            IncidentRevision.incident_id == incident_id, IncidentRevision.version == version
        )
    )
    if incident is None or revision is None:
        return None
    snap = revision.snapshot
    return replace(
        value_of(incident),
        status=snap["status"],
        cause=snap.get("cause"),
        message=frozen_message(snap.get("message")),
        started_at=_time(snap.get("started_at")) or incident.started_at,
        etr=_time(snap.get("etr")),
        starts_at=_time(snap.get("starts_at")),
        ends_at=_time(snap.get("ends_at")),
    )


def _time(value: object) -> datetime | None:
    return parse_iso_aware(value) if isinstance(value, str) else None
