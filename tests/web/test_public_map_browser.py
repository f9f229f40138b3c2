"""The public outage map in a real browser, at desktop and phone size: the demo town's storm
drawn on the map and listed beside it, the address search, keyboard use, axe clean; the
screenshots of docs/screenshots/ are written here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from outage_notify.config import Settings
from outage_notify.runtime import Runtime
from tests.backends import Backend, Databases
from tests.conftest import TEST_SECRET, LiveServer
from tests.standins.net import free_port
from tests.web.browser import check_accessibility, screenshot, shot_name
from tests.web.scenes import storm_now

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def storm_site(
    tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[dict[str, Any]]:
    """One live app over the demo town in its storm, shared by this module's tests (the town
    takes seconds to load; the tests only read)."""
    folder = tmp_path_factory.mktemp("storm")
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
        service_phone="0800 123 456",
    )
    runtime = Runtime.build(settings)
    incidents = storm_now(runtime, cap_file=cap_file)
    server = LiveServer(runtime, port).start()
    yield {"url": server.url, "incidents": incidents}
    server.stop()
    runtime.close()
    databases.drop_all()


def open_map(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#map[data-map-ready=true]")).to_have_count(1)


def test_the_public_map_shows_the_storm_on_the_map_and_in_the_lists(
    sized_page: Page, viewport: str, storm_site: dict[str, Any]
) -> None:
    page, ids = sized_page, storm_site["incidents"]
    open_map(page, storm_site["url"] + "/map")
    # Drawn: a Leaflet map with an area per incident, over the districts' outlines.
    expect(page.locator("#map .leaflet-pane.leaflet-overlay-pane")).to_have_count(1)
    expect(page.locator("#map path.leaflet-interactive")).to_have_count(4)
    expect(page.locator("#map .district-label").first).to_be_attached()
    # Listed: the two outages, the planned work and the warning, in words.
    outages = page.locator("#outages article")
    expect(outages).to_have_count(2)
    tree = page.locator(f"#incident-{ids['tree']}")
    expect(tree).to_contain_text("1,477 customers")
    expect(tree).to_contain_text("fallen tree")
    expect(tree).to_contain_text("Repair under way")
    expect(tree).to_contain_text("Expected back by")
    expect(tree).to_contain_text("(in about 2 hours)")
    expect(tree.locator("h3")).to_contain_text("Kokonniemi")
    expect(page.locator(f"#incident-{ids['feeder']}")).to_contain_text("A crew is on its way")
    expect(page.locator(f"#planned #incident-{ids['planned']}")).to_contain_text(
        "From 04:00 tomorrow to 06:00 tomorrow."
    )
    warning = page.locator(f"#warnings #incident-{ids['warning']}")
    expect(warning.locator("h3")).to_have_text("Yellow wind warning: south-west Porvoo")
    expect(warning).to_contain_text("Moderate")
    expect(page.locator("#report")).to_contain_text("Reply OUT")
    expect(page.get_by_role("link", name="0800 123 456")).to_have_attribute(
        "href", "tel:0800123456"
    )
    check_accessibility(page)
    screenshot(page, shot_name("public-map", viewport))


def test_the_map_s_areas_are_fetched_once_beside_the_html(
    desktop_page: Page, storm_site: dict[str, Any]
) -> None:
    """The page preloads its GeoJSON (the fetch starts with the HTML, not after the scripts)
    and map.js's own fetch takes the preloaded answer: one request, not two."""
    page = desktop_page
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "outages.geojson" in r.url else None)
    open_map(page, storm_site["url"] + "/map")
    expect(page.locator('link[rel="preload"][as="fetch"]')).to_have_count(1)
    # Drawn only once map.js's fetch answered: had it not taken the preload, it is counted.
    assert fetched == [storm_site["url"] + "/api/v1/public/outages.geojson"]


def test_a_feature_s_popup_and_the_list_s_show_on_map_button(
    desktop_page: Page, storm_site: dict[str, Any]
) -> None:
    page, ids = desktop_page, storm_site["incidents"]
    open_map(page, storm_site["url"] + "/map")
    card = page.locator(f"#incident-{ids['feeder']}")
    card.get_by_role("button", name="Show on map").click()
    popup = page.locator("#map .leaflet-popup")
    expect(popup).to_contain_text("Vanha Porvoo")
    expect(popup).to_contain_text("105 customers")
    expect(page.locator("#map")).to_be_focused()
    check_accessibility(page)
    popup.get_by_role("link", name="Details in the list").click()
    expect(card).to_be_focused()


def test_the_map_works_with_the_keyboard(desktop_page: Page, storm_site: dict[str, Any]) -> None:
    page = desktop_page
    open_map(page, storm_site["url"] + "/map")
    page.locator("#map").focus()
    before = page.evaluate("() => window.OutageMap.maps[0].map.getZoom()")
    page.keyboard.press("+")
    page.wait_for_function(f"() => window.OutageMap.maps[0].map.getZoom() > {before}")
    centre = page.evaluate("() => window.OutageMap.maps[0].map.getCenter().lng")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => window.OutageMap.maps[0].map.getCenter().lng > {centre}")


def test_the_address_search_at_phone_size(phone_page: Page, storm_site: dict[str, Any]) -> None:
    page, ids = phone_page, storm_site["incidents"]
    open_map(page, storm_site["url"] + "/map")
    page.get_by_label("Street address").fill("Kokonniementie 5")
    page.get_by_role("button", name="Check").click()
    result = page.locator("#search-result")
    expect(result).to_contain_text("Yes. Kokonniementie 5 is in:")
    expect(result.get_by_role("link")).to_have_text(
        ["Power outage: " + page.locator(f"#incident-{ids['tree']} h3").inner_text()]
    )
    check_accessibility(page)
    screenshot(page, "public-map-search-phone", full_page=False)
    page.get_by_label("Street address").fill("Kokonniementie")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#search-result")).to_contain_text(
        "A street name and a house number are both needed"
    )


def test_without_its_script_files_the_page_says_so_and_the_lists_still_work(
    desktop_page: Page, storm_site: dict[str, Any]
) -> None:
    page = desktop_page
    page.route("**/static/vendor/**", lambda route: route.abort())
    page.goto(storm_site["url"] + "/map")
    expect(page.get_by_role("alert")).to_contain_text("The map's script did not load")
    expect(page.locator("#outages article")).to_have_count(2)


def test_the_landing_page_links_the_map(desktop_page: Page, storm_site: dict[str, Any]) -> None:
    page = desktop_page
    page.goto(storm_site["url"] + "/")
    page.locator("main").get_by_role("link", name="Outage map").click()
    expect(page).to_have_url(storm_site["url"] + "/map")
    expect(page.get_by_role("heading", name="Power outages", level=1)).to_be_visible()
