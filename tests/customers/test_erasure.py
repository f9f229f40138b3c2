"""Erasure: the customer goes, a tombstone of theirs stays (hashed under the deployment's key),
and nobody else is touched: another customer sharing the phone or email is still told."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.db.models import Customer, Notification
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.backends import dump
from tests.conftest import TEST_SECRET
from tests.test_cli import run
from tests.town import cells, customer

SHARED_PHONE, SHARED_EMAIL = "+358401999999", "family@example.com"
SECRET_ENV = {"OUTAGE_NOTIFY_SECRET_KEY": TEST_SECRET}


def world(settings: Any) -> dict[str, Any]:
    runtime = Runtime.build(settings)
    client = TestClient(create_app(runtime=runtime))
    with runtime.transaction() as session:
        key = create_key(session, role="admin", name="admin", now=utcnow())[1]
    return {"runtime": runtime, "client": client, "headers": {"Authorization": f"Bearer {key}"}}


def load(w: dict[str, Any], people: list[dict[str, Any]]) -> None:
    answer = w["client"].post("/api/v1/customers", json=people, headers=w["headers"])
    assert answer.status_code == 200 and not answer.json()["rejected"], answer.text


def fates(w: dict[str, Any], external_id: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(customer_id, channel) → (status, reason) of the messages an outage planned."""
    answer = w["client"].post(
        "/api/v1/incidents",
        json={"external_id": external_id, "area": cells(0, 0, 3, 3)},
        headers=w["headers"],
    )
    assert answer.status_code == 201, answer.text
    w["runtime"].planner.drain()
    with w["runtime"].transaction() as session:
        rows = session.execute(
            select(
                Customer.customer_id, Notification.channel, Notification.status, Notification.reason
            )
            .join(Customer, Customer.id == Notification.customer_pk)
            .where(
                Notification.incident_id == answer.json()["id"],
                Notification.channel.in_(("sms", "email")),
            )
        ).all()
    return {(cid, channel): (status, reason) for cid, channel, status, reason in rows}


def family_with_home_erased(
    settings: Any, database_url: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A home and a cottage sharing a phone and an email; the home is erased (CLI)."""
    w = world(settings)
    home = customer(0, 0, phone=SHARED_PHONE, email=SHARED_EMAIL, channels="sms;email")
    cottage = customer(1, 1, phone=SHARED_PHONE, email=SHARED_EMAIL, channels="sms;email")
    load(w, [home, cottage])
    erased = run(database_url, "customers", "erase", "C-0-0", extra_env=SECRET_ENV)
    assert erased.returncode == 0, erased.stderr
    return w, home


def test_erasing_a_customer_changes_nothing_for_another_who_shares_their_phone_and_email(
    make_settings: Any, database_url: str
) -> None:
    w, _ = family_with_home_erased(make_settings(), database_url)
    assert fates(w, "E-1") == {
        ("C-1-1", "sms"): ("queued", None),
        ("C-1-1", "email"): ("queued", None),
    }
    w["runtime"].close()


def test_an_erased_customer_re_imported_is_not_messaged_on_their_erased_contacts(
    make_settings: Any, database_url: str
) -> None:
    w, home = family_with_home_erased(make_settings(), database_url)
    load(w, [home])  # the utility's nightly sync sends the erased customer again
    assert fates(w, "E-2") == {
        ("C-0-0", "sms"): ("suppressed", "erased"),
        ("C-0-0", "email"): ("suppressed", "erased"),
        ("C-1-1", "sms"): ("queued", None),
        ("C-1-1", "email"): ("queued", None),
    }
    # A new phone for that customer id is a new contact: it is told.
    load(w, [customer(0, 0, phone="+358405555555", email=SHARED_EMAIL, channels="sms;email")])
    assert fates(w, "E-3")[("C-0-0", "sms")] == ("queued", None)
    w["runtime"].close()


def test_the_erasure_tombstone_cannot_be_reversed_by_hashing_candidate_numbers(
    make_settings: Any, database_url: str
) -> None:
    w = world(make_settings())
    load(w, [customer(0, 0, phone=SHARED_PHONE, email=SHARED_EMAIL)])
    assert run(database_url, "customers", "erase", "C-0-0", extra_env=SECRET_ENV).returncode == 0
    everything = dump(w["runtime"].engine)
    for value in (SHARED_PHONE, SHARED_EMAIL, "C-0-0"):
        assert value not in everything
        for text in (value, f"sms:{value}", f"email:{value}"):
            assert hashlib.sha256(text.encode()).hexdigest() not in everything
    w["runtime"].close()


def test_a_customer_s_outage_reports_are_in_their_export_and_go_with_their_erasure(
    make_settings: Any,
) -> None:
    """A report is placed at the customer's connection and may hold their own words: it is
    theirs to see, and nothing of it stays once they are erased (another's report does)."""
    from outage_notify.customers.service import erase_customer, export_customer, get_customer
    from outage_notify.db.models import OutageReport

    w = world(make_settings())
    load(w, [customer(0, 0), customer(1, 1)])
    runtime = w["runtime"]
    now = utcnow()
    with runtime.transaction() as session:
        pks = {c.customer_id: c.id for c in session.scalars(select(Customer))}
        for cid, text in (("C-0-0", "lights flickered, then dark"), ("C-1-1", None)):
            found = session.get(Customer, pks[cid])
            assert found is not None
            session.add(
                OutageReport(
                    at=now,
                    lat=found.lat,
                    lon=found.lon,
                    customer_pk=found.id,
                    source="web",
                    text=text,
                )
            )
    with runtime.transaction() as session:
        home = get_customer(session, customer_id="C-0-0")
        assert home is not None
        exported = export_customer(session, customer=home)
        assert [r["text"] for r in exported["outage_reports"]] == ["lights flickered, then dark"]
        erase_customer(session, customer=home, hasher=runtime.hasher, now=now)
    with runtime.reading() as session:
        left = session.scalars(select(OutageReport)).all()
    assert [(r.customer_pk, r.text) for r in left] == [(pks["C-1-1"], None)]
    assert "lights flickered" not in str(dump(runtime.engine))
    runtime.close()
