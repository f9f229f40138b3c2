"""Incident areas through the API: over MAX_AREA_VERTICES, with a malformed crs or with members
GeoJSON does not define, an area is refused with 422 and the JSON error shape."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage_notify.config import Settings
from tests.town import cells, town

LIMIT = 12


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(max_area_vertices=LIMIT)


@pytest.fixture
def town_client(client: TestClient, keys: dict) -> TestClient:
    assert client.post("/api/v1/customers", json=town(), headers=keys["admin"]).status_code == 200
    return client


def round_area(vertices: int) -> dict[str, Any]:
    """A regular polygon over the middle of the test town."""
    points = [
        [24.945 + 0.03 * math.cos(2 * math.pi * i / vertices), 60.17 + 0.015 * math.sin(t)]
        for i, t in ((i, 2 * math.pi * i / vertices) for i in range(vertices))
    ]
    return {"type": "Polygon", "coordinates": [[*points, points[0]]]}


def assert_422(answer: Any, fragment: str) -> None:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert set(error) >= {"code", "message"}
    assert fragment in error["message"], error


def test_an_area_at_max_area_vertices_is_accepted(town_client: TestClient, keys: dict) -> None:
    body = {"external_id": "V-1", "area": round_area(LIMIT)}
    answer = town_client.post("/api/v1/incidents", json=body, headers=keys["operator"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["affected_customers"] > 0


def test_an_area_over_max_area_vertices_is_422(town_client: TestClient, keys: dict) -> None:
    body = {"external_id": "V-2", "area": round_area(LIMIT + 1)}
    answer = town_client.post("/api/v1/incidents", json=body, headers=keys["operator"])
    assert_422(answer, f"more than {LIMIT} vertices")


def test_a_patch_with_an_area_over_max_area_vertices_is_422(
    town_client: TestClient, keys: dict
) -> None:
    made = town_client.post(
        "/api/v1/incidents",
        json={"external_id": "V-3", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    ).json()
    answer = town_client.patch(
        f"/api/v1/incidents/{made['id']}",
        json={"area": round_area(LIMIT + 1)},
        headers=keys["operator"],
    )
    assert_422(answer, f"more than {LIMIT} vertices")


@pytest.mark.parametrize(
    "crs",
    [
        "EPSG:4326",
        {"type": "link", "properties": {"href": "http://example.com/crs", "type": "proj4"}},
        {"type": "name", "properties": {"name": "EPSG:4326", "extra": True}},
        {"type": "name", "properties": {"name": "no such system"}},
    ],
    ids=["a string", "a link", "an extra property", "unknown"],
)
def test_an_area_with_a_malformed_crs_is_422(town_client: TestClient, keys: dict, crs: Any) -> None:
    body = {"external_id": "C-1", "area": cells(0, 0, 1, 1) | {"crs": crs}}
    answer = town_client.post("/api/v1/incidents", json=body, headers=keys["operator"])
    assert_422(answer, "crs")


@pytest.mark.parametrize(
    "area",
    [
        cells(0, 0, 1, 1) | {"radius_m": 500},
        {"type": "Feature", "geometry": cells(0, 0, 1, 1), "properties": {}, "style": "red"},
    ],
    ids=["on a geometry", "on a feature"],
)
def test_an_area_with_a_foreign_member_is_422(
    town_client: TestClient, keys: dict, area: dict[str, Any]
) -> None:
    body = {"external_id": "F-1", "area": area}
    answer = town_client.post("/api/v1/incidents", json=body, headers=keys["operator"])
    assert_422(answer, "member")
