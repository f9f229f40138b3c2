"""MAP_OUTLINES: the demo town's districts name the map's areas; a bad file stops start-up
with the reason; MAP_TILE_URL must be a tile template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from shapely.geometry import box

from outage_notify.config import Settings
from outage_notify.public.outlines import read_outlines


def test_the_demo_town_s_districts_name_areas() -> None:
    outlines = read_outlines()
    assert len(outlines.areas) == 11  # the districts (not the municipality)
    centre = box(25.660, 60.392, 25.662, 60.394)
    assert outlines.names_for(centre) == ["Keskusta – Centrum"]
    across = box(25.655, 60.390, 25.675, 60.400)
    assert len(outlines.names_for(across)) == 3  # at most three, the largest parts first
    assert outlines.names_for(box(10, 10, 11, 11)) == []
    assert outlines.names_for(None) == []


def test_without_districts_the_other_areas_name(tmp_path: Path) -> None:
    path = _write(tmp_path, [_area("Porvoo", kind="municipality")])
    assert read_outlines(path).names_for(box(25.6, 60.35, 25.7, 60.4)) == ["Porvoo"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not JSON"),
        (json.dumps({"type": "Feature"}).encode(), "must be a GeoJSON FeatureCollection"),
        (json.dumps({"type": "FeatureCollection", "features": 3}).encode(), "must be a list"),
        (None, "cannot be read"),
    ],
)
def test_a_bad_file_is_refused_with_the_reason(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "outlines.geojson"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=reason):
        read_outlines(path)


def test_each_area_needs_a_name_and_a_polygon(tmp_path: Path) -> None:
    unnamed = _area("")
    with pytest.raises(ValueError, match="feature 0: an area needs a `name`"):
        read_outlines(_write(tmp_path, [unnamed]))
    point = {
        "type": "Feature",
        "properties": {"name": "x"},
        "geometry": {"type": "Point", "coordinates": [25, 60]},
    }
    with pytest.raises(ValueError, match="feature 1: geometry must be a polygon or a line"):
        read_outlines(_write(tmp_path, [_area("a"), point]))


def test_settings_check_the_outlines_and_the_tile_template(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="map_outlines"):
        Settings(map_outlines=str(tmp_path / "missing.geojson"))
    good = _write(tmp_path, [_area("Porvoo")])
    assert Settings(map_outlines=good).map_outlines == good
    for bad in ("ftp://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org/tile.png"):
        with pytest.raises(ValidationError, match=r"\{z\}, \{x\} and \{y\}"):
            Settings(map_tile_url=bad)
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    assert Settings(map_tile_url=url).map_tile_url == url
    assert Settings(map_tile_url="  ").map_tile_url is None


def _area(name: str, *, kind: str = "district") -> dict:
    return {
        "type": "Feature",
        "properties": {"name": name, "kind": kind},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[25.5, 60.3], [25.8, 60.3], [25.8, 60.5], [25.5, 60.3]]],
        },
    }


def _write(folder: Path, features: list[dict]) -> str:
    path = folder / "outlines.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return str(path)
