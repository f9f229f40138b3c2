"""GET /dashboard: operators' storm dashboard, server-rendered. Only operators and admins see
it; every figure is on the page in words; every chart is an SVG image with a title and a
description and its numbers in a table; ?partial=1 is the figures alone, which the page's
script fetches to refresh them, and they move as the storm does."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.auth.users import create_user
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.town import cells, town
from tests.web.signing import sign_in

PASSWORD = "correct horse battery"
SVG = re.compile(r'<svg class="chart[^"]*"[^>]*>.*?</svg>', re.S)


@dataclass
class Site:
    runtime: Runtime
    client: TestClient
    key: dict[str, str]  # an operator's API key

    def post(self, external_id: str, area: dict[str, Any]) -> None:
        answer = self.client.post(
            "/api/v1/incidents", json={"external_id": external_id, "area": area}, headers=self.key
        )
        assert answer.status_code == 201, answer.text
        self.runtime.drain()

    def signed_in_as(self, username: str) -> TestClient:
        assert sign_in(self.client, username, PASSWORD).status_code == 303
        return self.client


@pytest.fixture
def site(make_settings: Callable[..., Any]) -> Iterator[Site]:
    # Plain http on this machine: the session cookie is not Secure, so the test client keeps it.
    runtime = Runtime.build(make_settings(public_url="http://127.0.0.1:8000"))
    with runtime.transaction() as session:
        for role in ("operator", "agent", "admin"):
            create_user(session, username=f"{role}-1", role=role, password=PASSWORD, now=utcnow())
        admin = {
            "Authorization": "Bearer "
            + create_key(session, role="admin", name="a", now=utcnow())[1]
        }
    with TestClient(create_app(runtime=runtime)) as client:
        assert client.post("/api/v1/customers", json=town(), headers=admin).status_code == 200
        yield Site(runtime, client, admin)
    runtime.close()


def figure(html: str, figure_id: str) -> str:
    found = re.search(rf'id="{figure_id}"[^>]*>([^<]*)<', html)
    assert found, figure_id
    return found.group(1)


def test_a_visitor_is_sent_to_sign_in_and_an_agent_refused(site: Site) -> None:
    anonymous = site.client.get("/dashboard", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Fdashboard"
    agent = site.signed_in_as("agent-1").get("/dashboard")
    assert agent.status_code == 403
    assert "for operator or admin users" in agent.text


@pytest.mark.parametrize("username", ["operator-1", "admin-1"])
def test_operators_and_admins_see_the_figures(site: Site, username: str) -> None:
    site.post("W-1", cells(0, 0, 2, 1))  # six customers, SMS + email + in-app each
    page = site.signed_in_as(username).get("/dashboard")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert "<h1>Storm dashboard</h1>" in html
    assert figure(html, "affected-total") == "6"
    assert figure(html, "affected-unplanned") == "6"
    assert figure(html, "incidents-open") == "1"
    assert figure(html, "incidents-overdue") == "0"
    assert figure(html, "first-awaiting") == "0"
    assert re.search(r'<tr data-channel="sms"><th scope="row">SMS</th>', html)
    assert '<td class="num" data-status="delivered">6</td>' in html
    # Without JavaScript: a Refresh link, no meta refresh; with it, the live script.
    assert 'id="dash-refresh" href="/dashboard?span=6h"' in html
    assert 'http-equiv="refresh"' not in html
    assert '<script src="/static/dashboard.js" defer></script>' in html


def test_every_chart_has_a_text_alternative_and_a_table(site: Site) -> None:
    site.post("W-1", cells(0, 0, 2, 1))
    html = site.signed_in_as("operator-1").get("/dashboard").text
    charts = SVG.findall(html)
    assert len(charts) == 4 + 3  # a chart per channel; replies, reports, opt-outs
    for chart in charts:
        assert 'role="img"' in chart
        labelled = re.search(r'aria-labelledby="([^"]+)" aria-describedby="([^"]+)"', chart)
        assert labelled
        title_id, desc_id = labelled.groups()
        assert re.search(rf'<title id="{title_id}">[^<]+</title>', chart)
        assert re.search(rf'<desc id="{desc_id}">[^<]+</desc>', chart)
    assert "SMS messages by status: 0 queued, 0 sent, 6 delivered, 0 failed, 0 suppressed." in html
    assert "Replies per minute: none in this period." in html
    assert '<table id="messages-table">' in html and '<table id="inbound-table">' in html
    assert html.count("<caption") == 2


def test_the_figures_alone_refresh_and_move_with_the_storm(site: Site) -> None:
    client = site.signed_in_as("operator-1")
    before = client.get("/dashboard?partial=1")
    assert before.status_code == 200
    assert "<html" not in before.text and "<h1>" not in before.text
    assert figure(before.text, "affected-total") == "0"
    site.post("W-2", cells(5, 0, 6, 1))  # four customers
    after = client.get("/dashboard?partial=1").text
    assert figure(after, "affected-total") == "4"
    assert '<td class="num" data-status="delivered">4</td>' in after


def test_the_period_can_be_chosen_and_a_bad_one_is_the_default(site: Site) -> None:
    client = site.signed_in_as("operator-1")
    hour = client.get("/dashboard?span=1h").text
    assert '<option value="1h" selected>' in hour
    assert "Counted per minute." in hour
    inbound = hour[hour.index('<table id="inbound-table">') :]
    assert inbound.count('<tr><th scope="row">') == 61  # a row a minute: the hour, and now
    odd = client.get("/dashboard?span=<script>")
    assert odd.status_code == 200
    assert '<option value="6h" selected>' in odd.text
    assert "<script>" not in odd.text.replace(
        '<script src="/static/dashboard.js" defer></script>', ""
    )


def test_the_live_script_and_styles_are_served(site: Site) -> None:
    script = site.client.get("/static/dashboard.js")
    assert script.status_code == 200
    assert "visibilitychange" in script.text and "prefers-reduced-motion" in script.text
    assert site.client.get("/static/dashboard.css").status_code == 200


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("fi", ["Myrskyn tilannekuva", "Tekstiviesti: viestit tilan mukaan", "perillä", "Päivitä"]),
        (
            "sv",
            ["Lägesbild under storm", "Sms: meddelanden efter status", "levererade", "Uppdatera"],
        ),
    ],
)
def test_the_dashboard_in_finnish_and_swedish(site: Site, lang: str, words: list[str]) -> None:
    site.post("W-1", cells(0, 0, 2, 1))
    html = site.signed_in_as("operator-1").get(f"/dashboard?lang={lang}").text
    assert f'<html lang="{lang}">' in html
    for word in words:
        assert word in html
    # The live script's sentences come from the page, in its language.
    live = re.search(r'<span id="dash-live"[^>]*data-live="([^"]+)"', html)
    assert live and live.group(1) in (
        "Päivittyy itsestään 10 sekunnin välein.",
        "Uppdateras av sig själv var tionde sekund.",
    )
    assert "Storm dashboard" not in html
