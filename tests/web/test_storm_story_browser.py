"""Issue 12's story in one browser session, across the three faces: an operator draws an area
on the console, previews and sends; the SMS reaches the Twilio stand-in, whose receipt says it
was delivered; the storm dashboard's counts move; an agent finds one of the customers by
typing part of their phone number and sees the delivered SMS on their timeline; and the
public map shows the outage to anyone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from outage_notify.auth.users import create_user
from outage_notify.customers.service import upsert_customers
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.conftest import LiveServer
from tests.standins.twilio import TwilioStandIn
from tests.town import customer, town
from tests.web.browser import DESKTOP, check_accessibility
from tests.web.test_console_browser import click_at

pytestmark = pytest.mark.browser
PASSWORD = "a password for storm night"
CALLER = customer(1, 0)  # inside the area the operator draws


@pytest.fixture
def site(
    make_settings: Any, provider_settings: dict[str, Any], live_port: int
) -> Iterator[dict[str, Any]]:
    settings = make_settings(**provider_settings, public_url=f"http://127.0.0.1:{live_port}")
    runtime = Runtime.build(settings)
    parsed = parse_json_list(town(channels="sms"), CustomerRules())
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=utcnow())
        for role in ("operator", "agent"):
            create_user(session, username=f"{role}-1", role=role, password=PASSWORD, now=utcnow())
    server = LiveServer(runtime, live_port).start()
    yield {"url": server.url, "runtime": runtime}
    server.stop()
    runtime.close()


def signed_in(browser: Browser, url: str, username: str, landing: str) -> Page:
    page = browser.new_context(**DESKTOP).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{url}/login?next={landing}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(landing) + "$"))
    return page


def test_storm_night_from_the_operator_s_area_to_the_agent_s_timeline(
    browser: Browser, site: dict[str, Any], twilio: TwilioStandIn
) -> None:
    url, runtime = site["url"], site["runtime"]
    dashboard = signed_in(browser, url, "operator-1", "/dashboard")
    expect(dashboard.locator("#affected-total")).to_have_text("0")

    # The operator draws the area over C-0-0 … C-2-1, previews and sends.
    console = signed_in(browser, url, "operator-1", "/console")
    expect(console.locator("#map[data-console-ready=true]")).to_have_count(1)
    south, west = customer(0, 0)["lat"] - 0.005, customer(0, 0)["lon"] - 0.005
    north, east = customer(2, 1)["lat"] + 0.005, customer(2, 1)["lon"] + 0.005
    console.get_by_role("button", name="Draw the area on the map").click()
    corners = [(south, west), (south, east), (north, east), (north, west)]
    for lat, lon in [*corners, corners[0]]:
        click_at(console, lat, lon)
    console.get_by_label("Cause").fill("fallen tree")
    console.get_by_role("button", name="Preview").click()
    expect(console.locator("#preview-count")).to_have_text("Customers who will be told: 6")
    console.get_by_role("button", name="Send").click()
    expect(console).to_have_url(re.compile(r"/incidents/inc_"))

    # Delivered: sent through the Twilio stand-in, whose receipt comes back signed.
    runtime.drain(timeout=60)
    to_caller = [m for m in twilio.messages if m["to"] == CALLER["phone"]]
    assert len(to_caller) == 1 and CALLER["address"] in to_caller[0]["body"]
    assert len(twilio.messages) == 6
    assert twilio.send_receipt(to_caller[0], "delivered") == 200

    # The dashboard's counts moved.
    dashboard.reload()
    expect(dashboard.locator("#affected-total")).to_have_text("6")
    expect(dashboard.locator("#incidents-open")).to_have_text("1")

    # The caller phones: the agent types part of their number and opens their timeline.
    agent = signed_in(browser, url, "agent-1", "/agent")
    agent.get_by_label("Search customers").press_sequentially(CALLER["phone"][-7:], delay=40)
    results = agent.locator("#results li")
    expect(results).to_have_count(1)
    results.get_by_role("link", name=re.compile(CALLER["customer_id"])).click()
    sms = agent.locator("#timeline .event-message[data-channel=sms]")
    expect(sms).to_contain_text(to_caller[0]["body"])
    expect(sms.locator(".status")).to_have_text("Delivered")
    check_accessibility(agent)

    # Anyone sees the outage on the public map, without signing in.
    public = browser.new_context(**DESKTOP).new_page()
    public.goto(url + "/map")
    expect(public.locator("#outages article.incident")).to_have_count(1)
    expect(public.locator("#outages")).to_contain_text("fallen tree")
    expect(public.locator("#map[data-map-ready=true]")).to_have_count(1)
