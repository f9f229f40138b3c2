"""The storm dashboard in a real browser: the demo town's storm in figures and charts at desktop
and phone size (axe clean, screenshots for the README); and live, with the page's clock in the
test's hands: the counts move at the next refresh, not while paused or while the tab is
hidden, and a changed figure is marked only when the reader has not asked for reduced motion."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Request, expect
from sqlalchemy import select

from outage_notify.api.dashboard import SharedStats
from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.auth.users import create_user
from outage_notify.config import Settings
from outage_notify.customers.replies import handle_inbound_sms
from outage_notify.db.models import Customer
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.backends import Backend, Databases
from tests.conftest import TEST_SECRET, LiveServer
from tests.standins.net import free_port
from tests.town import cells, town
from tests.web.browser import check_accessibility, screenshot, shot_name
from tests.web.scenes import storm_now

pytestmark = pytest.mark.browser
PASSWORD = "a password for the pages"
REFRESH_MS = 10_000


def sign_in(page: Page, url: str, username: str = "operator-1") -> None:
    page.goto(url + "/login?next=/dashboard")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Storm dashboard", level=1)).to_be_visible()
    # The live script has started (and set its first timer).
    expect(page.locator("#dash-live")).to_have_text("Live: updates every 10 seconds.")


def add_user(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        create_user(
            session, username="operator-1", role="operator", password=PASSWORD, now=utcnow()
        )


@pytest.fixture(scope="module")
def storm_site(
    tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[dict[str, Any]]:
    """The demo town in its storm (tests/web/scenes.py), read only by the tests that use it."""
    folder = tmp_path_factory.mktemp("dashboard")
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
    )
    runtime = Runtime.build(settings)
    storm_now(runtime, cap_file=cap_file)
    add_user(runtime)
    replies_over_the_evening(runtime)
    server = LiveServer(runtime, port).start()
    yield {"url": server.url}
    server.stop()
    runtime.close()
    databases.drop_all()


@pytest.fixture
def town_site(make_settings: Any, live_port: int) -> Iterator[dict[str, Any]]:
    """The 50-customer test town, for a test that changes it: post(id, area) makes an outage
    and delivers its messages."""
    runtime = Runtime.build(make_settings(public_url=f"http://127.0.0.1:{live_port}"))
    add_user(runtime)
    with runtime.transaction() as session:
        key = create_key(session, role="admin", name="admin-1", now=utcnow())[1]
    api = TestClient(create_app(runtime=runtime))
    admin = {"Authorization": f"Bearer {key}"}
    assert api.post("/api/v1/customers", json=town(), headers=admin).status_code == 200

    def post(external_id: str, area: dict[str, Any]) -> None:
        body = {"external_id": external_id, "area": area}
        assert api.post("/api/v1/incidents", json=body, headers=admin).status_code == 201
        runtime.drain()

    server = LiveServer(runtime, live_port)
    # These tests move the page's clock, not the server's: a reading that took long on a
    # loaded machine would be reused for real seconds and show the figures before the post.
    # An hour passes between any two looks at this timer, so no reading is ever reused.
    hours = itertools.count(0, 3600)
    server.app.state.dashboard_stats = SharedStats(timer=lambda: float(next(hours)))
    server.start()
    yield {"url": server.url, "post": post}
    server.stop()
    runtime.close()


def test_the_storm_in_figures_and_charts(
    sized_page: Page, viewport: str, storm_site: dict[str, Any]
) -> None:
    page = sized_page
    sign_in(page, storm_site["url"])
    for kind in ("total", "unplanned", "planned", "warning"):
        expect(page.locator(f"#affected-{kind}")).to_have_text(_a_number())
    expect(page.locator("#incidents-open")).to_have_text("4")
    # Each chart is an image named and described in words, its numbers in a table too.
    sms = page.get_by_role("img", name="SMS messages by status")
    expect(sms).to_be_visible()
    expect(sms).to_have_accessible_description(_starting("SMS messages by status: "))
    expect(page.get_by_role("img", name="Replies per minute")).to_be_visible()
    expect(page.locator("#total-replies")).to_have_text("150")
    expect(page.locator("#total-opt-outs")).to_have_text("6")
    table = page.get_by_role("table", name=_starting("Messages by channel and status"))
    expect(table.get_by_role("row")).to_have_count(1 + 4 + 1)  # head, channels, all
    check_accessibility(page)
    screenshot(page, shot_name("dashboard", viewport))
    page.get_by_text("Table: replies, reports and opt-outs by time").click()
    expect(page.locator("#inbound-table")).to_be_visible()
    check_accessibility(page)


def test_the_counts_move_at_each_refresh_but_not_while_paused(
    desktop_page: Page, town_site: dict[str, Any]
) -> None:
    page = desktop_page
    page.clock.install()
    sign_in(page, town_site["url"])
    total = page.locator("#affected-total")
    expect(total).to_have_text("0")
    town_site["post"]("B-1", cells(0, 0, 2, 1))  # six customers
    expect(total).to_have_text("0")  # until the next refresh
    page.clock.run_for(REFRESH_MS)
    expect(total).to_have_text("6")
    expect(total).to_have_class("stat changed")  # marked for a moment
    expect(
        page.locator('#messages-table tr[data-channel="sms"] td[data-status="delivered"]')
    ).to_have_text("6")

    pause = page.get_by_role("button", name="Pause live updates")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "true")
    town_site["post"]("B-2", cells(5, 0, 6, 1))  # four more
    page.clock.run_for(3 * REFRESH_MS)
    expect(total).to_have_text("6")
    pause.click()  # resumed: at once
    expect(pause).to_have_attribute("aria-pressed", "false")
    expect(total).to_have_text("10")


def test_a_hidden_tab_asks_for_nothing_and_catches_up_when_seen(
    desktop_page: Page, town_site: dict[str, Any]
) -> None:
    page = desktop_page
    page.clock.install()
    sign_in(page, town_site["url"])
    fetched: list[str] = []
    page.on("request", lambda r: _record(r, fetched))
    _set_visibility(page, "hidden")
    town_site["post"]("H-1", cells(0, 0, 2, 1))
    page.clock.run_for(6 * REFRESH_MS)
    assert fetched == []
    _set_visibility(page, "visible")
    expect(page.locator("#affected-total")).to_have_text("6")
    assert len(fetched) == 1


def test_with_reduced_motion_nothing_is_marked(
    desktop_page: Page, town_site: dict[str, Any]
) -> None:
    page = desktop_page
    page.emulate_media(reduced_motion="reduce")
    page.clock.install()
    sign_in(page, town_site["url"])
    town_site["post"]("M-1", cells(0, 0, 2, 1))
    page.clock.run_for(REFRESH_MS)
    total = page.locator("#affected-total")
    expect(total).to_have_text("6")
    expect(total).to_have_class("stat")


def replies_over_the_evening(runtime: Runtime, count: int = 150) -> None:
    """SMS replies from the town's customers over the last three hours, more of them lately
    (thanks, a STATUS, now and then a STOP), through the replies service."""
    now = runtime.clock.now()
    with runtime.transaction() as session:
        phones = session.scalars(
            select(Customer.phone).where(Customer.phone.is_not(None)).order_by(Customer.id)
        ).all()
        for i in range(count):
            body = "STOP" if i % 25 == 0 else ("STATUS" if i % 4 == 0 else "Kiitos tiedosta")
            handle_inbound_sms(
                session,
                from_number=str(phones[i * 7 % len(phones)]),
                body=body,
                message_sid=f"SMscene{i:04d}",
                hasher=runtime.hasher,
                now=now - timedelta(minutes=180 * (1 - i / count) ** 2),
            )


def _record(request: Request, fetched: list[str]) -> None:
    if "partial=1" in request.url:
        fetched.append(request.url)


def _set_visibility(page: Page, state: str) -> None:
    page.evaluate(
        """(state) => {
            Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def _a_number() -> re.Pattern[str]:
    return re.compile(r"^\d[\d,]*$")


def _starting(text: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(text))
