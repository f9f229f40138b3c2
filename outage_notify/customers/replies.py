"""SMS replies from customers. STOP opts the number out of SMS at once; START opts back in;
any other text is kept on the timeline of every customer who has that number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.customers.service import opt_in, opt_out
from outage_notify.db.models import Customer
from outage_notify.timeline import service as timeline

# Twilio's own opt-out and opt-in keywords, plus the Finnish and Swedish words people send.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "LOPETA", "SEIS", "SLUTA"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES", "ALOITA", "BÖRJA"})


@dataclass(frozen=True)
class ReplyOutcome:
    customers: int
    keyword: str | None  # "stop", "start" or None


def keyword_of(body: str) -> str | None:
    word = body.strip().split()[0].upper() if body.strip() else ""
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


def handle_inbound_sms(
    session: Session, *, from_number: str, body: str, message_sid: str, now: datetime
) -> ReplyOutcome:
    keyword = keyword_of(body)
    if keyword == "stop":
        opt_out(session, channel="sms", address=from_number, now=now)
    elif keyword == "start":
        opt_in(session, channel="sms", address=from_number)
    pks = list(session.scalars(select(Customer.id).where(Customer.phone == from_number)))
    events = [
        timeline.Event(
            customer_pk=pk,
            at=now,
            type=timeline.REPLY,
            body=body[:1000],
            data={"from": from_number, "sid": message_sid, "keyword": keyword},
        )
        for pk in pks
    ]
    if keyword:
        change = "SMS opted out (STOP)" if keyword == "stop" else "SMS opted back in (START)"
        events += [
            timeline.Event(customer_pk=pk, at=now, type=timeline.PREFERENCE_CHANGED, body=change)
            for pk in pks
        ]
    timeline.log_events(session, events)
    return ReplyOutcome(customers=len(pks), keyword=keyword)
