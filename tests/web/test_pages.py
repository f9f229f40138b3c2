"""Every page, in a real browser: the landing page, signing in, the dev inbox, the agent desk,
the docs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.auth.users import create_user
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.conftest import LiveServer
from tests.town import cells, customer, town
from tests.web.browser import check_accessibility, screenshot

pytestmark = pytest.mark.browser
PASSWORD = "a password for the pages"


@pytest.fixture
def site(make_settings: Any, live_port: int) -> Iterator[dict[str, Any]]:
    """A live app on the development sink, with the test town and one outage delivered."""
    runtime = Runtime.build(make_settings(public_url=f"http://127.0.0.1:{live_port}"))
    with runtime.transaction() as session:
        keys = {
            r: create_key(session, role=r, name=f"{r}-1", now=utcnow())[1]
            for r in ("admin", "operator", "agent")
        }
        for role in ("admin", "operator", "agent"):
            create_user(session, username=f"{role}-1", role=role, password=PASSWORD, now=utcnow())
    api = TestClient(create_app(runtime=runtime))
    auth = {r: {"Authorization": f"Bearer {k}"} for r, k in keys.items()}
    assert (
        api.post("/api/v1/customers", json=town(channels=""), headers=auth["admin"]).status_code
        == 200
    )
    answer = api.post(
        "/api/v1/incidents",
        json={"external_id": "WEB-1", "area": cells(0, 0, 2, 1), "cause": "fallen tree"},
        headers=auth["operator"],
    )
    assert answer.status_code == 201
    runtime.drain()
    server = LiveServer(runtime, live_port).start()
    yield {"url": server.url, "keys": keys, "runtime": runtime}
    server.stop()
    runtime.close()


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_the_landing_page_links_everything_and_counts_for_staff(
    page: Page, site: dict[str, Any]
) -> None:
    page.goto(site["url"] + "/")
    expect(page.locator("#count-customers")).to_have_count(0)  # not for the public
    page.locator("main").get_by_role("link", name="sign in").click()
    sign_in(page, "agent-1")
    expect(page.get_by_text("Signed in as agent-1")).to_be_visible()
    page.goto(site["url"] + "/")
    expect(page.locator("#count-customers")).to_have_text("50")
    expect(page.locator("#count-incidents")).to_have_text("1")
    main = page.locator("main")
    for name in ("API documentation", "Development inbox", "Agent desk"):
        expect(main.get_by_role("link", name=name)).to_be_visible()
    main.get_by_role("link", name="Development inbox").click()
    expect(page).to_have_url(site["url"] + "/dev/inbox")


def test_the_dev_inbox_shows_each_customer_s_messages_by_channel(
    page: Page, site: dict[str, Any]
) -> None:
    page.goto(site["url"] + "/dev/inbox")
    expect(page.locator("section.customer")).to_have_count(6)  # 3 columns × 2 rows
    first = page.locator("section.customer", has_text="C-1-1")
    expect(first.locator("tr.message")).to_have_count(3)  # sms, email, in-app
    expect(first.locator("tr.message[data-channel=sms]")).to_contain_text(customer(1, 1)["address"])
    page.get_by_label("channel").select_option("sms")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr.message")).to_have_count(6)
    expect(page.locator("tr.message[data-channel=email]")).to_have_count(0)
    page.get_by_label("customer").fill("C-2-0")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("section.customer")).to_have_count(1)
    expect(page.locator("section.customer")).to_have_attribute("data-customer", "C-2-0")


def test_an_agent_signs_in_finds_a_customer_by_phone_and_reads_the_timeline(
    page: Page, site: dict[str, Any]
) -> None:
    page.goto(site["url"] + "/agent")
    expect(page).to_have_url(site["url"] + "/login?next=%2Fagent")
    sign_in(page, "agent-1", "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    sign_in(page, "operator-1")
    expect(page.get_by_role("alert")).to_contain_text("this page is for agent or admin users")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "agent-1")
    expect(page).to_have_url(site["url"] + "/agent")
    expect(page.get_by_text("Signed in as agent-1")).to_be_visible()

    national = "040 " + customer(1, 0)["phone"][6:]  # as a caller reads it out
    page.get_by_label("search").fill(national)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results li")).to_have_count(1)
    page.get_by_role("link", name="C-1-0").click()

    expect(page.get_by_role("heading", name=customer(1, 0)["name"])).to_be_visible()
    expect(page.locator("#incidents")).to_contain_text("WEB-1")
    timeline = page.locator("#timeline")
    expect(timeline.locator(".event-incident_affected")).to_contain_text("fallen tree")
    expect(timeline.locator(".event-message")).to_have_count(3)
    sms = timeline.locator(".event-message[data-channel=sms]")
    expect(sms).to_contain_text(customer(1, 0)["address"])
    expect(sms.locator(".status")).to_have_text("Delivered")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()
    page.goto(site["url"] + "/agent")  # signed out: the desk asks to sign in again
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_the_agent_desk_by_name_and_no_match(page: Page, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/agent")
    sign_in(page, "admin-1")
    page.get_by_label("search").fill("Customer 3/4")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results li")).to_have_count(1)
    page.get_by_label("search").fill("nobody by this name")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No customer matches")).to_be_visible()


def test_the_api_docs_render_without_internet(page: Page, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("outage_notify")
    expect(page.get_by_text("/api/v1/incidents").first).to_be_visible()
    expect(page.get_by_text("ErrorBody", exact=True)).to_be_visible()  # the real error body
    expect(page.get_by_text("HTTPValidationError")).to_have_count(0)


def test_the_dev_inbox_needs_an_agent_once_a_real_provider_is_configured(
    page: Page, make_settings: Any, live_port: int
) -> None:
    settings = make_settings(public_url=f"http://127.0.0.1:{live_port}", smtp_host="127.0.0.1")
    runtime = Runtime.build(settings)  # email is real; sms and push still go to the sink
    with runtime.transaction() as session:
        create_user(session, username="agent-1", role="agent", password=PASSWORD, now=utcnow())
    server = LiveServer(runtime, live_port).start()
    try:
        page.goto(server.url + "/dev/inbox")
        expect(page).to_have_url(server.url + "/login?next=%2Fdev%2Finbox")
        sign_in(page, "agent-1")
        expect(page).to_have_url(server.url + "/dev/inbox")
        expect(page.get_by_role("heading", name="Development inbox")).to_be_visible()
        expect(page.get_by_text("Messages on sms, push")).to_be_visible()
    finally:
        server.stop()
        runtime.close()


def test_an_operator_sees_the_incidents_and_one_incident_with_who_was_told(
    page: Page, site: dict[str, Any]
) -> None:
    page.goto(site["url"] + "/incidents")
    sign_in(page, "operator-1")
    expect(page).to_have_url(site["url"] + "/incidents")
    row = page.locator("#incidents tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("WEB-1")
    expect(row).to_contain_text("fallen tree")
    page.get_by_role("link", name="WEB-1").click()

    expect(page.get_by_role("heading", name="WEB-1")).to_be_visible()
    # cells(0, 0, 2, 1): six customers, told by SMS and email (the town has both), and in-app.
    outcomes = page.locator("#outcomes tbody tr")
    expect(outcomes).to_have_count(3)
    expect(outcomes.nth(0)).to_contain_text("sms")
    expect(outcomes.nth(0)).to_contain_text("delivered")
    expect(outcomes.nth(0).locator("td").nth(2)).to_have_text("6")
    expect(page.locator("#untold")).to_contain_text("0 affected customers with nothing sent")
    expect(page.locator("#revisions tbody tr")).to_have_count(1)
    expect(page.locator("#revisions")).to_contain_text("apikey:operator-1")
    expect(page.locator("#priority")).to_have_count(0)  # none: the card says so
    expect(page.get_by_text("None.", exact=True)).to_be_visible()
    # Its area drawn on the map, over the plain background (no tile server configured).
    expect(page.locator('.map path[stroke="#b42318"]')).to_have_count(1)  # an outage's style
    check_accessibility(page)
    screenshot(page, "incident")
    page.goto(site["url"] + "/incidents")
    check_accessibility(page)
    screenshot(page, "incidents")


REFUSED = {"/incidents/no-such-incident": 404, "/console": 403}


@pytest.mark.parametrize(
    ("path", "user"),
    [
        ("/", None),
        ("/", "operator-1"),
        ("/login", None),
        ("/dev/inbox", None),
        ("/incidents", "operator-1"),
        ("/incident", "operator-1"),  # the outage's own page (its id found below)
        ("/incidents/no-such-incident", "operator-1"),  # the refusal page: 404
        ("/console", "agent-1"),  # the refusal page: 403, not an operator
    ],
)
def test_every_page_is_accessible_at_desktop_and_phone_size(
    sized_page: Page, viewport: str, site: dict[str, Any], path: str, user: str | None
) -> None:
    """The pages other tests check with axe in their own flows (the map, the console, the
    dashboard, the agent's desk) aside: these, at both sizes, in their plain state."""
    page = sized_page
    if user is not None:
        page.goto(site["url"] + "/login")
        sign_in(page, user)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    if path == "/incident":
        page.goto(site["url"] + "/incidents")
        page.get_by_role("link", name="WEB-1").click()
        expect(page.get_by_role("heading", name="WEB-1", level=1)).to_be_visible()
    else:
        answer = page.goto(site["url"] + path)
        assert answer is not None and answer.status == REFUSED.get(path, 200)
    check_accessibility(page)
