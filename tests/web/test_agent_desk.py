"""The agent desk without a browser: the home (open incidents with their estimates in words,
the latest replies), the search and its fragment, the customer's page, and the quick actions
(note, resend, preferences): done, they land on the timeline; refused, the page says why with
a 4xx; without the form's CSRF token or as another role, nothing is done."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outage_notify.app import create_app
from outage_notify.auth.users import create_user
from outage_notify.clock import ManualClock
from outage_notify.customers.replies import handle_inbound_sms
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer, Notification, OutageReport, TimelineEvent
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from outage_notify.timeline import service as timeline
from outage_notify.timeutil import utcnow
from tests.engine import at, run_sweep, upsert_incident
from tests.town import cells, customer, town
from tests.web.signing import form_token, sign_in

PASSWORD = "a password for the pages"


@pytest.fixture
def runtime(make_settings: Any) -> Iterator[Runtime]:
    """The test town, SMS chosen (so each has an email not yet used), an outage over its first
    two columns with the SMS delivered, and a reply from C-1-0."""
    now = utcnow().replace(microsecond=0)
    rt = Runtime.build(make_settings(public_url="http://127.0.0.1:8000"), clock=ManualClock(now))
    people = [*town(channels="sms"), customer(9, 9, customer_id="4711", phone=None, channels="")]
    parsed = parse_json_list(people, CustomerRules())
    with rt.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=now)
        for role in ("operator", "agent"):
            create_user(session, username=f"{role}-1", role=role, password=PASSWORD, now=now)
    body = {
        "external_id": "OMS-42",
        "area": cells(0, 0, 2, 1),
        "cause": "fallen tree",
        "etr": (now + timedelta(hours=2)).isoformat(),
    }
    upsert_incident(rt, body, now=now)
    rt.drain()
    with rt.transaction() as session:
        handle_inbound_sms(
            session,
            from_number=customer(1, 0)["phone"],
            body="Milloin sähköt palaavat?",
            message_sid="SM" + "1" * 32,
            hasher=rt.hasher,
            now=now,
        )
    yield rt
    rt.close()


def agent(runtime: Runtime, role: str = "agent") -> TestClient:
    client = TestClient(create_app(runtime=runtime))
    assert sign_in(client, f"{role}-1", PASSWORD).status_code == 303
    return client


def sms_id(runtime: Runtime, customer_id: str) -> int:
    with runtime.reading() as session:
        found = session.scalar(
            select(Notification.id)
            .join(Customer, Customer.id == Notification.customer_pk)
            .where(Customer.customer_id == customer_id, Notification.channel == "sms")
        )
    assert found is not None
    return found


def events(runtime: Runtime, kind: str) -> list[TimelineEvent]:
    with runtime.reading() as session:
        return list(session.scalars(select(TimelineEvent).where(TimelineEvent.type == kind)))


def post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    token = form_token(client.get("/agent/customers/C-0-0"))
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def test_the_home_says_what_callers_are_calling_about(runtime: Runtime) -> None:
    page = agent(runtime).get("/agent")
    assert page.status_code == 200
    assert "Power outage OMS-42" in page.text and "fallen tree" in page.text
    assert "Power expected back by" in page.text and "6 customers affected" in page.text
    assert "Milloin sähköt palaavat?" in page.text and "/agent/customers/C-1-0" in page.text
    at(runtime, runtime.clock.now() + timedelta(hours=3))
    assert "Overdue since" in agent(runtime).get("/agent").text


def test_the_home_in_finnish_and_swedish(runtime: Runtime) -> None:
    client = agent(runtime)
    finnish = client.get("/agent?lang=fi").text
    assert 'lang="fi"' in finnish and "Sähkökatko OMS-42" in finnish
    assert "Power expected back by" not in finnish
    swedish = client.get("/agent?lang=sv").text
    assert 'lang="sv"' in swedish and "Power expected back by" not in swedish


@pytest.mark.parametrize(
    ("q", "found"),
    [
        (customer(1, 0)["phone"], ["C-1-0"]),
        ("040 " + customer(1, 0)["phone"][6:], ["C-1-0"]),  # as a caller reads it out
        ("040 100000", [f"C-{c}-0" for c in range(10)]),  # part of a number, being typed
        ("C-3-4", ["C-3-4"]),
        ("4711", ["4711"]),  # an id that is all digits
        ("471", ["4711"]),  # part of it
        ("customer 3/4", ["C-3-4"]),
        ("Testikatu 45,", ["C-4-4"]),
        ("nobody by this name", []),
        ("100%_\\", []),
    ],
)
def test_search_by_phone_id_name_or_address(runtime: Runtime, q: str, found: list[str]) -> None:
    client = agent(runtime)
    fragment = client.get("/agent/search", params={"q": q})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert re.findall(r'href="/agent/customers/([^"]+)"', fragment.text) == found
    page = client.get("/agent", params={"q": q})  # the plain form, without the script
    shown = page.text.split('id="search-results"', 1)[1].split('aria-labelledby="open-heading"')[0]
    assert re.findall(r'href="/agent/customers/([^"]+)"', shown) == found
    if not found:
        assert "No customer matches" in fragment.text


def test_the_customer_page_reads_as_a_conversation(runtime: Runtime) -> None:
    page = agent(runtime).get("/agent/customers/C-1-0")
    assert page.status_code == 200
    text = page.text
    assert "Power outage OMS-42" in text and "/incidents/" in text
    assert 'class="event event-message side-us" data-channel="sms"' in text
    assert "Delivered" in text and customer(1, 0)["address"] in text
    assert 'class="event event-reply side-customer"' in text and "Milloin sähköt" in text
    assert "Resend by Email" in text and "Resend by SMS" not in text
    # newest first: the reply (after the SMS) comes before it
    assert text.index("event-reply") < text.index("event-message")
    assert "+00:00</time>" not in text  # times as people read clocks here


def test_the_timeline_shows_the_compensation_band_and_how_long_the_power_was_out(
    runtime: Runtime,
) -> None:
    run_sweep(runtime, "due-rules", now=runtime.clock.now() + timedelta(hours=13))
    client = agent(runtime)
    text = client.get("/agent/customers/C-1-0").text
    assert "Standard compensation: 10 per cent of the annual network fee" in text
    assert "Without power for 13 hours" in text
    client.cookies.set("lang", "fi")
    text = client.get("/agent/customers/C-1-0").text
    assert "Vakiokorvaus: 10 prosenttia vuotuisesta verkkopalvelumaksusta" in text
    assert "Ilman sähköä 13 tuntia" in text


def test_a_note_lands_on_the_timeline(runtime: Runtime) -> None:
    client = agent(runtime)
    done = post(client, "/agent/customers/C-0-0/notes", {"text": "Called.\nPromised a call back."})
    assert done.status_code == 303 and "done=note" in done.headers["location"]
    page = client.get(done.headers["location"])
    assert "Note added to the timeline." in page.text and "Note by agent-1" in page.text
    [note] = events(runtime, timeline.NOTE)
    assert note.body == "Called.\nPromised a call back." and note.data == {"by": "agent-1"}
    refused = post(client, "/agent/customers/C-0-0/notes", {"text": "bell\x07"})
    assert refused.status_code == 422 and "control characters" in refused.text
    assert "bell" in refused.text  # what the agent wrote is kept
    assert len(events(runtime, timeline.NOTE)) == 1


def test_a_caller_s_outage_is_reported_at_their_connection(runtime: Runtime) -> None:
    """The agent reports it for the caller: on the operators' map at the customer's own
    place, and on the timeline with who took it; refused words are kept for the agent."""
    client = agent(runtime)
    done = post(client, "/agent/customers/C-4-4/report", {"text": "Sparks from the pole."})
    assert done.status_code == 303 and "done=report" in done.headers["location"]
    page = client.get(done.headers["location"])
    assert "Outage reported: it is on the operators&#39; map" in page.text
    assert "agent-1 reported an outage for the customer" in page.text
    [event] = events(runtime, timeline.REPORT)
    assert event.body == "Sparks from the pole." and event.data["by"] == "agent-1"
    with runtime.reading() as session:
        placed = session.execute(
            select(OutageReport.source, OutageReport.lat, OutageReport.lon, OutageReport.text)
        ).all()
    here = customer(4, 4)
    assert placed == [("agent", here["lat"], here["lon"], "Sparks from the pole.")]
    client.cookies.set("lang", "fi")
    refused = post(client, "/agent/customers/C-4-4/report", {"text": "x" * 501})
    assert refused.status_code == 422
    assert "Ilmoituksen teksti on 501 merkkiä pitkä: enintään 500." in refused.text
    assert len(events(runtime, timeline.REPORT)) == 1
    # The desk's home lists it with the latest replies, once, with who took it.
    client.cookies.set("lang", "en")
    home = client.get("/agent").text
    assert home.count("power out, reported by agent-1") == 1 and "Sparks from the pole." in home


def test_an_out_by_sms_is_one_entry_on_the_home(runtime: Runtime) -> None:
    """The SMS that made a report is shown; the report it made is not shown again."""
    with runtime.transaction() as session:
        handle_inbound_sms(
            session,
            from_number=customer(5, 3)["phone"],
            body="OUT",
            message_sid="SM" + "7" * 32,
            hasher=runtime.hasher,
            now=runtime.clock.now(),
        )
    home = agent(runtime).get("/agent").text
    assert home.count("says the power is out") == 1 and "power out, reported" not in home
    assert len(events(runtime, timeline.REPORT)) == 1


def test_resend_on_email_is_queued_and_shown(runtime: Runtime) -> None:
    client = agent(runtime)
    data = {"notification_id": sms_id(runtime, "C-0-0"), "channel": "email"}
    done = post(client, "/agent/customers/C-0-0/resend", data)
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "The message is queued to go by Email." in page.text
    assert "agent-1 had it sent again by Email" in page.text
    assert 'data-channel="email"' in page.text
    again = post(client, "/agent/customers/C-0-0/resend", data)
    assert again.status_code == 409 and "already went by Email" in again.text
    same = post(client, "/agent/customers/C-0-0/resend", {**data, "channel": "sms"})
    assert same.status_code == 422 and "choose another channel" in same.text
    other = post(
        client,
        "/agent/customers/C-0-0/resend",
        {**data, "notification_id": sms_id(runtime, "C-1-0")},
    )
    assert other.status_code == 404 and "no such message" in other.text
    assert post(client, "/agent/customers/C-0-0/resend", {"channel": "email"}).status_code == 422


def test_preferences_change_with_the_reason_recorded(runtime: Runtime) -> None:
    client = agent(runtime)
    data = {
        "channels": ["sms", "email"],
        "quiet_hours": "22:00-07:00",
        "language": "fi",
        "reason": "Asked on the phone: no texts at night",
    }
    done = post(client, "/agent/customers/C-0-0/preferences", data)
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "Preferences saved." in page.text and "Preferences changed by agent-1" in page.text
    assert "Reason: Asked on the phone: no texts at night" in page.text
    [change] = events(runtime, timeline.PREFERENCE_CHANGED)
    assert change.data is not None and change.data["changes"] == {
        "channels": ["sms", "sms;email"],
        "quiet_hours": [None, "22:00-07:00"],
    }
    refused = post(client, "/agent/customers/C-0-0/preferences", {**data, "reason": ""})
    assert refused.status_code == 422 and "Give the reason" in refused.text
    bad = post(
        client, "/agent/customers/C-0-0/preferences", {**data, "quiet_hours": "late", "reason": "x"}
    )
    assert bad.status_code == 422 and "HH:MM-HH:MM" in bad.text
    assert 'value="late"' in bad.text  # the form comes back as the agent left it


def test_a_refusal_is_said_in_the_readers_language(runtime: Runtime) -> None:
    client = agent(runtime)
    client.get("/agent?lang=sv")
    refused = post(client, "/agent/customers/C-0-0/notes", {"text": " "})
    assert refused.status_code == 422 and "The note is empty" not in refused.text


def test_without_the_token_or_the_role_nothing_is_done(runtime: Runtime) -> None:
    client = agent(runtime)
    missing = client.post("/agent/customers/C-0-0/notes", data={"text": "hello"})
    assert missing.status_code == 403
    operator = agent(runtime, "operator")
    assert operator.get("/agent").status_code == 403
    token = form_token(operator.get("/incidents"))
    refused = operator.post(
        "/agent/customers/C-0-0/notes", data={"text": "hello", "csrf_token": token}
    )
    assert refused.status_code == 403
    anonymous = TestClient(create_app(runtime=runtime))
    answer = anonymous.get("/agent/customers/C-0-0", follow_redirects=False)
    assert answer.status_code == 303
    assert events(runtime, timeline.NOTE) == []
    assert client.get("/agent/customers/nobody").status_code == 404
    assert (
        client.post(
            "/agent/customers/nobody/notes", data={"text": "x", "csrf_token": token}
        ).status_code
        == 403
    )  # another session's token
