"""TERRITORY is checked when the settings load: a box, or a GeoJSON file that must be there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from pydantic import ValidationError

from outage_notify.config import Settings


def test_unset_or_blank_territory_is_derived() -> None:
    assert Settings(territory=None).territory_area is None
    assert Settings(territory="  ").territory_area is None


def test_a_box_territory() -> None:
    territory = Settings(territory="19.0,59.5,31.6,70.1").territory_area
    assert territory is not None
    assert territory.area.equals(shapely.box(19.0, 59.5, 31.6, 70.1))


def test_a_geojson_file_territory(tmp_path: Path) -> None:
    path = tmp_path / "area.geojson"
    path.write_text(json.dumps(json.loads(shapely.to_geojson(shapely.box(24, 60, 26, 61)))))
    territory = Settings(territory=str(path)).territory_area
    assert territory is not None
    assert territory.area.equals(shapely.box(24, 60, 26, 61))


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("19.0,59.5,31.6", "minlon,minlat,maxlon,maxlat"),
        ("31.6,59.5,19.0,70.1", "WGS 84"),
        ("/no/such/territory.geojson", "/no/such/territory.geojson does not exist"),
    ],
)
def test_a_bad_territory_stops_the_settings_from_loading(value: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        Settings(territory=value)


def test_a_territory_file_with_no_polygon_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "point.geojson"
    path.write_text('{"type": "Point", "coordinates": [25, 60]}', encoding="utf-8")
    with pytest.raises(ValidationError, match="Polygon"):
        Settings(territory=str(path))
