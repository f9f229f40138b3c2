"""The storm dashboard's figures on a small storm played through the real engine (incidents
planned by the planning worker, messages delivered by the dispatcher to the Twilio stand-in
and the development sink, receipts and replies through their services), at known moments of
a manual clock, against numbers counted by hand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.replies import handle_inbound_sms
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer, Notification
from outage_notify.delivery.receipts import apply_twilio_status
from outage_notify.incidents.model import IncidentKind, IncidentValue, Status
from outage_notify.incidents.nested import report_still_out
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.public.reports import record_report
from outage_notify.runtime import Runtime
from outage_notify.timeline.dashboard import StormStats, storm_stats
from tests.conftest import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.engine import at, patch_incident, upsert_incident
from tests.standins.twilio import Fault, TwilioStandIn
from tests.town import COLS, LAT0, LON0, ROWS, STEP, box, customer

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # 20:00 in Helsinki: nobody's quiet hours
END = T0 + timedelta(hours=1)
# 6-hour window in 5-minute buckets, aligned: 13:00 … 19:00, the last one still filling.
FIRST_BUCKET = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
BUCKETS = 73


def around(col0: int, row0: int, col1: int, row1: int) -> dict[str, Any]:
    """A polygon holding the customers of these columns and rows, with room round them."""
    half = STEP / 2
    return box(
        LON0 + col0 * STEP - half,
        LAT0 + row0 * STEP - half,
        LON0 + col1 * STEP + half,
        LAT0 + row1 * STEP + half,
    )


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def bucket_of(moment: datetime) -> int:
    return (moment - FIRST_BUCKET) // timedelta(minutes=5)


# Who is who: the town's customers (SMS and email), except those that make a point.
PEOPLE = {
    (3, 0): {"channels": "sms", "email": ""},  # B: SMS only, and Twilio refuses it
    (3, 1): {"channels": "email"},  # B: email only
}


@dataclass
class Storm:
    runtime: Runtime
    twilio: TwilioStandIn

    def stats(self, now: datetime = END, **kwargs: Any) -> StormStats:
        with self.runtime.reading() as session:
            return storm_stats(session, now=now, **kwargs)

    def post(self, now: datetime, **body: Any) -> str:
        outcome = upsert_incident(self.runtime, {"external_id": body.pop("id"), **body}, now=now)
        return outcome.incident.id

    def deliver(self, now: datetime) -> None:
        at(self.runtime, now)
        self.runtime.dispatcher.drain()

    def reply(self, now: datetime, col: int, row: int, body: str, sid: str) -> None:
        at(self.runtime, now)
        runtime = self.runtime

        def still_out(session: Any, pks: list[int], moment: datetime) -> set[int]:
            found = report_still_out(
                session, service=runtime.incidents, customer_pks=pks, now=moment
            )
            return {pk for pk, _ in found}

        runtime.warm_index()
        with runtime.transaction() as session:
            handle_inbound_sms(
                session,
                from_number=customer(col, row)["phone"],
                body=body,
                message_sid=sid,
                hasher=runtime.hasher,
                now=now,
                still_out=still_out,
            )
        runtime.planner.drain()

    def receipt(self, now: datetime, col: int, row: int, status: str) -> None:
        """Twilio's status callback for the customer's latest SMS."""
        with self.runtime.transaction() as session:
            notification = session.execute(
                select(Notification)
                .join(Customer, Customer.id == Notification.customer_pk)
                .where(
                    Customer.customer_id == f"C-{col}-{row}",
                    Notification.channel == "sms",
                )
                .order_by(Notification.id.desc())
                .limit(1)
            ).scalar_one()
            assert apply_twilio_status(
                session,
                notification_id=notification.id,
                message_sid=notification.provider_ref or "",
                status=status,
                error_code=None,
                renderer=self.runtime.renderer,
                hasher=self.runtime.hasher,
                now=now,
            )

    def warning(self, now: datetime, **fields: Any) -> None:
        """A weather warning as the CAP poll records one (its own kind of incident)."""
        at(self.runtime, now)
        record = IncidentValue(kind=IncidentKind.WARNING, status=Status.DETECTED, **fields)
        self.runtime.warm_index()
        with self.runtime.transaction() as session:
            self.runtime.incidents.upsert(
                session,
                source="cap",
                record=record,
                actor="cap:test",
                now=now,
                territory_checked=False,
            )
        self.runtime.planner.drain()


def load_town(runtime: Runtime) -> None:
    people = [customer(c, r, **PEOPLE.get((c, r), {})) for r in range(ROWS) for c in range(COLS)]
    parsed = parse_json_list(people, CustomerRules())
    assert not parsed.rejections
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=T0)


@pytest.fixture
def empty(make_settings: Callable[..., Settings], twilio: TwilioStandIn) -> Iterator[Storm]:
    """SMS through the Twilio stand-in; email and the rest to the development sink."""
    runtime = Runtime.build(
        make_settings(
            twilio_account_sid=TWILIO_SID,
            twilio_auth_token=TWILIO_TOKEN,
            twilio_from=TWILIO_FROM,
            twilio_base_url=twilio.base_url,
        ),
        clock=ManualClock(T0),
    )
    yield Storm(runtime, twilio)
    runtime.close()


@pytest.fixture
def storm(empty: Storm) -> Storm:
    """The storm, minute by minute (18:00 UTC is T0):

    00  A  outage over C-0-0, C-1-0, C-0-1, C-1-1        planned: 4 SMS, 4 emails, 4 in-app
    01  delivery: A's 4 SMS sent, 4 emails delivered      → A's first message after 60 s
    02  C-5-0 replies STOP                                 reply, opt-out
    03  Twilio: C-0-0's SMS delivered
    10  B  outage over C-3-0 (SMS only), C-3-1 (email only)
    15  delivery: Twilio refuses C-3-0's SMS (failed); C-3-1's email delivered → 300 s
    20  C  outage over C-5-0 (opted out: SMS suppressed), C-5-1; ETR 18:50
    22  delivery: C-5-1's SMS sent, 2 emails delivered    → 120 s
    24  C-5-1 replies "hello"
    35  P  planned work over C-0-3, C-1-3, from 18:50 to 20:00: notices planned
    40  A  restored: 4 restored SMS and emails; delivery: P's and A's all go out
    43  C-0-0 replies OUT: still out after A, a report (an unconfirmed outage of its own)
    45  W  weather warning over C-8-0, C-9-0 until 23:00; 46: its advisories go out
    50  D  outage over C-7-0: planned, never delivered (awaiting its first message)
    """
    s = empty
    load_town(s.runtime)
    a = s.post(minute(0), id="A", area=around(0, 0, 1, 1), cause="fallen tree")
    s.deliver(minute(1))
    s.reply(minute(2), 5, 0, "STOP", "SM-stop")
    s.receipt(minute(3), 0, 0, "delivered")
    s.post(minute(10), id="B", area=around(3, 0, 3, 1))
    s.twilio.faults.append(Fault(400, 21211, "The 'To' number is not a valid phone number."))
    s.deliver(minute(15))
    s.post(minute(20), id="C", area=around(5, 0, 5, 1), etr=minute(50).isoformat())
    s.deliver(minute(22))
    s.reply(minute(24), 5, 1, "hello", "SM-hello")
    s.post(
        minute(35),
        id="P",
        kind="planned",
        area=around(0, 3, 1, 3),
        starts_at=minute(50).isoformat(),
        ends_at=minute(120).isoformat(),
    )
    with s.runtime.transaction() as session:  # a report on the public map
        record_report(
            session, lat=60.2, lon=24.9, customer_pk=None, source="web", text=None, now=minute(31)
        )
    patch_incident(s.runtime, a, {"status": "restored"}, now=minute(40))
    s.deliver(minute(40))
    s.reply(minute(43), 0, 0, "OUT", "SM-out")
    s.warning(
        minute(45),
        external_id="W",
        area=around(8, 0, 9, 0),
        starts_at=minute(45),
        ends_at=minute(300),
        severity="Severe",
    )
    s.deliver(minute(46))
    s.post(minute(50), id="D", area=around(7, 0, 7, 0))
    return s


def test_customers_affected_now_by_kind(storm: Storm) -> None:
    stats = storm.stats()
    # Open outages B (2), C (2), D (1) and C-0-0's report; P has begun; W has not expired.
    assert stats.affected == {"unplanned": 6, "planned": 2, "warning": 2}
    assert stats.affected_total == 10
    assert stats.open_incidents == {"unplanned": 4, "planned": 1, "warning": 1}
    assert stats.overdue_incidents == 1  # C: its ETR 18:50 has passed


def test_planned_work_counts_once_begun_and_a_warning_until_it_expires(storm: Storm) -> None:
    before_work = storm.stats(now=minute(47))
    assert before_work.affected["planned"] == 0
    assert before_work.open_incidents["planned"] == 1
    after_expiry = storm.stats(now=minute(301))
    assert after_expiry.affected["warning"] == 0
    assert after_expiry.affected["planned"] == 2  # still open: nobody marked it done


def test_messages_by_channel_and_status(storm: Storm) -> None:
    stats = storm.stats()
    assert stats.messages["sms"] == {
        "queued": 1,  # D
        "sent": 12,  # A 3 (one delivered since), C 1, P 2, A restored 4, W 2
        "delivered": 1,  # A's C-0-0
        "failed": 1,  # B's C-3-0
        "suppressed": 1,  # C's C-5-0, opted out
    }
    assert stats.messages["email"] == {
        "queued": 1,  # D
        "sent": 0,
        "delivered": 15,  # A 4, B 1, C 2, P 2, A restored 4, W 2
        "failed": 0,
        "suppressed": 0,
    }
    # One in-app message for every customer and message: A 4, B 2, C 2, P 2, restored 4, W 2, D 1
    assert stats.messages["in_app"] == {
        "queued": 0,
        "sent": 0,
        "delivered": 17,
        "failed": 0,
        "suppressed": 0,
    }
    assert sum(stats.messages["push"].values()) == 0
    assert stats.messages_total() == 16 + 16 + 17
    assert stats.messages_total("failed") == 1


def test_time_to_first_message(storm: Storm) -> None:
    first = storm.stats().first_message
    # A 60 s, B 300 s (its SMS failed; its email went), C 120 s. D waits; the reported
    # outage is not confirmed (nobody is told of it); P and W are not outages.
    assert first.measured == 3
    assert first.awaiting == 1
    assert first.p50_seconds == 120
    assert first.p95_seconds == 300
    assert first.max_seconds == 300


def test_replies_reports_and_opt_outs_per_bucket(storm: Storm) -> None:
    stats = storm.stats()
    assert stats.buckets.start == FIRST_BUCKET
    assert stats.buckets.count == BUCKETS
    assert len(stats.replies) == len(stats.reports) == len(stats.opt_outs) == BUCKETS
    expected_replies = [0] * BUCKETS
    for moment in (minute(2), minute(24), minute(43)):
        expected_replies[bucket_of(moment)] += 1
    assert stats.replies == expected_replies
    # The map's report and the OUT reply that made a nested outage.
    reported = Counter(bucket_of(moment) for moment in (minute(31), minute(43)))
    assert {i: n for i, n in enumerate(stats.reports) if n} == reported
    assert {i: n for i, n in enumerate(stats.opt_outs) if n} == {bucket_of(minute(2)): 1}


def test_a_narrower_window_counts_only_its_own_messages(storm: Storm) -> None:
    """10 minutes before 19:00 in 1-minute buckets: 18:50 … 19:00, D's messages only (its
    outage was planned at 18:50), and of the outages only D, still waiting."""
    stats = storm.stats(window=timedelta(minutes=10), bucket=timedelta(minutes=1))
    assert stats.buckets.count == 11
    assert stats.messages_total() == 3
    assert stats.messages["sms"]["queued"] == stats.messages["email"]["queued"] == 1
    assert stats.first_message.measured == 0
    assert stats.first_message.awaiting == 1
    assert stats.first_message.p50_seconds is None
    assert stats.replies == [0] * 11


def test_an_empty_database_gives_zeros(empty: Storm) -> None:
    stats = empty.stats()
    assert stats.affected == {"unplanned": 0, "planned": 0, "warning": 0}
    assert stats.affected_total == 0
    assert stats.open_total == 0 and stats.overdue_incidents == 0
    assert stats.messages_total() == 0
    assert set(stats.messages) == {"sms", "email", "push", "in_app"}
    assert stats.first_message.measured == stats.first_message.awaiting == 0
    assert stats.first_message.p50_seconds is None and stats.first_message.p95_seconds is None
    assert stats.replies == stats.reports == stats.opt_outs == [0] * BUCKETS


def test_a_bucket_must_be_whole_seconds(empty: Storm) -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        empty.stats(bucket=timedelta(milliseconds=1500))
    with pytest.raises(ValueError, match="longer than zero"):
        empty.stats(window=timedelta(0))
