"""Customers' outage reports: the public map's form (no sign-in; placed at our connection at
the address; refused with the reason; a few per client address), and the operator console's
reports and proposed clusters, a proposal starting a new incident's form with its area."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outage_notify.app import create_app
from outage_notify.auth.users import create_user
from outage_notify.clock import ManualClock
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer, OutageReport
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from outage_notify.web.public_map import REPORTS_PER_IP
from tests.engine import at, upsert_incident
from tests.town import cells, customer, town
from tests.web.signing import sign_in

PASSWORD = "a password for the console"


@pytest.fixture
def runtime(make_settings: Any) -> Iterator[Runtime]:
    now = utcnow().replace(microsecond=0)
    rt = Runtime.build(make_settings(public_url="http://127.0.0.1:8000"), clock=ManualClock(now))
    parsed = parse_json_list(town(channels="sms"), CustomerRules())
    with rt.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=now)
        create_user(session, username="operator-1", role="operator", password=PASSWORD, now=now)
    yield rt
    rt.close()


def street(col: int, row: int) -> str:
    return str(customer(col, row)["address"]).split(",")[0]  # "Testikatu 12"


def report(client: TestClient, address: str, text: str = "") -> Any:
    return client.post(
        "/map/report", data={"address": address, "text": text}, follow_redirects=False
    )


def reports(runtime: Runtime) -> list[OutageReport]:
    with runtime.reading() as session:
        return list(session.scalars(select(OutageReport).order_by(OutageReport.id)))


def test_a_report_is_placed_at_the_customer_s_connection(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime))
    answer = report(client, street(3, 2), "a tree on the line")
    assert answer.status_code == 303 and answer.headers["location"] == "/map?reported=true#report"
    assert "your report is on our operators" in client.get(answer.headers["location"]).text
    [stored] = reports(runtime)
    with runtime.reading() as session:
        place = session.scalars(select(Customer).where(Customer.customer_id == "C-3-2")).one()
    assert (stored.lat, stored.lon, stored.customer_pk) == (place.lat, place.lon, place.id)
    assert (stored.source, stored.text, stored.incident_id) == ("web", "a tree on the line", None)


@pytest.mark.parametrize(
    ("address", "status", "words"),
    [
        ("Testikatu", 422, "a street name and a house number"),
        ("Olematon tie 999", 422, "We have no electricity connection at Olematon tie 999"),
    ],
)
def test_a_report_we_cannot_place_is_refused_in_the_page(
    runtime: Runtime, address: str, status: int, words: str
) -> None:
    answer = report(TestClient(create_app(runtime=runtime)), address)
    assert answer.status_code == status and words in answer.text
    assert 'id="report-result"' in answer.text and reports(runtime) == []


def test_the_refusal_speaks_the_page_s_language(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime))
    client.get("/map?lang=fi")
    answer = report(client, "Olematon tie 999")
    assert answer.status_code == 422 and "Meillä ei ole sähköliittymää" in answer.text


def test_one_client_address_gets_a_few_reports_in_then_waits(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime))
    for _ in range(REPORTS_PER_IP):
        assert report(client, street(0, 0)).status_code == 303
    refused = report(client, street(0, 0))
    assert refused.status_code == 429 and "Too many reports" in refused.text
    assert len(reports(runtime)) == REPORTS_PER_IP


def test_the_console_proposes_close_reports_outside_open_incidents(runtime: Runtime) -> None:
    now = runtime.clock.now()
    upsert_incident(runtime, {"external_id": "OMS-1", "area": cells(0, 0, 1, 1)}, now=now)
    public = TestClient(create_app(runtime=runtime))
    report(public, street(0, 0))  # inside OMS-1's area: covered, not proposed
    report(public, street(6, 3))
    report(public, street(6, 4))  # 0.01° (1.1 km) north of 6/3: too far alone…
    report(public, street(7, 3))  # … but 6/3 and 7/3 are 550 m apart: too far too
    report(public, street(8, 0))
    with runtime.transaction() as session:
        # A second report 110 m from 8/0's (a neighbour's, with no customer of ours there).
        first = session.scalars(select(OutageReport).where(OutageReport.lon == 24.98)).one()
        session.add(OutageReport(at=first.at, lat=first.lat + 0.001, lon=first.lon, source="web"))
    console = TestClient(create_app(runtime=runtime))
    assert sign_in(console, "operator-1", PASSWORD).status_code == 303
    collection = console.get("/console/reports.geojson").json()
    kinds = [f["properties"]["kind"] for f in collection["features"]]
    assert kinds.count("report") == 6 and kinds.count("proposal") == 1
    covered = [f for f in collection["features"] if f["properties"].get("covered")]
    assert len(covered) == 1
    [proposal] = [f for f in collection["features"] if f["properties"]["kind"] == "proposal"]
    assert proposal["properties"]["reports"] == 2
    page = console.get("/console")
    assert "Proposed: 2 reports close together" in page.text
    assert "6 reports, 1 of them inside an open incident" in page.text
    started = console.get("/console", params={"area": json.dumps(proposal["geometry"])})
    assert started.status_code == 200 and "New incident" in started.text
    assert "Polygon" in started.text.split('id="area"')[1].split("</textarea>")[0]


def test_one_customer_s_reports_are_one_voice_in_the_proposals(runtime: Runtime) -> None:
    """Two reports from the same customer a minute apart are not "2 reports close
    together": only a second customer's near them makes a proposal."""
    public = TestClient(create_app(runtime=runtime))
    report(public, street(6, 3))
    at(runtime, runtime.clock.now() + timedelta(minutes=1))
    report(public, street(6, 3))
    console = TestClient(create_app(runtime=runtime))
    assert sign_in(console, "operator-1", PASSWORD).status_code == 303

    def proposals() -> int:
        features = console.get("/console/reports.geojson").json()["features"]
        return sum(f["properties"]["kind"] == "proposal" for f in features)

    assert proposals() == 0
    report(public, street(6, 2))  # another customer 1.1 km away is too far,
    report(public, street(7, 3))  # and 550 m too; a neighbour 110 m away is near:
    with runtime.transaction() as session:
        first = session.scalars(select(OutageReport).order_by(OutageReport.id)).first()
        assert first is not None
        session.add(OutageReport(at=first.at, lat=first.lat + 0.001, lon=first.lon, source="web"))
    assert proposals() == 1
