"""The incident pages without a browser: who may see them, the overdue warning, the outcome
counts by channel and reason, priority customers, the area as GeoJSON, bad requests, and the
incident page and the development inbox in Finnish and Swedish."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.auth.users import create_user
from outage_notify.clock import ManualClock
from outage_notify.customers.service import upsert_customers
from outage_notify.incidents import views
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.engine import at, upsert_incident
from tests.town import cells, town
from tests.web.signing import sign_in

PASSWORD = "a password for the pages"


@pytest.fixture
def runtime(make_settings: Any) -> Iterator[Runtime]:
    now = utcnow().replace(microsecond=0)
    rt = Runtime.build(make_settings(public_url="http://127.0.0.1:8000"), clock=ManualClock(now))
    people = town(channels="sms")
    people[0]["priority"] = "life_support"  # C-0-0
    people[1]["channels"] = "push"  # C-1-0: chose push, has no subscription
    parsed = parse_json_list(people, CustomerRules())
    with rt.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=now)
        for role in ("operator", "agent", "admin"):
            create_user(session, username=f"{role}-1", role=role, password=PASSWORD, now=now)
    yield rt
    rt.close()


def client_as(runtime: Runtime, role: str) -> TestClient:
    client = TestClient(create_app(runtime=runtime))
    assert sign_in(client, f"{role}-1", PASSWORD).status_code == 303
    return client


def outage(runtime: Runtime, **body: Any) -> str:
    now = runtime.clock.now()
    etr = (now + timedelta(hours=1)).isoformat()
    fields = {"external_id": "OMS-9", "area": cells(0, 0, 1, 1), "etr": etr, **body}
    incident_id = upsert_incident(runtime, fields, now=now).incident.id
    runtime.drain()
    return incident_id


def test_the_counts_say_who_was_told_on_each_channel_and_why_not(runtime: Runtime) -> None:
    incident_id = outage(runtime)
    with runtime.reading() as session:
        outcomes = views.channel_outcomes(session, incident_id=incident_id)
        untold = views.customers_untold(session, incident_id=incident_id)
    assert [(o.channel, o.status, o.reason, o.customers) for o in outcomes] == [
        ("sms", "delivered", None, 3),
        ("push", "suppressed", "no push subscription", 1),
        ("in_app", "delivered", None, 4),
    ]
    assert untold == 1  # C-1-0: nothing but the in-app feed


def test_operators_and_agents_see_an_incident_with_its_priority_customers(
    runtime: Runtime,
) -> None:
    incident_id = outage(runtime, cause="fallen tree")
    for role in ("operator", "agent", "admin"):
        page = client_as(runtime, role).get(f"/incidents/{incident_id}")
        assert page.status_code == 200, page.text
        assert "OMS-9" in page.text and "fallen tree" in page.text
        assert 'id="priority"' in page.text and "C-0-0" in page.text
        assert "life support" in page.text
        assert "no push subscription" in page.text
        assert "Overdue" not in page.text


def test_an_overdue_estimate_stands_out_in_the_list_and_on_the_page(runtime: Runtime) -> None:
    incident_id = outage(runtime)
    at(runtime, runtime.clock.now() + timedelta(hours=2))
    client = client_as(runtime, "operator")
    listed = client.get("/incidents?overdue=true")
    assert listed.status_code == 200
    assert 'class="incident overdue"' in listed.text and "overdue:" in listed.text
    assert "OMS-9" not in client.get("/incidents?overdue=false").text
    page = client.get(f"/incidents/{incident_id}")
    assert 'role="alert"' in page.text and "has passed" in page.text


def test_the_area_is_served_as_a_geojson_feature(runtime: Runtime) -> None:
    incident_id = outage(runtime)
    answer = client_as(runtime, "agent").get(f"/incidents/{incident_id}/area.geojson")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    [feature] = answer.json()["features"]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
    assert feature["properties"]["external_id"] == "OMS-9"


def test_who_may_not_see_it_and_what_is_not_there(runtime: Runtime) -> None:
    incident_id = outage(runtime)
    anonymous = TestClient(create_app(runtime=runtime))
    answer = anonymous.get(f"/incidents/{incident_id}", follow_redirects=False)
    assert answer.status_code == 303 and "/login?next=" in answer.headers["location"]
    client = client_as(runtime, "agent")
    missing = client.get("/incidents/inc_nothing")
    assert missing.status_code == 404 and "no incident" in missing.text
    assert client.get("/incidents?status=burning").status_code == 422
    assert client.get("/incidents?kind=meteor").status_code == 422


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "fi",
            [
                "Kenelle kerrottiin",
                "Häiriön piirissä olevat etusija-asiakkaat",
                "Historia",
                "elintoimintoja ylläpitävä laite",
                "Myöhässä",
            ],
        ),
        (
            "sv",
            [
                "Vem som informerades",
                "Berörda prioriterade kunder",
                "Historik",
                "livsuppehållande utrustning",
                "Försenad",
            ],
        ),
    ],
)
def test_the_incident_page_in_finnish_and_swedish(
    runtime: Runtime, lang: str, words: list[str]
) -> None:
    incident_id = outage(runtime)
    at(runtime, runtime.clock.now() + timedelta(hours=2))  # overdue: the alert too
    page = client_as(runtime, "operator").get(f"/incidents/{incident_id}?lang={lang}")
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    for word in words:
        assert word in page.text
    assert "Who was told" not in page.text


def test_the_development_inbox_in_swedish(runtime: Runtime) -> None:
    outage(runtime)
    page = TestClient(create_app(runtime=runtime)).get("/dev/inbox?lang=sv")
    assert page.status_code == 200
    assert "Utvecklingens inkorg" in page.text and "fick ett meddelande" in page.text
    assert "Development inbox" not in page.text
