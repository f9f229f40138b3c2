"""SMS replies from customers. An opt-out keyword (the contract's list, as the first word, in
any case) opts the number out of SMS at once; START opts it back in; each is answered in the
customer's language. OUT (EI SÄHKÖÄ, STRÖMLÖS) says the power is out: a customer told of a
restoration within a day becomes a nested outage (incidents/nested.py), any other customer
with that number an outage report at their service location, on the operators' map. Any
reply is kept on the timeline of every customer who has that number. A reply is handled once
per provider message id: a webhook the provider retries is a no-op."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.customers.contacts import ContactHasher
from outage_notify.customers.optouts import opt_in, opt_out
from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import Customer, InboundMessage
from outage_notify.ingest.text import one_line
from outage_notify.public.reports import MAX_TEXT, report_customers
from outage_notify.timeline import service as timeline

# CONTRACT.md rule 7: Twilio's own opt-out words, and the Finnish and Swedish ones.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "LOPETA", "STOPP", "SLUTA"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES", "ALOITA", "BÖRJA"})
# The restored SMS invites these when the power is still out (with or without diacritics).
STILL_OUT_WORDS = frozenset({"OUT", "STRÖMLÖS", "STROMLOS"})
STILL_OUT_PHRASES = frozenset({("EI", "SÄHKÖÄ"), ("EI", "SAHKOA")})
TRAILING = string.punctuation + "…¡¿"
# An OUT texted again this soon after the last one adds no report (one customer's twice is
# not two reports close together, which the console would propose as an outage).
REPORT_AGAIN = timedelta(minutes=30)
AUTO_REPLY = re.compile(r"\s*out\s+of\s+(the\s+)?office\b", re.IGNORECASE)


@dataclass(frozen=True)
class ReplyOutcome:
    customers: int
    keyword: str | None  # "stop", "start", "out" or None
    language: str | None  # the language to answer in: that of a customer with this number
    repeated: bool = False  # this message id was handled before: nothing was done again
    nested: int = 0  # nested outages reported (still out after a restoration)
    reports: int = 0  # outage reports made (OUT from customers not just told of a restoration)

    @property
    def answer(self) -> str | None:
        """The reply template's keyword (templates/messages/sms/reply_<answer>.<lang>.j2):
        to OUT, what was done with it."""
        if self.keyword != "out":
            return self.keyword
        if self.nested:
            return "out"
        # Known customers were reported (or were, by this OUT's first delivery or one a
        # moment ago): the answer is never "we do not know you" to them.
        return "report" if self.customers else "out_unknown"


def keyword_of(body: str) -> str | None:
    """ "stop", "start", "out" or None, from the first word (or two) of a reply ("Stop." and
    "stop!" count)."""
    if AUTO_REPLY.match(body):
        return None  # "Out of office": a machine answering, not a customer without power
    # A control character (a phone's stray byte) separates words like a space does.
    words = [w.strip(TRAILING).upper() for w in one_line(body).split()[:2]]
    word = words[0] if words else ""
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in STILL_OUT_WORDS or tuple(words) in STILL_OUT_PHRASES:
        return "out"
    return None


def handle_inbound_sms(
    session: Session,
    *,
    from_number: str,
    body: str,
    message_sid: str,
    hasher: ContactHasher,
    now: datetime,
    still_out: Callable[[Session, list[int], datetime], set[int]] | None = None,
) -> ReplyOutcome:
    """still_out(session, customer pks, now): what to do when the number says the power is
    still out after a restoration (nested outages); returns the customers it took. The
    others with the number are reported as out where they are."""
    # A NUL (a phone's stray byte) is nothing anyone wrote, and PostgreSQL's text cannot hold
    # it: dropped before the reply is read or kept. Other control characters are kept.
    body = body.replace("\x00", "")
    keyword = keyword_of(body)
    people = session.execute(
        select(Customer.id, Customer.language)
        .where(Customer.phone == from_number)
        .order_by(Customer.id)
    ).all()
    language = people[0].language if people else None
    if not _first_time(session, message_sid, now):
        return ReplyOutcome(len(people), keyword, language, repeated=True)
    if keyword == "stop":
        opt_out(session, hasher=hasher, channel="sms", address=from_number, now=now)
    elif keyword == "start":
        opt_in(session, hasher=hasher, channel="sms", address=from_number)
    timeline.log_events(session, _events(people, from_number, body, message_sid, keyword, now))
    nested: set[int] = set()
    reports = 0
    if keyword == "out":
        pks = [p.id for p in people]
        nested = still_out(session, pks, now) if still_out is not None else set()
        reported = report_customers(
            session,
            customer_pks=[pk for pk in pks if pk not in nested],
            source="sms",
            text=one_line(body[:MAX_TEXT]).strip() or None,
            now=now,
            unless_since=now - REPORT_AGAIN,
        )
        reports = len(reported)
    return ReplyOutcome(len(people), keyword, language, nested=len(nested), reports=reports)


def _first_time(session: Session, message_sid: str, now: datetime) -> bool:
    """Records the message id; False if it was recorded before (a retried webhook)."""
    if not message_sid:
        return True  # nothing to recognise a retry by
    # RETURNING, not rowcount: PostgreSQL's driver reports -1 for this ORM-enabled INSERT.
    inserted = session.execute(
        upsert_insert(session)(InboundMessage)
        .values(message_sid=message_sid, received_at=now)
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(InboundMessage.message_sid)
    ).first()
    return inserted is not None


def _events(
    people: Sequence[Any],
    from_number: str,
    body: str,
    message_sid: str,
    keyword: str | None,
    now: datetime,
) -> list[timeline.Event]:
    data = {"from": from_number, "sid": message_sid, "keyword": keyword}
    events = [
        timeline.Event(customer_pk=p.id, at=now, type=timeline.REPLY, body=body[:1000], data=data)
        for p in people
    ]
    if keyword in ("stop", "start"):
        change = "SMS opted out (STOP)" if keyword == "stop" else "SMS opted back in (START)"
        events += [
            timeline.Event(customer_pk=p.id, at=now, type=timeline.PREFERENCE_CHANGED, body=change)
            for p in people
        ]
    return events
