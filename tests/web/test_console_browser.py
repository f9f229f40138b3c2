"""The operator console in a real browser: an operator signs in, draws an area over known
customers on the map, previews (the count and the three SMS texts) and sends; the outage SMS
reaches the Twilio stand-in. The demo town's storm on the console at desktop and phone size,
axe clean, writes the screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from shapely.geometry import Point, shape
from sqlalchemy import select

from outage_notify.auth.users import create_user
from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer, Incident, OutageReport
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.backends import Backend, Databases
from tests.conftest import TEST_SECRET, LiveServer
from tests.standins.net import free_port
from tests.standins.twilio import TwilioStandIn
from tests.town import customer, ids, town
from tests.web.browser import check_accessibility, screenshot, shot_name
from tests.web.scenes import storm_now

pytestmark = pytest.mark.browser
PASSWORD = "a password for the console"


def add_operator(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        create_user(
            session, username="operator-1", role="operator", password=PASSWORD, now=utcnow()
        )


def sign_in(page: Page, url: str) -> None:
    page.goto(url + "/login?next=/console")
    page.get_by_label("Username").fill("operator-1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Operator console", level=1)).to_be_visible()
    expect(page.locator("#map[data-console-ready=true]")).to_have_count(1)
    expect(page.locator("#map[data-customers-ready=true]")).to_have_count(1)


@pytest.fixture
def town_site(
    make_settings: Any, provider_settings: dict[str, Any], live_port: int
) -> Iterator[dict[str, Any]]:
    """The grid town (tests/town.py), every customer on SMS through the Twilio stand-in."""
    settings = make_settings(**provider_settings, public_url=f"http://127.0.0.1:{live_port}")
    runtime = Runtime.build(settings)
    parsed = parse_json_list(town(channels="sms"), CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=utcnow())
    add_operator(runtime)
    server = LiveServer(runtime, live_port).start()
    yield {"url": server.url, "runtime": runtime}
    server.stop()
    runtime.close()


def click_at(page: Page, lat: float, lon: float) -> None:
    """A click on the map where (lat, lon) is drawn."""
    point = page.evaluate(
        "([lat, lon]) => { const m = window.OutageConsole.map;"
        " const p = m.latLngToContainerPoint([lat, lon]);"
        " const r = m.getContainer().getBoundingClientRect();"
        " return {x: r.left + p.x, y: r.top + p.y}; }",
        [lat, lon],
    )
    page.mouse.click(point["x"], point["y"])


def test_an_operator_draws_previews_and_sends_and_the_sms_arrives(
    desktop_page: Page, town_site: dict[str, Any], twilio: TwilioStandIn
) -> None:
    page = desktop_page
    sign_in(page, town_site["url"])
    # Customers C-0-0 … C-2-1 (3 columns × 2 rows), with a margin of half a grid step.
    south, west = customer(0, 0)["lat"] - 0.005, customer(0, 0)["lon"] - 0.005
    north, east = customer(2, 1)["lat"] + 0.005, customer(2, 1)["lon"] + 0.005
    page.get_by_role("button", name="Draw the area on the map").click()
    corners = [(south, west), (south, east), (north, east), (north, west)]
    for lat, lon in corners:
        click_at(page, lat, lon)
    click_at(page, *corners[0])  # back at the first corner: the polygon is closed
    expect(page.get_by_label("Area (GeoJSON)")).to_have_value(re.compile(r'"type": ?"Polygon"'))
    page.get_by_label("Cause").fill("fallen tree")
    page.get_by_label("Status").select_option("crew_assigned")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-count")).to_have_text("Customers who will be told: 6")
    texts = page.locator("#preview .sms-text")
    expect(texts).to_have_count(3)
    expect(page.locator('#preview .sms-text[lang="en"]')).to_contain_text("fallen tree")
    expect(page.locator('#preview .sms-text[lang="fi"]')).to_contain_text("[address]")
    expect(page.locator("#preview")).to_contain_text("SMS segments: 1")
    check_accessibility(page)
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(r"/incidents/inc_"))
    expect(page.locator("main")).to_contain_text("fallen tree")
    expect(page.locator("#revisions")).to_contain_text("user:operator-1")
    town_site["runtime"].drain(timeout=60)
    told = {m["to"] for m in twilio.messages}
    assert told == {customer(*(int(x) for x in i.split("-")[1:]))["phone"] for i in ids(0, 0, 2, 1)}


@pytest.fixture(scope="module")
def storm_site(
    tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[dict[str, Any]]:
    """The demo town in its storm (tests/web/scenes.py), with an operator."""
    folder = tmp_path_factory.mktemp("console-storm")
    databases = Databases(backend, folder)
    port = free_port()
    cap_file = folder / "warning.xml"
    settings = Settings(
        database_url=databases.new(),
        dispatcher_enabled=False,
        scheduler_enabled=False,
        public_url=f"http://127.0.0.1:{port}",
        secret_key=TEST_SECRET,
        cap_feeds=[cap_file.as_uri()],
        default_language="en",
    )
    runtime = Runtime.build(settings)
    incidents = storm_now(runtime, cap_file=cap_file)
    with runtime.transaction() as session:  # the tree's estimate has passed: overdue
        tree = session.get(Incident, incidents["tree"])
        assert tree is not None
        tree.etr = runtime.clock.now() - timedelta(minutes=20)
    add_operator(runtime)
    add_reports(runtime)
    server = LiveServer(runtime, port).start()
    yield {"url": server.url, "incidents": incidents}
    server.stop()
    runtime.close()
    databases.drop_all()


def add_reports(runtime: Runtime) -> None:
    """Three reports close together where no open incident is (a proposal): a customer's and
    two neighbours' (no connection of ours there, so no customer); and one inside the fallen
    tree's area."""
    now = runtime.clock.now()
    with runtime.transaction() as session:
        areas = [shape(i.area) for i in session.scalars(select(Incident)) if i.area]
        customers = session.scalars(select(Customer).order_by(Customer.id)).all()
        outside = next(
            c for c in customers if not any(a.covers(Point(c.lon, c.lat)) for a in areas)
        )
        inside = next(c for c in customers if areas[0].covers(Point(c.lon, c.lat)))
        for n, (place, north) in enumerate(
            [(outside, 0), (outside, 0.001), (outside, 0.002), (inside, 0)]
        ):
            session.add(
                OutageReport(
                    at=now - timedelta(minutes=10 - n),
                    lat=place.lat + north,
                    lon=place.lon,
                    customer_pk=place.id if north == 0 else None,
                    source="web",
                )
            )


def test_the_storm_on_the_console(
    sized_page: Page, viewport: str, storm_site: dict[str, Any]
) -> None:
    page, ids_ = sized_page, storm_site["incidents"]
    sign_in(page, storm_site["url"])
    # The tree's area and the warning's on the map (the feeder outage and the planned work
    # have no area), and all four listed beside it.
    expect(page.locator("#map path.leaflet-interactive")).to_have_count(2)
    expect(page.locator("#map .cluster-icon").first).to_be_attached()
    for name in ("tree", "feeder", "planned", "warning"):
        expect(page.locator(f"#console-incident-{ids_[name]}")).to_be_attached()
    expect(page.locator("#customers-shown")).to_contain_text("Customers in the map's view:")
    expect(page.locator("#reports-summary")).to_contain_text("4 reports, 1 of them inside")
    expect(page.locator("#map path.leaflet-interactive")).to_have_count(2)  # not the reports'
    expect(page.locator("#map path.report-marker")).to_have_count(4)
    expect(page.locator("#map path.proposal-area")).to_have_count(1)
    # The overdue tree stands out, on the map and above the list.
    expect(page.locator("#overdue-note")).to_contain_text("One estimate of repair has passed")
    strokes = page.locator("#map path.leaflet-interactive").evaluate_all(
        "paths => paths.map(p => [p.getAttribute('stroke'), p.getAttribute('stroke-width')])"
    )
    assert ["#7a0916", "5"] in strokes and len(strokes) == 2, strokes
    # Reports are drawn above the customers' cluster circles, not hidden under them.
    above = page.evaluate(
        """() => {
          const z = el => Number(getComputedStyle(el.closest('.leaflet-pane')).zIndex);
          const report = document.querySelector('#map path.report-marker');
          const cluster = document.querySelector('#map .cluster-icon');
          return z(report) > z(cluster);
        }"""
    )
    assert above
    check_accessibility(page)
    screenshot(page, shot_name("console", viewport))
    # A proposal starts a new incident with its area.
    page.locator("#proposal-1").get_by_role(
        "button", name="Start an incident with this area"
    ).click()
    expect(page.get_by_role("heading", name="New incident")).to_be_visible()
    expect(page.get_by_label("Area (GeoJSON)")).to_have_value(re.compile(r"Polygon"))
    expect(page.locator("#map[data-console-ready=true]")).to_have_count(1)
    # Changing an incident opens the form with its area, ready to edit.
    page.locator(f"#console-incident-{ids_['tree']}").get_by_role("link", name="Change").click()
    expect(page.get_by_role("heading", name="Change SCENE-TREE")).to_be_visible()
    expect(page.get_by_label("Area (GeoJSON)")).to_have_value(re.compile(r"Polygon"))
    check_accessibility(page)
