"""/map, read as HTML (the browser tests draw it): the lists in words, the address search
(yes or no, the same answer for an unknown address, refusals with a reason, nothing personal),
and a server without its map files saying so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.runtime import Runtime
from outage_notify.web import public_map
from tests.town import customer, town
from tests.web.scenes import grid_scene, load_grid_town

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 18:00 in Helsinki
# Not on the grid's street: a Swedish address with a capital Å, in the storm's polygon.
AGATAN = customer(1, 1, customer_id="SV-1", name="Sven Åberg", address="Ågatan 3, Borgå")


@pytest.fixture
def scene(settings: Settings) -> Iterator[dict[str, Any]]:
    runtime = Runtime.build(settings, clock=ManualClock(NOW))
    load_grid_town(runtime, now=NOW, people=[*town(), AGATAN])
    ids = grid_scene(runtime, now=NOW)
    with TestClient(create_app(runtime=runtime)) as client:
        yield {"client": client, "ids": ids}


def search(client: TestClient, address: str) -> tuple[int, str]:
    answer = client.get("/map?address=" + quote(address))
    result = re.search(r'<div id="search-result".*?</div>', answer.text, re.S)
    assert result, answer.text
    return answer.status_code, result.group(0)


def linked(result: str) -> list[str]:
    return re.findall(r'href="#incident-([^"]+)"', result)


def test_the_map_page_lists_each_incident_in_words(scene: dict[str, Any]) -> None:
    answer = scene["client"].get("/map")
    assert answer.status_code == 200
    page, ids = answer.text, scene["ids"]
    assert "3 outages: power is out for 14 customers." in page  # 7 + 5 + 2
    sections = {
        name: re.findall(r'<article class="incident[^"]*" id="incident-([^"]+)"', part)
        for name, part in re.findall(r'<section id="(\w+)"(.*?)</section>', page, re.S)
    }
    assert sections["outages"] == [ids["area"], ids["feeder"], ids["pair"]]
    assert sections["planned"] == [ids["planned"]]
    assert sections["warnings"] == [ids["warning"]]
    assert "fewer than 3 customers" in page  # the pair
    assert "Expected back by 21:00 today (in about 3 hours)." in page
    assert "No estimate yet: the damage is still being assessed." in page
    assert "From 14:00 tomorrow to 18:00 tomorrow." in page  # planned, local time
    assert "Lifts will not work." in page
    assert "Orange wind warning" in page and "Severe" in page
    assert "Reply <strong>OUT</strong>" in page
    assert 'data-features-url="/api/v1/public/outages.geojson"' in page
    assert "Testikatu" not in page and "Customer 0/0" not in page


def test_an_address_in_an_outage_is_answered_yes_with_its_entry(scene: dict[str, Any]) -> None:
    client, ids = scene["client"], scene["ids"]
    status, result = search(client, "Testikatu 1")  # C-0-0: "Testikatu 10" (C-9-0) is not it
    assert status == 200
    assert "<strong>Yes.</strong> Testikatu 1 is in:" in result
    assert linked(result) == [ids["area"]]
    assert linked(search(client, "testikatu 8, Helsinki")[1]) == [ids["feeder"]]  # C-7-0, F-7
    assert linked(search(client, "Testikatu 34")[1]) == [ids["warning"]]  # C-3-3
    assert linked(search(client, "Testikatu 10")[1]) == [ids["pair"]]  # C-9-0
    assert linked(search(client, "Testikatu 6")[1]) == [ids["planned"]]  # C-5-0, T-5-0
    for typed in ("Ågatan 3", "ågatan 3", "ÅGATAN 3 A"):  # any case, on either database
        assert linked(search(client, typed)[1]) == [ids["area"]], typed


def test_an_unknown_address_and_an_unaffected_one_get_the_same_answer(
    scene: dict[str, Any],
) -> None:
    client = scene["client"]
    unaffected = search(client, "Testikatu 50")  # C-9-4: a customer, in nothing
    unknown = search(client, "Olematon katu 50")  # nobody lives there
    assert unaffected[0] == unknown[0] == 200
    assert "<strong>No.</strong> We know of no outage" in unaffected[1]
    assert unaffected[1].replace("Testikatu 50", "X") == unknown[1].replace("Olematon katu 50", "X")


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("ab", "The address is too short to search."),
        ("12", "The address is too short to search."),
        ("Testikatu", "A street name and a house number are both needed."),
        ("123456 7", "A street name and a house number are both needed."),
        ("a 1 b", "A street name and a house number are both needed."),
        ("Testikatu\x001", "characters that cannot be searched"),
        ("Testikatu 1" + " x" * 200, "The address is too long to search."),
    ],
)
def test_a_vague_query_is_refused_with_the_reason(
    scene: dict[str, Any], typed: str, reason: str
) -> None:
    status, result = search(scene["client"], typed)
    assert status == 422
    assert reason in result
    assert "Type a street name and a house number, for example Jokikatu 14." in result
    assert "incident-" not in result
    page = scene["client"].get("/map?address=" + quote(typed)).text
    assert "\x00" not in page  # what was typed is echoed back printable only


def test_the_answer_holds_nothing_about_the_customers_there(scene: dict[str, Any]) -> None:
    answer = scene["client"].get("/map?address=Testikatu%201")
    c = customer(0, 0)
    for value in (c["name"], c["phone"], c["email"], c["customer_id"], c["address"]):
        assert value not in answer.text
    assert answer.headers["cache-control"] == "no-store"


def test_without_its_map_files_the_page_says_so(
    scene: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(public_map, "VENDOR_FILES", ("vendor/not-built/leaflet.js",))
    page = scene["client"].get("/map").text
    assert 'id="map-missing"' in page
    assert "The map cannot be drawn" in page and "make assets" in page
    assert "leaflet.js" not in page and "data-map" not in page
    assert 'id="incident-' in page  # the lists work without the map


def test_the_outlines_are_served_for_the_plain_background(client: TestClient) -> None:
    answer = client.get("/map/outlines.geojson")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    assert answer.headers["cache-control"] == "public, max-age=3600"
    kinds = {f["properties"]["kind"] for f in answer.json()["features"]}
    assert kinds == {"municipality", "district", "street"}


def test_the_landing_page_links_the_map(client: TestClient) -> None:
    assert 'href="/map"' in client.get("/").text
