"""Gzip for the public, bulky answers (the outage map, its feed, static files), never for the
signed-in pages, whose CSRF token beside reflected text would leak through the length."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from outage_notify.runtime import Runtime
from outage_notify.web.compression import compressed
from outage_notify.web.signin import SESSION_COOKIE


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/map", True),
        ("/map?address=Jokikatu+14", True),
        ("/api/v1/public/outages.geojson", True),
        ("/static/map.js", True),
        ("/incidents/inc_1/area.geojson", True),
        ("/console/customers.geojson", True),
        ("/map/outlines.geojson", True),
        ("/map/report", True),
        ("/agent", False),
        ("/agent/customers/C-1", False),
        ("/console", False),
        ("/login", False),
        ("/api/v1/incidents", False),
        ("/dashboard", False),
    ],
)
def test_only_public_bulky_answers_are_compressed(path: str, expected: bool) -> None:
    assert compressed(path.split("?")[0]) is expected


def test_the_map_page_is_sent_gzipped_to_a_browser_that_takes_it(runtime: Runtime) -> None:
    from outage_notify.app import create_app

    client = TestClient(create_app(runtime=runtime))
    page = client.get("/map", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers.get("content-encoding") == "gzip"
    assert "<html" in page.text  # decoded by the client as a browser would
    plain = client.get("/map", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    login = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in login.headers


def test_the_map_asked_for_with_a_session_is_not_compressed() -> None:
    """Its header then holds the sign-out form's CSRF token, beside the reflected address."""
    assert not compressed("/map", signed_in=True)
    assert compressed("/api/v1/public/outages.geojson", signed_in=True)
    assert not compressed("/agent", signed_in=False)


def test_a_signed_in_request_for_the_map_is_sent_plain(runtime: Runtime) -> None:
    from outage_notify.app import create_app

    client = TestClient(create_app(runtime=runtime))
    client.cookies.set(SESSION_COOKIE, "whatever")
    page = client.get("/map", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert "content-encoding" not in page.headers
