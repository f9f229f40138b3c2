"""The service territory through the API: a swapped area is refused whatever the customer data
holds, a configured TERRITORY refuses areas and customers outside it, and customers far from
all others are reported on import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.api.test_errors import assert_error, counts
from tests.town import COLS, ROWS, _lat, _lon, box, cells, customer, ids, town


def swapped(col: int, row: int, customer_id: str) -> dict[str, Any]:
    """A town customer's row with lat and lon exchanged, under another id."""
    right = customer(col, row)
    return {**right, "customer_id": customer_id, "lat": right["lon"], "lon": right["lat"]}


def swapped_cells(col0: int, row0: int, col1: int, row1: int) -> dict[str, Any]:
    """cells(...) as someone would send it with [lat, lon] positions."""
    return box(_lat(row0), _lon(col0), _lat(row1), _lon(col1))


def post_customers(client: TestClient, keys: dict, rows: list[dict[str, Any]]) -> Any:
    answer = client.post("/api/v1/customers", json=rows, headers=keys["admin"])
    assert answer.status_code == 200, answer.text
    return answer.json()


def post_area(client: TestClient, keys: dict, external_id: str, area: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/incidents",
        json={"external_id": external_id, "area": area},
        headers=keys["operator"],
    )


def affected_ids(client: TestClient, keys: dict, incident_id: str) -> set[str]:
    client.app.state.runtime.planner.drain()  # type: ignore[attr-defined]
    found = set()
    for col in range(COLS):
        for row in range(ROWS):
            detail = client.get(f"/api/v1/customers/C-{col}-{row}", headers=keys["agent"]).json()
            if incident_id in {i["id"] for i in detail["current_incidents"]}:
                found.add(f"C-{col}-{row}")
    return found


# ---- a swapped area -------------------------------------------------------------------------------


def test_a_swapped_area_is_422_even_when_a_swapped_customer_widens_the_customers_box(
    client: TestClient, runtime: Runtime, keys: dict
) -> None:
    """The issue's case: the swapped row stretches the customers' bounding box over the
    swapped area, which reaches no one as given."""
    post_customers(client, keys, [*town(), swapped(0, ROWS - 1, "C-SWAPPED")])
    before = counts(runtime)
    answer = post_area(client, keys, "SW-1", swapped_cells(0, 0, 4, 2))
    assert_error(answer, 422, "as given it reaches 0 customers")
    assert "lon and lat exchanged it would reach 15" in answer.json()["error"]["message"]
    assert "[lon, lat]" in answer.json()["error"]["message"]
    assert counts(runtime) == before
    made = post_area(client, keys, "OK-1", cells(0, 0, 4, 2))
    assert made.status_code == 201, made.text
    assert affected_ids(client, keys, made.json()["id"]) == ids(0, 0, 4, 2)


def test_a_swapped_area_is_422_even_with_swapped_customers_right_under_it(
    client: TestClient, runtime: Runtime, keys: dict
) -> None:
    batch = [swapped(col, row, f"S-{col}-{row}") for col in range(3) for row in range(ROWS)]
    assert len(batch) == 15
    post_customers(client, keys, [*town(), *batch])
    before = counts(runtime)
    answer = post_area(client, keys, "SW-2", swapped_cells(0, 0, 4, 4))
    assert_error(answer, 422, "as given it reaches 15 customers")
    assert counts(runtime) == before

    made = post_area(client, keys, "OK-2", cells(5, 0, 9, 4))
    assert made.status_code == 201, made.text
    assert made.json()["affected_customers"] == 25
    assert affected_ids(client, keys, made.json()["id"]) == ids(5, 0, 9, 4)


def test_an_area_whose_mirror_holds_only_swapped_rows_is_accepted(
    client: TestClient, keys: dict
) -> None:
    """The mirror of a right area may land on customers whose own rows are swapped: those do
    not make the right area look swapped."""
    batch = [swapped(col, row, f"S-{col}-{row}") for col in range(3) for row in range(ROWS)]
    post_customers(client, keys, [*town(), *batch])
    made = post_area(client, keys, "OK-3", cells(0, 0, 2, 4))
    assert made.status_code == 201, made.text
    assert affected_ids(client, keys, made.json()["id"]) == ids(0, 0, 2, 4)


# ---- a configured territory -----------------------------------------------------------------------


def territory_client(make_settings: Any, territory: str) -> tuple[TestClient, Runtime, dict]:
    runtime = Runtime.build(make_settings(territory=territory))
    with runtime.transaction() as session:
        headers = {}
        for role in ("admin", "operator"):
            _, key = create_key(session, role=role, name=role, now=utcnow())
            headers[role] = {"Authorization": f"Bearer {key}"}
    return TestClient(create_app(runtime=runtime)), runtime, headers


HELSINKI_FILE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Helsinki"},
            "geometry": box(24.5, 60.0, 25.5, 60.5),
        }
    ],
}


@pytest.fixture(params=["box", "geojson"])
def territory(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "box":
        return "24.5,60.0,25.5,60.5"
    path = tmp_path / "territory.geojson"
    path.write_text(json.dumps(HELSINKI_FILE), encoding="utf-8")
    return str(path)


def test_a_configured_territory_refuses_customers_and_areas_outside_it(
    make_settings: Any, territory: str
) -> None:
    client, runtime, keys = territory_client(make_settings, territory)
    with client:
        answer = post_customers(
            client, keys, [*town(), swapped(0, 0, "C-SWAPPED"), customer(0, 0, customer_id="T")]
        )
        assert answer["created"] == 51
        assert [(r["index"], r["customer_id"]) for r in answer["rejected"]] == [(50, "C-SWAPPED")]
        assert "outside the service territory" in answer["rejected"][0]["error"]
        assert "swapped" in answer["rejected"][0]["error"]
        assert answer.get("warnings", []) == []

        outside = post_area(client, keys, "X-1", box(26.0, 61.0, 26.5, 61.5))  # Mikkeli
        assert_error(outside, 422, "outside the service territory")
        made = post_area(client, keys, "OK-1", cells(0, 0, 1, 1))
        assert made.status_code == 201 and made.json()["affected_customers"] == 5
    runtime.close()


# ---- strays reported on import ----------------------------------------------------------------


def big_town() -> list[dict[str, Any]]:
    """200 customers, so that one lone row counts as stray (fewer than 1 % of them)."""
    return [
        customer(
            0, 0, customer_id=f"B-{i}", lon=24.90 + (i % 20) * 0.005, lat=60.15 + i // 20 * 0.005
        )
        for i in range(200)
    ]


def test_customers_far_outside_the_derived_territory_are_reported_as_warnings(
    client: TestClient, keys: dict
) -> None:
    first = post_customers(client, keys, big_town())
    assert first["warnings"] == []
    lone = {**customer(0, 0), "customer_id": "WALK-9", "lat": 24.95, "lon": 60.17}
    answer = post_customers(client, keys, [customer(1, 1, customer_id="B-NEAR"), lone])
    assert answer["created"] == 2 and answer["rejected"] == []
    assert answer["warnings"] == [
        {
            "customer_id": "WALK-9",
            "warning": "WALK-9 lies far outside the territory "
            "(lat 24.95, lon 60.17: are lat and lon swapped?)",
        }
    ]


def test_a_customer_moved_away_no_longer_counts_where_it_stood(
    client: TestClient, keys: dict
) -> None:
    """Rows corrected by a later import leave their old place: the one row left there is a
    stray again (1,000 customers: a group of fewer than 10 is stray)."""
    bare = [
        {"customer_id": f"T-{i}", "lon": 24.90 + i % 40 * 0.0025, "lat": 60.15 + i // 40 * 0.002}
        for i in range(1000)
    ]
    assert post_customers(client, keys, bare)["warnings"] == []
    swapped_rows = [
        {"customer_id": f"M-{i}", "lon": 60.17, "lat": 24.95 + i * 0.001} for i in range(9)
    ]
    warned = post_customers(client, keys, swapped_rows)["warnings"]
    assert [w["customer_id"] for w in warned] == [f"M-{i}" for i in range(9)]
    corrected = [{**row, "lon": row["lat"], "lat": row["lon"]} for row in swapped_rows]
    lone = {"customer_id": "Z", "lon": 60.17, "lat": 24.95}
    answer = post_customers(client, keys, [*corrected, lone])
    assert answer["updated"] == 9 and answer["created"] == 1
    assert [w["customer_id"] for w in answer["warnings"]] == ["Z"]


def test_an_accepted_area_is_not_checked_again_when_the_incident_closes(
    client: TestClient, keys: dict
) -> None:
    """Customers move on (here: all re-imported 2° east), so the area no longer meets the
    territory; restoring the incident must still work, while a new area is checked."""
    post_customers(client, keys, town())
    made = post_area(client, keys, "R-1", cells(0, 0, 1, 1))
    assert made.status_code == 201, made.text
    post_customers(client, keys, [{**row, "lon": row["lon"] + 2} for row in town()])
    path = f"/api/v1/incidents/{made.json()['id']}"
    moved = client.patch(path, json={"area": cells(0, 0, 2, 2)}, headers=keys["operator"])
    assert_error(moved, 422, "outside the service territory")
    restored = client.patch(path, json={"status": "restored"}, headers=keys["operator"])
    assert restored.status_code == 200, restored.text
    assert restored.json()["status"] == "restored"


def test_a_batch_of_swapped_rows_too_big_to_be_stray_is_still_reported(
    client: TestClient, keys: dict
) -> None:
    post_customers(client, keys, big_town())
    batch = [
        {**row, "customer_id": f"S-{i}", "lat": row["lon"], "lon": row["lat"]}
        for i, row in enumerate(big_town()[:30])  # 30 rows: a group of its own, not stray
    ]
    answer = post_customers(client, keys, batch)
    assert answer["created"] == 30
    warned = {w["customer_id"] for w in answer["warnings"]}
    assert warned == {f"S-{i}" for i in range(30)}
    assert all("are lat and lon swapped?" in w["warning"] for w in answer["warnings"])


@pytest.mark.postgresql_only(reason="PostgreSQL counts the territory's cells itself")
def test_on_postgresql_an_import_counts_cells_in_the_database_not_from_every_point(
    client: TestClient, keys: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outage_notify.matching import index_cache

    def refuse(_: object) -> None:
        raise AssertionError("every customer's point was read into the process")

    monkeypatch.setattr(index_cache, "load_points", refuse)
    post_customers(client, keys, big_town())
    lone = {**customer(0, 0), "customer_id": "WALK-9", "lat": 24.95, "lon": 60.17}
    answer = post_customers(client, keys, [lone])
    assert [w["customer_id"] for w in answer["warnings"]] == ["WALK-9"]
