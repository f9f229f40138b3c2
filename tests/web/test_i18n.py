"""The pages' language: ?lang= (remembered in a cookie), the cookie, Accept-Language, the
deployment's default; each language's page says so in <html lang> and in its own words."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.auth.users import create_user
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.web.signing import sign_in

HEADINGS = {"fi": "Sähkökatkot", "sv": "Strömavbrott", "en": "Power outages"}


@pytest.fixture
def client(make_settings: Callable[..., Any]) -> Iterator[TestClient]:
    runtime = Runtime.build(make_settings(default_language="fi"))
    with TestClient(create_app(runtime=runtime)) as test_client:
        yield test_client
    runtime.close()


def language(page: str) -> str:
    found = re.search(r'<html lang="(\w+)">', page)
    assert found, page[:200]
    return found.group(1)


def heading(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page)
    assert found
    return found.group(1)


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_the_public_map_in_each_language(client: TestClient, lang: str) -> None:
    page = client.get(f"/map?lang={lang}").text
    assert language(page) == lang
    assert heading(page) == HEADINGS[lang]
    current = re.findall(r'<a href="/map\?lang=(\w+)" lang="\w+" hreflang="\w+" aria-current', page)
    assert current == [lang]  # the switcher marks the page's own language


def test_without_a_wish_the_deployment_s_default(client: TestClient) -> None:
    page = client.get("/map").text
    assert language(page) == "fi" and heading(page) == "Sähkökatkot"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("sv-FI,sv;q=0.9,en;q=0.8", "sv"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE,de;q=0.9,en;q=0.5", "en"),  # the first of ours the browser names
        ("en;q=0.3,sv;q=0.7", "sv"),  # by quality, not by order
        ("de-DE", "fi"),  # none of ours: the default
        ("*", "fi"),
        ("sv;q=nonsense", "fi"),
    ],
)
def test_the_browser_s_languages(client: TestClient, header: str, lang: str) -> None:
    page = client.get("/map", headers={"Accept-Language": header}).text
    assert language(page) == lang


def test_a_chosen_language_is_remembered_in_a_cookie(client: TestClient) -> None:
    chosen = client.get("/login?lang=sv", headers={"Accept-Language": "en"})
    cookie = chosen.headers["set-cookie"]
    assert "lang=sv" in cookie and "samesite=lax" in cookie.lower()
    assert heading(chosen.text) == "Logga in"
    # The cookie outranks the browser's header; a new ?lang= outranks the cookie.
    assert language(client.get("/", headers={"Accept-Language": "en"}).text) == "sv"
    assert language(client.get("/?lang=en").text) == "en"
    assert language(client.get("/map").text) == "en"


def test_an_unknown_language_is_ignored(client: TestClient) -> None:
    answer = client.get("/map?lang=de")
    assert answer.status_code == 200 and language(answer.text) == "fi"
    assert "set-cookie" not in answer.headers
    client.cookies.set("lang", "xx")
    assert language(client.get("/map").text) == "fi"


def test_the_agent_desk_and_incident_list_in_swedish(
    make_settings: Callable[..., Any],
) -> None:
    runtime = Runtime.build(
        make_settings(default_language="sv", public_url="http://127.0.0.1:8000")
    )
    with runtime.transaction() as session:
        create_user(session, username="kim", role="agent", password="x" * 12, now=utcnow())
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in(client, "kim", "x" * 12)
        desk = client.get("/agent?q=nobody").text
        assert heading(desk) == "Kundtjänst" and "Ingen kund matchar ”nobody”." in desk
        listing = client.get("/incidents").text
        assert heading(listing) == "Störningar" and "Ingen störning matchar." in listing
    runtime.close()


def test_the_sign_in_and_refusal_pages_in_finnish(client: TestClient) -> None:
    login = client.get("/login").text
    assert heading(login) == "Kirjaudu" and "Käyttäjätunnus" in login and "Salasana" in login
    refused = client.get("/agent", follow_redirects=False)
    assert refused.status_code in (303, 307, 401, 403)
