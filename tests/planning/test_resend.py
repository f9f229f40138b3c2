"""Resend on another channel at an agent's request: the same message, rendered from the same
incident revision, queued to the outbox and sent by the dispatcher; once per message and
channel however often it is asked; refused, with the reason, where it cannot go."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from outage_notify.clock import ManualClock
from outage_notify.customers.optouts import opt_out
from outage_notify.customers.service import get_customer, upsert_customers
from outage_notify.db.models import Notification, OutboxItem, TimelineEvent
from outage_notify.errors import ActionRefused
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.planning.resend import Resent, resend_on_channel
from outage_notify.runtime import Runtime
from outage_notify.timeline import service as timeline
from outage_notify.timeutil import utcnow
from tests.engine import upsert_incident
from tests.town import cells, customer


@pytest.fixture
def storm(make_settings: Any) -> Iterator[Runtime]:
    """C-0-0 (SMS chosen; has an email) and C-1-0 (SMS only, no email) in an outage; the
    SMS delivered."""
    now = utcnow().replace(microsecond=0)
    runtime = Runtime.build(make_settings(), clock=ManualClock(now))
    people = [customer(0, 0, channels="sms"), customer(1, 0, channels="sms", email=None)]
    parsed = parse_json_list(people, CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=now)
    body = {
        "external_id": "OMS-RESEND",
        "area": cells(0, 0, 2, 1),
        "cause": "fallen tree",
        "etr": (now + timedelta(hours=2)).isoformat(),
    }
    upsert_incident(runtime, body, now=now)
    runtime.drain()
    yield runtime
    runtime.close()


def sms_of(runtime: Runtime, customer_id: str) -> Notification:
    with runtime.reading() as session:
        person = get_customer(session, customer_id=customer_id)
        assert person is not None
        found = session.scalar(
            select(Notification).where(
                Notification.customer_pk == person.id, Notification.channel == "sms"
            )
        )
        assert found is not None and found.status == "delivered"
        return found


def resend(runtime: Runtime, customer_id: str, notification_id: int, channel: str) -> Resent:
    with runtime.transaction() as session:
        person = get_customer(session, customer_id=customer_id)
        assert person is not None
        return resend_on_channel(
            session,
            customer=person,
            notification_id=notification_id,
            channel=channel,
            by="agent-1",
            renderer=runtime.renderer,
            hasher=runtime.hasher,
            now=runtime.clock.now(),
        )


def refusal(runtime: Runtime, *args: Any) -> ActionRefused:
    with pytest.raises(ActionRefused) as refused:
        resend(runtime, *args)
    return refused.value


def test_the_sms_goes_again_by_email_saying_the_same_and_is_delivered(storm: Runtime) -> None:
    sms = sms_of(storm, "C-0-0")
    resent = resend(storm, "C-0-0", sms.id, "email")
    assert resent.channel == "email" and resent.to_address == customer(0, 0)["email"]
    with storm.reading() as session:
        email = session.get(Notification, resent.notification_id)
        assert email is not None
        assert session.scalar(select(OutboxItem).where(OutboxItem.notification_id == email.id))
        request = session.scalar(select(TimelineEvent).where(TimelineEvent.type == timeline.RESEND))
    assert email.incident_id == sms.incident_id and email.kind == sms.kind
    assert email.language == sms.language and email.status == "queued"
    assert "fallen tree" in email.body or customer(0, 0)["address"] in email.body
    assert request is not None and request.notification_id == email.id
    assert request.data == {"by": "agent-1", "of": sms.id, "from_channel": "sms"}
    storm.drain()
    with storm.reading() as session:
        delivered = session.get(Notification, resent.notification_id)
    assert delivered is not None and delivered.status in ("sent", "delivered")


def test_asked_twice_it_goes_once(storm: Runtime) -> None:
    sms = sms_of(storm, "C-0-0")
    resend(storm, "C-0-0", sms.id, "email")
    again = refusal(storm, "C-0-0", sms.id, "email")
    assert again.status == 409 and again.code == "already_sent"
    with storm.reading() as session:
        emails = session.scalars(select(Notification).where(Notification.channel == "email"))
        assert len(emails.all()) == 1


def test_where_it_cannot_go_it_is_refused_with_the_reason(storm: Runtime) -> None:
    sms = sms_of(storm, "C-0-0")
    assert refusal(storm, "C-0-0", sms.id, "sms").code == "same_channel"
    assert refusal(storm, "C-0-0", sms.id, "fax").code == "channel_unknown"
    assert refusal(storm, "C-0-0", sms.id, "push").code == "no_address"  # no subscription
    other = sms_of(storm, "C-1-0")
    assert refusal(storm, "C-1-0", other.id, "email").code == "no_address"
    missing = refusal(storm, "C-0-0", other.id, "email")  # another customer's message
    assert missing.status == 404 and missing.code == "no_message"
    assert refusal(storm, "C-0-0", 10**9, "email").status == 404
    with storm.transaction() as session:
        opt_out(
            session,
            hasher=storm.hasher,
            channel="email",
            address=customer(0, 0)["email"],
            now=storm.clock.now(),
        )
    assert refusal(storm, "C-0-0", sms.id, "email").code == "opted_out"
    with storm.reading() as session:
        assert (
            session.scalars(select(Notification).where(Notification.channel == "email")).all() == []
        )
