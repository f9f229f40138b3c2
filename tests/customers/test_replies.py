"""SMS replies: the contract's opt-out keywords (first word, any case, fi/sv/en) opt the number
out at once and are answered in the customer's language; Twilio's retries of a webhook change
nothing the second time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.db.models import (
    Customer,
    Incident,
    IncidentRevision,
    Notification,
    OptOut,
    OutageReport,
    TimelineEvent,
)
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.conftest import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.standins.twilio import signature_headers
from tests.town import customer

INBOUND = "http://testserver/webhooks/twilio/inbound"


@pytest.fixture
def app(make_settings: Any) -> Iterator[dict[str, Any]]:
    runtime = Runtime.build(
        make_settings(
            twilio_account_sid=TWILIO_SID,
            twilio_auth_token=TWILIO_TOKEN,
            twilio_from=TWILIO_FROM,
            twilio_base_url="http://127.0.0.1:9",
        )
    )
    client = TestClient(create_app(runtime=runtime))
    with runtime.transaction() as session:
        key = create_key(session, role="admin", name="admin", now=utcnow())[1]
    headers = {"Authorization": f"Bearer {key}"}
    people = [
        customer(0, 0, language="fi"),
        customer(1, 0, language="sv"),
        customer(2, 0, language="en"),
    ]
    assert client.post("/api/v1/customers", json=people, headers=headers).status_code == 200
    yield {"runtime": runtime, "client": client, "headers": headers, "people": people}
    runtime.close()


def reply(app: dict[str, Any], phone: str, body: str, sid: str = "SM" + "5" * 32) -> Any:
    params = {"From": phone, "Body": body, "MessageSid": sid}
    return app["client"].post(
        "/webhooks/twilio/inbound",
        data=params,
        headers=signature_headers(INBOUND, params, TWILIO_TOKEN),
    )


def answer_text(response: Any) -> str | None:
    message = ElementTree.fromstring(response.text).find("Message")
    return None if message is None else message.text


def opted_out(app: dict[str, Any], customer_id: str) -> list[str]:
    detail = app["client"].get(f"/api/v1/customers/{customer_id}", headers=app["headers"])
    return detail.json()["opted_out"]


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        "Stopall",
        "UNSUBSCRIBE",
        "cancel",
        "End",
        "quit",
        "LOPETA",
        "lopeta kiitos",
        "Stopp",
        "SLUTA!",
        "  stop.  ",
        "STOP please",
    ],
)
def test_each_contract_keyword_as_the_first_word_opts_the_number_out(
    app: dict[str, Any], body: str
) -> None:
    answer = reply(app, app["people"][0]["phone"], body)
    assert answer.status_code == 200
    assert opted_out(app, "C-0-0") == ["sms"]


@pytest.mark.parametrize("body", ["please stop", "stopped", "SEIS", "loppu", "", "   "])
def test_other_replies_opt_nobody_out(app: dict[str, Any], body: str) -> None:
    answer = reply(app, app["people"][0]["phone"], body)
    assert answer.status_code == 200 and answer_text(answer) is None
    assert opted_out(app, "C-0-0") == []


@pytest.mark.parametrize(
    ("index", "stop_words", "start_words"),
    [
        (0, ("tekstiviest", "START"), ("LOPETA",)),
        (1, ("sms", "START"), ("SLUTA",)),
        (2, ("SMS", "START"), ("STOP",)),
    ],
)
def test_an_opt_out_is_answered_in_the_customer_s_language(
    app: dict[str, Any], index: int, stop_words: tuple[str, ...], start_words: tuple[str, ...]
) -> None:
    phone = app["people"][index]["phone"]
    stopped = answer_text(reply(app, phone, "stop", sid="SM" + "6" * 32))
    assert stopped is not None and all(word in stopped for word in stop_words)
    started = answer_text(reply(app, phone, "start", sid="SM" + "7" * 32))
    assert started is not None and all(word in started for word in start_words)
    assert stopped != started


def test_the_three_languages_answer_differently(app: dict[str, Any]) -> None:
    texts = {
        answer_text(reply(app, p["phone"], "STOP", sid=f"SM{i}" + "8" * 31))
        for i, p in enumerate(app["people"])
    }
    assert len(texts) == 3


def test_a_retried_webhook_is_one_event_and_one_effect(app: dict[str, Any]) -> None:
    phone = app["people"][0]["phone"]
    first = reply(app, phone, "STOP", sid="SM" + "9" * 32)
    again = reply(app, phone, "STOP", sid="SM" + "9" * 32)
    assert first.status_code == again.status_code == 200
    # Twilio retries only when it did not get our answer: the retry carries the same answer.
    assert answer_text(first) == answer_text(again) and answer_text(first)
    with app["runtime"].transaction() as session:
        events = session.execute(
            select(TimelineEvent.type, func.count()).group_by(TimelineEvent.type)
        ).all()
        optouts = session.scalar(select(func.count()).select_from(OptOut))
    assert dict(events) == {"reply": 1, "preference_changed": 1}
    assert optouts == 1
    # START then a retried START: opted back in once, the STOP stays undone.
    reply(app, phone, "START", sid="SM" + "a" * 32)
    reply(app, phone, "START", sid="SM" + "a" * 32)
    assert opted_out(app, "C-0-0") == []
    with app["runtime"].transaction() as session:
        replies = session.scalar(
            select(func.count()).select_from(TimelineEvent).where(TimelineEvent.type == "reply")
        )
    assert replies == 2


def test_a_stop_retried_after_a_later_start_does_not_opt_out_again(app: dict[str, Any]) -> None:
    phone = app["people"][0]["phone"]
    reply(app, phone, "STOP", sid="SM" + "b" * 32)
    reply(app, phone, "START", sid="SM" + "c" * 32)
    retried = reply(app, phone, "STOP", sid="SM" + "b" * 32)  # Twilio retries the old STOP
    assert retried.status_code == 200
    assert opted_out(app, "C-0-0") == []


# ---- still out after the restoration: a nested outage ----------------------------------------


def _restored_outage(app: dict[str, Any]) -> str:
    from tests.town import cells

    runtime: Runtime = app["runtime"]
    client, headers = app["client"], app["headers"]
    with runtime.transaction() as session:
        operator = create_key(session, role="operator", name="ops", now=utcnow())[1]
    auth = {"Authorization": f"Bearer {operator}"}
    made = client.post(
        "/api/v1/incidents", json={"external_id": "R-1", "area": cells(0, 0, 1, 1)}, headers=auth
    ).json()
    runtime.planner.drain()
    client.patch(f"/api/v1/incidents/{made['id']}", json={"status": "restored"}, headers=auth)
    runtime.planner.drain()
    assert headers
    return str(made["id"])


@pytest.mark.parametrize("body", ["OUT", "out", "Ei sähköä", "EI SAHKOA!", "strömlös", "STROMLOS"])
def test_still_out_after_the_restoration_becomes_a_nested_outage_of_their_own(
    app: dict[str, Any], body: str
) -> None:
    _restored_outage(app)
    runtime: Runtime = app["runtime"]
    maija = app["people"][0]
    answer = reply(app, maija["phone"], body)
    assert answer.status_code == 200
    assert "sähköt eivät ole palanneet" in (answer_text(answer) or "")
    runtime.planner.drain()
    with runtime.reading() as session:
        nested = session.execute(
            select(Incident.external_id, Incident.confirmed_at, Incident.affected_count).where(
                Incident.source == "reply"
            )
        ).all()
        actors = session.scalars(
            select(IncidentRevision.actor)
            .join(Incident, Incident.id == IncidentRevision.incident_id)
            .where(Incident.source == "reply")
        ).all()
        told = session.scalar(
            select(func.count())
            .select_from(Notification)
            .join(Incident, Incident.id == Notification.incident_id)
            .where(Incident.source == "reply", Notification.channel != "in_app")
        )
    assert [(n.external_id, n.confirmed_at, n.affected_count) for n in nested] == [
        (f"R-1/{maija['customer_id']}", None, 1)
    ]
    assert actors == [f"reply:{maija['customer_id']}"]
    assert told == 0  # nobody is told of it: an operator looks at it first


def test_out_with_no_recent_restoration_is_an_outage_report_where_they_live(
    app: dict[str, Any],
) -> None:
    """An OUT from a customer's phone with no restoration to refer to: an outage report at
    their service location (the console's map), on their timeline, answered in Swedish."""
    runtime: Runtime = app["runtime"]
    lasse = app["people"][1]
    answer = reply(app, lasse["phone"], "STRÖMLÖS sedan kl 18")
    assert answer.status_code == 200
    assert answer_text(answer) == (
        "Tack. Din anmälan om strömavbrott finns på våra operatörers karta. Om vi redan känner "
        "till avbrottet är vårt meddelande om det på väg; vi hör av oss när vi vet mer."
    )
    with runtime.reading() as session:
        assert session.scalars(select(Incident.id)).all() == []  # a report, not an incident
        reports = session.execute(
            select(
                OutageReport.source,
                OutageReport.text,
                OutageReport.lat,
                OutageReport.lon,
                Customer.customer_id,
            ).join(Customer, Customer.id == OutageReport.customer_pk)
        ).all()
        events = session.scalars(
            select(TimelineEvent.type)
            .join(Customer, Customer.id == TimelineEvent.customer_pk)
            .where(Customer.customer_id == lasse["customer_id"])
            .order_by(TimelineEvent.id)
        ).all()
    assert reports == [
        ("sms", "STRÖMLÖS sedan kl 18", lasse["lat"], lasse["lon"], lasse["customer_id"])
    ]
    assert events == ["reply", "report"]


def test_out_again_soon_or_retried_is_one_report_and_always_the_same_answer(
    app: dict[str, Any],
) -> None:
    """Texted twice in half an hour, or the webhook retried: one report (one customer is not
    two reports close together), and each answer says it is on the map."""
    phone = app["people"][2]["phone"]
    first = answer_text(reply(app, phone, "OUT", sid="SM" + "a" * 32))
    retried = answer_text(reply(app, phone, "OUT", sid="SM" + "a" * 32))
    again = answer_text(reply(app, phone, "out\x00 still", sid="SM" + "b" * 32))
    assert first == retried == again and first is not None and "operators' map" in first
    with app["runtime"].reading() as session:
        assert session.scalars(select(OutageReport.text)).all() == ["OUT"]


def test_an_out_of_office_auto_reply_is_not_an_outage(app: dict[str, Any]) -> None:
    answer = reply(app, app["people"][2]["phone"], "Out of office until Monday.")
    assert answer.status_code == 200 and answer_text(answer) is None
    with app["runtime"].reading() as session:
        assert session.scalars(select(OutageReport.id)).all() == []


def test_the_words_of_an_sms_report_are_kept_without_control_characters(
    app: dict[str, Any],
) -> None:
    reply(app, app["people"][0]["phone"], "EI SÄHKÖÄ\x00 koko talossa\x07")
    with app["runtime"].reading() as session:
        assert session.scalars(select(OutageReport.text)).all() == ["EI SÄHKÖÄ koko talossa"]
        replies = session.scalars(
            select(TimelineEvent.body).where(TimelineEvent.type == "reply")
        ).all()
    assert replies == ["EI SÄHKÖÄ koko talossa\x07"]  # as written, but for the NUL


def test_a_still_out_reply_after_a_restoration_is_a_nested_outage_and_no_report(
    app: dict[str, Any],
) -> None:
    _restored_outage(app)
    reply(app, app["people"][0]["phone"], "EI SÄHKÖÄ")
    with app["runtime"].reading() as session:
        assert session.scalars(select(OutageReport.id)).all() == []


def test_out_from_a_number_we_do_not_know_says_how_to_report_instead(app: dict[str, Any]) -> None:
    answer = reply(app, "+358401234999", "OUT")
    assert answer.status_code == 200
    assert "Soita vikapalveluumme" in (answer_text(answer) or "")  # the default language
    with app["runtime"].reading() as session:
        assert session.scalars(select(OutageReport.id)).all() == []
