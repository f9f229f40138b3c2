"""Planning in the database (planning/setwise.py) writes exactly what the per-customer planner
writes: the same story is played on two PostgreSQL databases, one planned each way, and every
message, outbox row, timeline entry and told state is compared.

The customers are chosen to cover the classes the set-based planner groups by and the cases it
hands back to the per-customer planner: every language, chosen channels or none, missing
contacts, push subscriptions, quiet hours that hold and that do not, priority customers,
opt-outs (keyed and from before keyed hashes), a tombstone, and addresses that are plain GSM-7,
long enough to tip an SMS into a second part, or not plain at all (another alphabet, an
extension character, a character smart encoding replaces)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.contacts import legacy_digest
from outage_notify.customers.optouts import opt_out
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import (
    Customer,
    Erasure,
    Incident,
    IncidentCustomer,
    Notification,
    OptOut,
    OutboxItem,
    PushSubscription,
    TimelineEvent,
)
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.planning import setwise, sms
from outage_notify.planning.messages import ADDRESS_MARK
from outage_notify.runtime import Runtime
from tests.backends import Databases
from tests.engine import patch_incident, upsert_incident
from tests.town import cells, customer

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 18:00 in Helsinki
LONG = "Pitkänimisen asunto-osakeyhtiön rappukäytävän takimmainen ovi " * 2

ADDRESSES = (
    "Testikatu 1, Helsinki",
    "Åkervägen 3, Esbo",
    "Kioski €, Tori 2",  # an extension character: two septets
    "Rue Françoise 1",  # ç: smart encoding
    "ул. Ленина 5",  # another alphabet: UCS-2
    LONG.strip(),  # a second SMS part
    None,
    'Kotikatu 4 <"A&B">',  # escaped in HTML
)
CHANNELS = ("sms;email", "sms", "email;push", None, "push", "sms;email;push")
QUIET = (None, "22:00-07:00", "17:00-19:00", None)


def _customers() -> list[dict[str, Any]]:
    made = []
    for row in range(5):
        for col in range(10):
            n = row * 10 + col
            fields: dict[str, Any] = {
                "channels": CHANNELS[n % len(CHANNELS)],
                "quiet_hours": QUIET[n % len(QUIET)],
                "address": ADDRESSES[n % len(ADDRESSES)],
            }
            if n % 7 == 3:
                fields["phone"] = None
            if n % 11 == 4:
                fields["email"] = None
            if n % 9 == 2:
                fields["priority"] = "life_support"
            if n % 13 == 5:
                fields["email"] = f"Mixed.Case{n}@Example.com"
            record = customer(col, row, **fields)
            missing = [ch for ch, key in (("sms", "phone"), ("email", "email")) if not record[key]]
            if record["channels"] and any(ch in record["channels"] for ch in missing):
                record["channels"] = None  # a chosen channel needs its contact
            made.append({k: v for k, v in record.items() if v is not None})
    return made


def _load(runtime: Runtime) -> None:
    parsed = parse_json_list(_customers(), CustomerRules())
    assert not parsed.rejections, parsed.rejections
    hasher = runtime.hasher
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=NOW)
        by_id = {c.customer_id: c for c in session.scalars(select(Customer))}
        for n, c in enumerate(sorted(by_id.values(), key=lambda c: c.id)):
            if n % 4 == 1:
                session.add(
                    PushSubscription(
                        customer_pk=c.id,
                        endpoint=f"https://push.example/{n}",
                        p256dh="key",
                        auth="auth",
                        created_at=NOW,
                    )
                )
        opted = by_id["C-1-0"]
        assert opted.phone
        opt_out(session, hasher=hasher, channel="sms", address=opted.phone, now=NOW)
        mixed = by_id["C-5-0"]
        assert mixed.email
        opt_out(session, hasher=hasher, channel="email", address=mixed.email.upper(), now=NOW)
        legacy = by_id["C-5-2"]  # a plain address: planned in the database
        assert legacy.phone
        session.add(
            OptOut(
                channel="sms",
                address_hash=hasher.wrapped(legacy_digest("sms", legacy.phone)),
                scheme="wrapped",
                created_at=NOW,
            )
        )
        erased = by_id["C-3-2"]
        assert erased.email
        session.add(
            Erasure(
                customer_hash=hasher.customer(erased.customer_id),
                channel="email",
                address_hash=hasher.contact("email", erased.email),
                created_at=NOW,
            )
        )


@pytest.fixture
def pair(
    databases: Databases, make_settings: Callable[..., Settings]
) -> Iterator[tuple[Runtime, Runtime]]:
    made = []
    for setwise_on in (True, False):
        runtime = Runtime.build(
            make_settings(database_url=databases.new(), planning_chunk=7), clock=ManualClock(NOW)
        )
        runtime.planner.context = dataclasses.replace(runtime.planner.context, setwise=setwise_on)
        _load(runtime)
        made.append(runtime)
    yield made[0], made[1]
    for runtime in made:
        runtime.close()


def _both(pair: tuple[Runtime, Runtime], step: Callable[[Runtime], Any]) -> None:
    for runtime in pair:
        step(runtime)


def _incident_id(runtime: Runtime, external_id: str) -> str:
    with runtime.reading() as session:
        found = session.scalar(select(Incident.id).where(Incident.external_id == external_id))
        assert found is not None
        return found


def _written(runtime: Runtime) -> dict[str, Any]:
    """Everything planning wrote, with the database's own keys put back as names."""
    with runtime.reading() as session:
        names = dict(session.execute(select(Customer.id, Customer.customer_id)).all())
        incidents = dict(session.execute(select(Incident.id, Incident.external_id)).all())

        def plain(value: Any) -> Any:
            if isinstance(value, str):
                for incident_id, external in incidents.items():
                    value = value.replace(incident_id, external)
            return value

        notes = session.execute(select(Notification).order_by(Notification.id)).scalars().all()
        by_id = {n.id: n for n in notes}
        skip = {"id", "customer_pk", "incident_id", "fallback_of"}
        messages = sorted(
            (
                names[n.customer_pk],
                incidents[n.incident_id or ""],
                tuple(
                    (c.name, plain(getattr(n, c.name)))
                    for c in Notification.__table__.columns
                    if c.name not in skip
                ),
            )
            for n in notes
        )
        outbox = sorted(
            (
                plain(by_id[o.notification_id].dedup_key),
                o.available_at,
                o.priority,
                o.attempts,
            )
            for o in session.scalars(select(OutboxItem))
        )
        events = [
            (
                names[e.customer_pk],
                e.at,
                e.type,
                incidents.get(e.incident_id or ""),
                plain(by_id[e.notification_id].dedup_key) if e.notification_id else None,
                e.channel,
                e.kind,
                e.status,
                e.reason,
                e.body,
                e.data,
            )
            for e in session.scalars(
                select(TimelineEvent).order_by(
                    TimelineEvent.customer_pk, TimelineEvent.at, TimelineEvent.id
                )
            )
        ]
        ties = sorted(
            (
                names[t.customer_pk],
                incidents[t.incident_id],
                tuple(
                    (c.name, getattr(t, c.name))
                    for c in IncidentCustomer.__table__.columns
                    if c.name not in {"incident_id", "customer_pk"}
                ),
            )
            for t in session.scalars(select(IncidentCustomer))
        )
    return {"messages": messages, "outbox": outbox, "events": events, "ties": ties}


def _assert_same(pair: tuple[Runtime, Runtime]) -> None:
    setwise_made, per_customer = (_written(runtime) for runtime in pair)
    for part in ("messages", "outbox", "ties", "events"):
        assert setwise_made[part] == per_customer[part], part
    assert setwise_made["messages"], "the story sent nothing: it tests nothing"


@pytest.mark.postgresql_only(reason="planning in the database is PostgreSQL's")
def test_an_outage_s_whole_life_is_planned_alike(pair: tuple[Runtime, Runtime]) -> None:
    body = {
        "external_id": "OUT-1",
        "area": cells(0, 0, 7, 4),
        "cause": "storm",
        "etr": (NOW + timedelta(hours=3)).isoformat(),
        "message": {"fi": "Puu kaatui linjalle.", "en": "A tree fell on the line."},
    }
    _both(pair, lambda rt: upsert_incident(rt, body, now=NOW))
    _assert_same(pair)
    later = NOW + timedelta(minutes=20)
    moved = {**body, "etr": (NOW + timedelta(hours=5)).isoformat(), "area": cells(0, 0, 9, 2)}
    _both(pair, lambda rt: upsert_incident(rt, moved, now=later))
    _assert_same(pair)
    done = later + timedelta(hours=2)
    _both(
        pair,
        lambda rt: patch_incident(rt, _incident_id(rt, "OUT-1"), {"status": "restored"}, now=done),
    )
    _assert_same(pair)


@pytest.mark.postgresql_only(reason="planning in the database is PostgreSQL's")
def test_planned_work_held_moved_and_cancelled_is_planned_alike(
    pair: tuple[Runtime, Runtime],
) -> None:
    starts = NOW + timedelta(days=2)
    body = {
        "external_id": "PLAN-1",
        "kind": "planned",
        "area": cells(2, 0, 9, 4),
        "cause": "maintenance",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=4)).isoformat(),
    }
    _both(pair, lambda rt: upsert_incident(rt, body, now=NOW))
    _assert_same(pair)
    moved = {**body, "ends_at": (starts + timedelta(hours=6)).isoformat()}
    _both(pair, lambda rt: upsert_incident(rt, moved, now=NOW + timedelta(hours=1)))
    _assert_same(pair)
    _both(
        pair,
        lambda rt: patch_incident(
            rt,
            _incident_id(rt, "PLAN-1"),
            {"status": "cancelled"},
            now=NOW + timedelta(hours=2),
        ),
    )
    _assert_same(pair)


@pytest.mark.postgresql_only(reason="planning in the database is PostgreSQL's")
def test_a_chunk_planned_twice_writes_nothing_twice(pair: tuple[Runtime, Runtime]) -> None:
    setwise_runtime = pair[0]
    body = {"external_id": "OUT-2", "area": cells(0, 0, 9, 4)}
    upsert_incident(setwise_runtime, body, now=NOW)
    before = _written(setwise_runtime)
    with setwise_runtime.transaction() as session:
        # As after a crash between the chunk's commit and the job's: every tie behind again.
        session.execute(update(IncidentCustomer).values(planned_version=None))
    setwise_runtime.planner.drain()
    after = _written(setwise_runtime)
    assert after["messages"] == before["messages"]
    assert after["outbox"] == before["outbox"]


# ---- the SMS fitting by address length ------------------------------------------------------

PLAIN = sorted(setwise.PLAIN_GSM7)
WORDINGS = st.text(
    alphabet=st.sampled_from([*sorted(sms.GSM7_ALL - {"\n", "\r"}), "’", "–", "Ж", "😀"]),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(
    full=WORDINGS,
    compact=WORDINGS,
    address=st.text(alphabet=st.sampled_from(PLAIN), min_size=1, max_size=120),
    split=st.integers(min_value=0, max_value=200),
)
def test_an_sms_fitted_by_address_length_is_the_sms_module_s_choice(
    full: str, compact: str, address: str, split: int
) -> None:
    """With a plain GSM-7 address, the wording, encoding and segments depend on its length
    alone: the set-based planner's text with the address put in is what sms.cheapest gives."""
    full = full[:split] + ADDRESS_MARK + full[split:]
    compact = ADDRESS_MARK + compact
    wording, encoding, segments = setwise._fit_sms(full, compact, len(address))
    expected = sms.cheapest(
        full.replace(ADDRESS_MARK, address), compact.replace(ADDRESS_MARK, address)
    )
    assert wording.replace(ADDRESS_MARK, address) == expected.text
    assert (encoding, segments) == (expected.encoding, expected.segments)


@pytest.mark.postgresql_only(reason="the pattern is PostgreSQL's")
# The runtime is only read: one for every example is right.
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    address=st.text(
        alphabet=st.sampled_from([*sorted(sms.GSM7_ALL), "ç", "Ж", "’", "\xa0"]), max_size=30
    )
)
def test_postgresql_reads_the_plain_address_pattern_as_the_plain_gsm7_alphabet(
    runtime: Runtime, address: str
) -> None:
    with runtime.reading() as session:
        found = session.scalar(
            text("SELECT :address ~ :pattern"),
            {"address": address, "pattern": setwise.PLAIN_ADDRESS},
        )
    assert found is (bool(address) and set(address) <= setwise.PLAIN_GSM7)


@pytest.mark.postgresql_only(reason="the expression is PostgreSQL's")
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_postgresql_writes_a_held_time_as_python_s_isoformat(
    runtime: Runtime, moment: datetime
) -> None:
    """The timeline's `held_until` is the same text whichever planner wrote it."""
    with runtime.reading() as session:
        written = session.scalar(
            text("SELECT " + setwise.ISOFORMAT.format(moment="CAST(:moment AS timestamptz)")),
            {"moment": moment},
        )
    assert written == moment.isoformat()
