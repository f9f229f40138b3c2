"""Resend on another channel, at an agent's request: the customer on the phone never got the
SMS, so it goes again by email (or push, or SMS). The new notification says what the original
said (planning/fallback.py renders it from the same incident revision), is queued to the outbox
for the dispatcher like any other, is sent at once (the customer asked: quiet hours do not hold
it), and the agent's request is logged on the timeline (type "resend": by whom, of which
message, which notification it made). Never commits.

Dedup-safe: a message goes again on a channel at most once per original (the dedup key
`resend:<original id>:<channel>`, so a double click sends one), and not at all when the same
message already went on that channel and did not fail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outage_notify.customers.contacts import Contact, ContactHasher
from outage_notify.customers.optouts import blocked
from outage_notify.db.models import Customer, Notification, PushSubscription
from outage_notify.errors import ActionRefused
from outage_notify.planning.fallback import same_message_on
from outage_notify.planning.messages import MessageRenderer
from outage_notify.planning.rules import CHANNELS
from outage_notify.planning.service import write_notifications
from outage_notify.timeline import service as timeline

STILL_GOING = ("queued", "sent", "delivered")  # the same message on that channel: not again
CHANNEL_WORDS = {"sms": "SMS", "email": "email", "push": "push"}


@dataclass(frozen=True)
class Resent:
    notification_id: int
    channel: str
    to_address: str | None


def resend_on_channel(
    session: Session,
    *,
    customer: Customer,
    notification_id: int,
    channel: str,
    by: str,
    renderer: MessageRenderer,
    hasher: ContactHasher,
    now: datetime,
) -> Resent:
    """Queues the customer's message `notification_id` again on `channel`; ActionRefused when
    it cannot go there (which says why)."""
    original = session.get(Notification, notification_id)
    if original is None or original.customer_pk != customer.id:
        raise ActionRefused(
            f"customer {customer.customer_id} has no message {notification_id}",
            code="no_message",
            status=404,
        )
    if channel not in CHANNELS:
        raise ActionRefused(f"channel must be one of {', '.join(CHANNELS)}", code="channel_unknown")
    if channel == original.channel:
        raise ActionRefused(
            f"this message went by {CHANNEL_WORDS[channel]}: choose another channel",
            code="same_channel",
            channel=channel,
        )
    to_address = _address(session, customer, channel, hasher)
    _not_sent_there_already(session, original, channel)
    row = same_message_on(
        session,
        original=original,
        channel=channel,
        customer=customer,
        to_address=to_address,
        renderer=renderer,
        now=now,
    )
    if row is None:
        raise ActionRefused(
            "this message is about no incident whose text is kept: it cannot be sent again",
            code="not_resendable",
        )
    row["dedup_key"] = f"resend:{original.id}:{channel}"
    row["priority"] = 10  # someone is waiting for it on the phone
    written = write_notifications(session, [row], now=now)
    if not written:
        raise ActionRefused(
            f"this message was already sent again by {CHANNEL_WORDS[channel]}",
            code="already_resent",
            status=409,
            channel=channel,
        )
    new_id = int(written[0]["id"])
    timeline.log_event(
        session,
        timeline.Event(
            customer_pk=customer.id,
            at=now,
            type=timeline.RESEND,
            incident_id=original.incident_id,
            notification_id=new_id,
            channel=channel,
            kind=original.kind,
            data={"by": by, "of": original.id, "from_channel": original.channel},
        ),
    )
    return Resent(new_id, channel, to_address)


def _address(
    session: Session, customer: Customer, channel: str, hasher: ContactHasher
) -> str | None:
    """Where the message goes on `channel` (None for push: to every subscription)."""
    if channel == "push":
        subscriptions = session.scalar(
            select(func.count())
            .select_from(PushSubscription)
            .where(PushSubscription.customer_pk == customer.id)
        )
        if not subscriptions:
            raise ActionRefused(
                "the customer has no push subscription", code="no_address", channel=channel
            )
        return None
    address = customer.phone if channel == "sms" else customer.email
    if not address:
        raise ActionRefused(
            f"the customer has no address for {CHANNEL_WORDS[channel]}",
            code="no_address",
            channel=channel,
        )
    refused = blocked(
        session, hasher=hasher, contacts=[Contact(customer.customer_id, channel, address)]
    )
    if refused:
        raise ActionRefused(
            f"the customer's {CHANNEL_WORDS[channel]} address has opted out: it may not be used",
            code="opted_out",
            channel=channel,
        )
    return address


def _not_sent_there_already(session: Session, original: Notification, channel: str) -> None:
    same_key = original.dedup_key.rsplit(":", 1)[0] + f":{channel}"
    there = session.scalar(
        select(Notification).where(
            Notification.dedup_key.in_([same_key, f"resend:{original.id}:{channel}"])
        )
    )
    if there is not None and there.status in STILL_GOING:
        raise ActionRefused(
            f"this message already went by {CHANNEL_WORDS[channel]} ({there.status})",
            code="already_sent",
            status=409,
            channel=channel,
            status_word=there.status,
        )
