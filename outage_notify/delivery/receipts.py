"""Delivery receipts: the provider says what became of a message. Validated at the webhook,
applied here: the status only moves forward, and a permanent failure triggers the fallback."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.customers.contacts import ContactHasher
from outage_notify.db.models import Notification
from outage_notify.delivery.channels.base import Outcome
from outage_notify.delivery.channels.sms_twilio import STATUS_MAP
from outage_notify.delivery.metrics import RECEIPTS
from outage_notify.delivery.outbox import set_status
from outage_notify.planning.fallback import plan_fallback
from outage_notify.planning.messages import MessageRenderer


def apply_twilio_status(
    session: Session,
    *,
    notification_id: int | None,
    message_sid: str,
    status: str,
    error_code: str | None,
    renderer: MessageRenderer,
    hasher: ContactHasher,
    now: datetime,
) -> bool:
    """Applies one Twilio status callback; False if it names no message of ours."""
    notification = _find(session, notification_id, message_sid)
    if notification is None:
        return False
    RECEIPTS.labels("twilio", status).inc()
    outcome = STATUS_MAP.get(status)
    if outcome is None or outcome is Outcome.RETRY:
        return True
    reason = None
    if outcome is Outcome.FAILED:
        reason = f"Twilio says {status}" + (f" (error {error_code})" if error_code else "")
    moved = set_status(
        session,
        notification_id=notification.id,
        status=outcome.value,
        now=now,
        reason=reason,
        provider="twilio",
        provider_ref=message_sid,
    )
    if moved and outcome is Outcome.FAILED:
        session.refresh(notification)
        plan_fallback(session, failed=notification, renderer=renderer, hasher=hasher, now=now)
    return True


def _find(session: Session, notification_id: int | None, sid: str) -> Notification | None:
    if notification_id is not None:
        notification = session.get(Notification, notification_id)
        if notification is not None and notification.provider_ref in (None, sid):
            return notification
    return session.scalar(select(Notification).where(Notification.provider_ref == sid))
