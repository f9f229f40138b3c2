"""/api/v1/public/outages and .geojson: the open feed of the public map. No key; what an
integrator may rely on (shape, kinds, order, times); nothing personal; small counts withheld;
grid incidents drawn as cells, never as their customers' points; cached for a minute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, shape

from outage_notify.api.public import PublicFeatureCollection
from outage_notify.app import create_app
from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.public.privacy import CELL_METERS
from outage_notify.runtime import Runtime
from tests.engine import patch_incident
from tests.town import customer, town
from tests.web.scenes import grid_scene, load_grid_town

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
ITEM_KEYS = {
    "id",
    "kind",
    "status",
    "cause",
    "customers_affected",
    "etr",
    "started_at",
    "starts_at",
    "ends_at",
    "updated_at",
    "severity",
    "areas",
}


@pytest.fixture
def scene(settings: Settings) -> Iterator[dict[str, Any]]:
    runtime = Runtime.build(settings, clock=ManualClock(NOW))
    load_grid_town(runtime, now=NOW)
    ids = grid_scene(runtime, now=NOW)
    with TestClient(create_app(runtime=runtime)) as client:
        yield {"client": client, "ids": ids, "runtime": runtime}


def test_the_feed_lists_what_the_map_shows_in_order_with_no_key(scene: dict[str, Any]) -> None:
    answer = scene["client"].get("/api/v1/public/outages")
    assert answer.status_code == 200
    body, ids = answer.json(), scene["ids"]
    assert body["generated_at"] == "2026-11-24T16:00:00+00:00"
    assert body["privacy_threshold"] == 3
    listed = [(i["id"], i["kind"]) for i in body["incidents"]]
    assert listed == [
        (ids["area"], "unplanned"),  # most customers first
        (ids["feeder"], "unplanned"),
        (ids["pair"], "unplanned"),
        (ids["planned"], "planned"),
        (ids["warning"], "warning"),
    ]  # not the restored one, not the unconfirmed one, not the expired warning
    assert all(set(item) == ITEM_KEYS for item in body["incidents"])
    area, _, _, planned, warning = body["incidents"]
    assert area == area | {
        "status": "crew_assigned",
        "cause": "storm",
        "customers_affected": 6,
        "etr": "2026-11-24T19:00:00+00:00",
        "started_at": "2026-11-24T16:00:00+00:00",
        "updated_at": "2026-11-24T16:00:00+00:00",
        "severity": None,
    }
    assert planned["starts_at"] == "2026-11-25T12:00:00+00:00"
    assert planned["customers_affected"] == 4
    assert warning["severity"] == "Severe"
    assert warning["ends_at"] == "2026-11-24T22:00:00+00:00"


def test_small_counts_are_withheld_and_nothing_personal_is_published(
    scene: dict[str, Any],
) -> None:
    client, ids = scene["client"], scene["ids"]
    for path in ("/api/v1/public/outages", "/api/v1/public/outages.geojson"):
        text = client.get(path).text
        for c in town():  # names, addresses, phones, emails, ids: none
            for field in ("customer_id", "name", "address", "phone", "email"):
                assert c[field] not in text, (path, field)
        for internal in ("F-7", "T-5-0", "GRID-", "operator", "feed:"):
            assert internal not in text, (path, internal)  # grid ids, external ids, sources
    items = {i["id"]: i for i in client.get("/api/v1/public/outages").json()["incidents"]}
    assert items[ids["pair"]]["customers_affected"] is None  # two households: fewer than 3
    assert items[ids["feeder"]]["customers_affected"] == 5


def test_the_geojson_draws_each_incident_s_area_and_grid_incidents_as_cells(
    scene: dict[str, Any],
) -> None:
    answer = scene["client"].get("/api/v1/public/outages.geojson")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    collection, ids = answer.json(), scene["ids"]
    PublicFeatureCollection.model_validate(collection)  # what /openapi.json documents
    assert collection["type"] == "FeatureCollection"
    features = {f["id"]: f for f in collection["features"]}
    assert list(features) == [ids[n] for n in ("area", "feeder", "pair", "planned", "warning")]
    for feature in features.values():
        assert feature["type"] == "Feature"
        assert set(feature["properties"]) == ITEM_KEYS
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    area = shape(features[ids["area"]]["geometry"])
    assert area.bounds == pytest.approx((24.90, 60.15, 24.92, 60.16))  # as the operator gave it
    feeder = shape(features[ids["feeder"]]["geometry"])
    points = [Point(customer(7, row)["lon"], customer(7, row)["lat"]) for row in range(5)]
    assert all(feeder.buffer(1e-9).covers(p) for p in points)
    vertices = {tuple(v) for v in _vertices(features[ids["feeder"]]["geometry"])}
    assert not vertices & {(p.x, p.y) for p in points}  # never the houses themselves
    assert _metres_wide(feeder) >= CELL_METERS * 0.99


def test_both_feeds_are_cached_for_a_minute(scene: dict[str, Any]) -> None:
    for path in ("/api/v1/public/outages", "/api/v1/public/outages.geojson"):
        answer = scene["client"].get(path, headers={"Authorization": "Bearer not-a-key"})
        assert answer.status_code == 200, path  # a key is neither needed nor checked
        assert answer.headers["cache-control"] == "public, max-age=60"


def test_a_closed_incident_leaves_the_feed(scene: dict[str, Any]) -> None:
    client, ids = scene["client"], scene["ids"]
    patch_incident(scene["runtime"], ids["area"], {"status": "restored"}, now=NOW)
    listed = [i["id"] for i in client.get("/api/v1/public/outages").json()["incidents"]]
    assert ids["area"] not in listed and ids["feeder"] in listed


def test_an_empty_town_has_an_empty_feed(client: TestClient) -> None:
    assert client.get("/api/v1/public/outages").json()["incidents"] == []
    assert client.get("/api/v1/public/outages.geojson").json()["features"] == []


def _vertices(geometry: dict[str, Any]) -> list[list[float]]:
    polygons = (
        geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    )
    return [v for polygon in polygons for ring in polygon for v in ring]


def _metres_wide(geometry: Any) -> float:
    """East-west extent in metres, near 60° N (a degree of longitude is about 55.7 km)."""
    minx, _, maxx, _ = geometry.bounds
    return (maxx - minx) * 55_660
