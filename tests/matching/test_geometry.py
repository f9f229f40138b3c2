"""parse_area / area_to_geojson: GeoJSON in, a valid WGS 84 (Multi)Polygon out, or AreaError."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import shapely
import shapely.errors
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon

from outage_notify.matching.geometry import (
    AreaError,
    area_to_geojson,
    intersects_box,
    parse_area,
    to_wgs84_points,
)

FAST = settings(max_examples=150, deadline=None, database=None)

# Helsinki railway station: the same place in ETRS-TM35FIN (EPSG:3067) and in WGS 84.
STATION_3067 = (385800.0, 6672400.0)
STATION_WGS84 = (24.94, 60.17)


def ring(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def feature(geometry: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {}, "geometry": geometry}


def collection(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


SQUARE = polygon(ring(24.0, 60.0, 25.0, 61.0))
# A self-intersecting "bow-tie": two triangles meeting at (1, 1), each of area 1.
BOW_TIE = polygon([[0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
BOW_TIE_AREA = 2.0


# ---- accepted shapes ---------------------------------------------------------------------------


def test_polygon_is_returned_as_is() -> None:
    area = parse_area(SQUARE)
    assert isinstance(area, Polygon)
    assert area.is_valid
    assert area.area == pytest.approx(1.0)
    assert area.bounds == (24.0, 60.0, 25.0, 61.0)


def test_polygon_keeps_its_hole() -> None:
    area = parse_area(polygon(ring(0, 0, 4, 4), ring(1, 1, 2, 2)))
    assert isinstance(area, Polygon)
    assert len(area.interiors) == 1
    assert area.area == pytest.approx(16 - 1)
    assert not area.intersects(Point(1.5, 1.5))


def test_multipolygon_keeps_every_part() -> None:
    area = parse_area(
        {"type": "MultiPolygon", "coordinates": [[ring(0, 0, 1, 1)], [ring(5, 5, 7, 7)]]}
    )
    assert isinstance(area, MultiPolygon)
    assert len(area.geoms) == 2
    assert area.area == pytest.approx(1 + 4)


def test_feature_is_unwrapped() -> None:
    area = parse_area(feature(SQUARE))
    assert area.equals(parse_area(SQUARE))


def test_feature_collection_of_disjoint_polygons_is_their_multipolygon() -> None:
    area = parse_area(collection(feature(polygon(ring(0, 0, 1, 1))), feature(SQUARE)))
    assert isinstance(area, MultiPolygon)
    assert area.area == pytest.approx(2.0)
    assert area.intersects(Point(0.5, 0.5)) and area.intersects(Point(24.5, 60.5))


def test_feature_collection_of_overlapping_polygons_is_their_union() -> None:
    area = parse_area(
        collection(feature(polygon(ring(0, 0, 2, 2))), feature(polygon(ring(1, 1, 3, 3))))
    )
    assert isinstance(area, Polygon)
    assert area.area == pytest.approx(4 + 4 - 1)


def test_feature_collection_with_a_multipolygon_feature() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [[ring(0, 0, 1, 1)], [ring(3, 3, 4, 4)]]}
    area = parse_area(collection(feature(multi), feature(polygon(ring(10, 10, 11, 11)))))
    assert area.area == pytest.approx(3.0)
    assert isinstance(area, MultiPolygon) and len(area.geoms) == 3


def test_third_coordinate_is_dropped() -> None:
    area = parse_area(polygon([[0, 0, 5], [1, 0, 5], [1, 1, 5], [0, 1, 5], [0, 0, 5]]))
    assert not area.has_z
    assert area.area == pytest.approx(1.0)


def test_integer_coordinates_are_accepted() -> None:
    assert parse_area(polygon(ring(0, 0, 1, 1))).area == pytest.approx(1.0)


# ---- made valid, never dropping parts ----------------------------------------------------------


def test_bow_tie_keeps_both_lobes() -> None:
    area = parse_area(BOW_TIE)
    assert area.is_valid
    assert isinstance(area, MultiPolygon)
    assert len(area.geoms) == 2
    assert area.area == pytest.approx(BOW_TIE_AREA)
    # a point deep inside each lobe is still inside
    assert area.intersects(Point(0.4, 1.0))
    assert area.intersects(Point(1.6, 1.0))
    assert not area.intersects(Point(1.0, 0.4))  # between the lobes: never was inside


def test_bow_tie_inside_a_multipolygon_keeps_both_lobes_and_the_other_part() -> None:
    multi = {
        "type": "MultiPolygon",
        "coordinates": [BOW_TIE["coordinates"], [ring(10, 10, 11, 11)]],
    }
    area = parse_area(multi)
    assert area.is_valid
    assert area.area == pytest.approx(BOW_TIE_AREA + 1)


def test_bow_tie_in_a_feature_keeps_both_lobes() -> None:
    area = parse_area(feature(BOW_TIE))
    assert area.is_valid and area.area == pytest.approx(BOW_TIE_AREA)


def test_feature_collection_with_a_bow_tie_is_made_valid_keeping_every_part() -> None:
    area = parse_area(collection(feature(BOW_TIE), feature(polygon(ring(10, 10, 11, 11)))))
    assert area.is_valid
    assert area.area == pytest.approx(BOW_TIE_AREA + 1)


@pytest.mark.parametrize(
    ("parts", "union_area", "inside_both"),
    [
        ([ring(0, 0, 2, 2), ring(1, 1, 3, 3)], 7.0, (1.5, 1.5)),
        ([ring(0, 0, 4, 4), ring(1, 1, 2, 2)], 16.0, (1.5, 1.5)),
    ],
    ids=["overlapping", "nested"],
)
def test_overlapping_multipolygon_parts_are_merged_not_dropped(
    parts: list[list[list[float]]], union_area: float, inside_both: tuple[float, float]
) -> None:
    area = parse_area({"type": "MultiPolygon", "coordinates": [[p] for p in parts]})
    assert area.is_valid
    assert area.intersects(Point(*inside_both))
    assert area.area == pytest.approx(union_area)


def test_overlapping_parts_as_features_are_merged() -> None:
    # The control for the test above: the same two squares as Features are unioned.
    squares = [feature(polygon(ring(0, 0, 2, 2))), feature(polygon(ring(1, 1, 3, 3)))]
    area = parse_area(collection(*squares))
    assert area.intersects(Point(1.5, 1.5))
    assert area.area == pytest.approx(7.0)


def test_identical_multipolygon_parts_collapse_to_one() -> None:
    area = parse_area({"type": "MultiPolygon", "coordinates": [[ring(0, 0, 2, 2)]] * 2})
    assert area.is_valid
    assert area.area == pytest.approx(4.0)


@FAST
@given(
    x=st.integers(-170, 160),
    y=st.integers(-80, 70),
    w=st.integers(1, 10),
    h=st.integers(1, 10),
)
def test_any_bow_tie_keeps_both_triangles(x: int, y: int, w: int, h: int) -> None:
    coords = [[x, y], [x + w, y + h], [x + w, y], [x, y + h], [x, y]]
    area = parse_area(polygon(coords))
    assert area.is_valid
    assert area.area == pytest.approx(w * h / 2)  # two triangles of w*h/4 each
    assert isinstance(area, MultiPolygon) and len(area.geoms) == 2


# ---- refused ---------------------------------------------------------------------------------


def refused(geojson: Any) -> str:
    with pytest.raises(AreaError) as info:
        parse_area(geojson)
    message = str(info.value)
    assert message, "an AreaError must say why"
    return message


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [24.9, 60.1]},
        {"type": "LineString", "coordinates": [[24.9, 60.1], [25.0, 60.2]]},
        {"type": "MultiPoint", "coordinates": [[24.9, 60.1]]},
        {"type": "GeometryCollection", "geometries": [SQUARE]},
    ],
    ids=lambda g: g["type"],
)
def test_non_polygon_geometry_is_refused_naming_its_type(geometry: dict[str, Any]) -> None:
    message = refused(geometry)
    assert "Polygon or MultiPolygon" in message
    assert geometry["type"] in message


def test_point_feature_is_refused() -> None:
    assert "Point" in refused(feature({"type": "Point", "coordinates": [24.9, 60.1]}))


def test_a_point_among_polygons_in_a_collection_is_refused() -> None:
    point = {"type": "Point", "coordinates": [24.9, 60.1]}
    assert "Point" in refused(collection(feature(SQUARE), feature(point)))


@pytest.mark.parametrize("value", [None, "POLYGON((0 0,1 0,1 1,0 0))", [SQUARE], 5])
def test_non_object_is_refused(value: Any) -> None:
    assert "GeoJSON object" in refused(value)


def test_missing_type_is_refused() -> None:
    refused({"coordinates": SQUARE["coordinates"]})


@pytest.mark.parametrize(
    "coordinates",
    [
        ring(-181, 60, -179, 61),
        ring(179, 60, 181, 61),
        ring(24, 89, 25, 91),
        ring(24, -91, 25, -89),
        # lat, lon swapped *and* projected metres: both well out of range
        ring(385700, 6672300, 385900, 6672500),
    ],
)
def test_coordinates_out_of_range_are_refused(coordinates: list[list[float]]) -> None:
    message = refused(polygon(coordinates))
    assert "out of range" in message
    assert "[lon, lat]" in message


def test_coordinates_at_the_limits_are_accepted() -> None:
    area = parse_area(polygon(ring(-180, -90, 180, 90)))
    assert area.bounds == (-180.0, -90.0, 180.0, 90.0)


@pytest.mark.parametrize(
    "coordinates",
    [
        [[[0, 0], [1, 0], [0, 0]]],
        [[[0, 0], [1, 1], [0, 0]]],
        [[[0, 0]]],
        [ring(0, 0, 2, 2), [[0.5, 0.5], [1, 1], [0.5, 0.5]]],  # a short hole
    ],
)
def test_ring_with_fewer_than_four_positions_is_refused(coordinates: Any) -> None:
    assert "at least 4 positions" in refused(polygon(*coordinates))


def test_short_ring_inside_a_multipolygon_is_refused() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [[ring(0, 0, 1, 1)], [[[0, 0], [1, 1]]]]}
    assert "at least 4 positions" in refused(multi)


@pytest.mark.parametrize(
    "bad",
    [
        "24.5",
        None,
        True,
        False,
        math.nan,
        math.inf,
        -math.inf,
        [24.5],
        {"lon": 24.5},
    ],
    ids=repr,
)
def test_non_numeric_or_non_finite_coordinate_is_refused(bad: Any) -> None:
    coords = ring(24, 60, 25, 61)
    coords[1] = [bad, 60]
    assert "finite numbers" in refused(polygon(coords))
    coords[1] = [25, bad]
    assert "finite numbers" in refused(polygon(coords))


@pytest.mark.parametrize(
    "position", [[24.5], [24.5, 60.5, 1.0, 2.0], "24.5,60.5", 24.5, {"x": 1}], ids=repr
)
def test_malformed_position_is_refused(position: Any) -> None:
    coords: list[Any] = ring(24, 60, 25, 61)
    coords[2] = position
    message = refused(polygon(coords))
    assert "[lon, lat]" in message or "nested lists" in message


@pytest.mark.parametrize(
    "geojson",
    [
        {"type": "Polygon"},
        {"type": "Polygon", "coordinates": None},
        {"type": "Polygon", "coordinates": []},
        {"type": "Polygon", "coordinates": [[]]},
        {"type": "MultiPolygon", "coordinates": []},
        {"type": "MultiPolygon", "coordinates": [[]]},
        {"type": "MultiPolygon", "coordinates": [[[]]]},
        {"type": "Polygon", "coordinates": "0 0, 1 0, 1 1, 0 0"},
    ],
    ids=repr,
)
def test_empty_or_non_list_coordinates_are_refused(geojson: dict[str, Any]) -> None:
    assert "empty or not nested lists" in refused(geojson)


def test_positions_of_mixed_dimension_are_refused_with_a_reason() -> None:
    coords = [[0, 0, 1], [1, 0], [1, 1], [0, 1], [0, 0, 1]]
    assert "do not form a polygon" in refused(polygon(coords))


@pytest.mark.parametrize(
    "coordinates",
    [
        [[0, 0], [0, 0], [0, 0], [0, 0]],  # one point four times
        [[0, 0], [1, 1], [2, 2], [0, 0]],  # collinear: a line there and back
        [[0, 0], [1, 0], [0, 0], [1, 0]],  # a spike
        [[24, 60], [25, 60], [26, 60], [25, 60], [24, 60]],
    ],
)
def test_zero_area_polygon_is_refused(coordinates: list[list[float]]) -> None:
    assert "no extent" in refused(polygon(coordinates))


def test_empty_feature_collection_is_refused() -> None:
    assert "no polygon" in refused(collection())


def test_feature_without_geometry_is_refused() -> None:
    assert "no geometry" in refused({"type": "Feature", "geometry": None, "properties": {}})


def test_feature_collection_without_a_features_list_is_refused() -> None:
    assert "features" in refused({"type": "FeatureCollection", "features": None})


# ---- legacy "crs" member -------------------------------------------------------------------------


def crs(name: str) -> dict[str, Any]:
    return {"type": "name", "properties": {"name": name}}


def square_around(x: float, y: float, half: float) -> list[list[float]]:
    return ring(x - half, y - half, x + half, y + half)


@pytest.mark.parametrize("name", ["EPSG:3067", "urn:ogc:def:crs:EPSG::3067"])
def test_epsg_3067_area_is_transformed_to_wgs84(name: str) -> None:
    geojson = polygon(square_around(*STATION_3067, 100.0)) | {"crs": crs(name)}
    area = parse_area(geojson)
    centre = area.centroid
    assert centre.x == pytest.approx(STATION_WGS84[0], abs=0.01)
    assert centre.y == pytest.approx(STATION_WGS84[1], abs=0.01)
    # 200 m x 200 m is about 0.0036 degrees of longitude and 0.0018 of latitude at 60 N
    minx, miny, maxx, maxy = area.bounds
    assert maxx - minx == pytest.approx(200 / (111_320 * math.cos(math.radians(60.17))), rel=0.05)
    assert maxy - miny == pytest.approx(200 / 111_320, rel=0.05)


def test_crs_on_a_feature_collection_transforms_every_feature() -> None:
    x, y = STATION_3067
    geojson = collection(
        feature(polygon(square_around(x, y, 50))),
        feature(polygon(square_around(x + 10_000, y, 50))),
    ) | {"crs": crs("EPSG:3067")}
    area = parse_area(geojson)
    assert isinstance(area, MultiPolygon)
    minx, miny, maxx, maxy = area.bounds
    assert -180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90
    assert miny == pytest.approx(60.17, abs=0.01)


def test_to_wgs84_points_transforms_the_station() -> None:
    lon, lat = to_wgs84_points(STATION_3067[0], STATION_3067[1], "EPSG:3067")
    assert float(lon) == pytest.approx(STATION_WGS84[0], abs=0.01)
    assert float(lat) == pytest.approx(STATION_WGS84[1], abs=0.01)


@pytest.mark.parametrize(
    "name", ["EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326"]
)
def test_wgs84_crs_member_leaves_coordinates_alone(name: str) -> None:
    area = parse_area(SQUARE | {"crs": crs(name)})
    assert area.bounds == (24.0, 60.0, 25.0, 61.0)


def test_unknown_crs_is_refused() -> None:
    assert "unknown coordinate reference system" in refused(SQUARE | {"crs": crs("EPSG:99999")})


def test_crs_member_without_a_name_is_refused() -> None:
    assert "crs" in refused(SQUARE | {"crs": {"type": "link", "properties": {}}})


def test_projected_area_outside_the_projection_is_refused_as_out_of_range() -> None:
    # Metres far beyond the projection's domain transform to no usable degrees.
    geojson = polygon(ring(1e12, 1e12, 2e12, 2e12)) | {"crs": crs("EPSG:3067")}
    assert "out of range" in refused(geojson)


# ---- canonical GeoJSON ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "geojson",
    [SQUARE, BOW_TIE, polygon(ring(0, 0, 4, 4), ring(1, 1, 2, 2)), collection(feature(SQUARE))],
    ids=["square", "bow-tie", "with-hole", "collection"],
)
def test_area_to_geojson_survives_a_json_round_trip(geojson: dict[str, Any]) -> None:
    canonical = area_to_geojson(parse_area(geojson))
    assert json.loads(json.dumps(canonical)) == canonical
    assert canonical["type"] in ("Polygon", "MultiPolygon")
    assert isinstance(canonical["coordinates"], list)
    assert isinstance(canonical["coordinates"][0], list)


@pytest.mark.parametrize(
    "geojson",
    [
        SQUARE,
        BOW_TIE,
        {"type": "MultiPolygon", "coordinates": [[ring(0, 0, 1, 1)], [ring(5, 5, 6, 6)]]},
    ],
    ids=["square", "bow-tie", "multipolygon"],
)
def test_area_to_geojson_reparses_to_the_same_shape(geojson: dict[str, Any]) -> None:
    area = parse_area(geojson)
    again = parse_area(area_to_geojson(area))
    assert again.equals(area)  # the same point set (ring order may differ)
    assert again.area == pytest.approx(area.area)


def test_same_area_posted_twice_reads_as_unchanged() -> None:
    assert area_to_geojson(parse_area(BOW_TIE)) == area_to_geojson(parse_area(BOW_TIE))


@FAST
@given(
    lon=st.floats(-179.0, 178.0, allow_nan=False),
    lat=st.floats(-89.0, 88.0, allow_nan=False),
    width=st.floats(1e-4, 1.0),
    height=st.floats(1e-4, 1.0),
)
def test_any_valid_rectangle_round_trips(
    lon: float, lat: float, width: float, height: float
) -> None:
    coords = ring(lon, lat, lon + width, lat + height)
    area = parse_area(polygon(coords))
    assert isinstance(area, Polygon)
    expected = shapely.box(lon, lat, lon + width, lat + height).area
    assert area.area == pytest.approx(expected, rel=1e-9)
    canonical = area_to_geojson(area)
    assert json.loads(json.dumps(canonical)) == canonical
    again = parse_area(canonical)
    assert again.area == pytest.approx(area.area, rel=1e-12)
    assert again.equals(area)


# ---- intersects_box ----------------------------------------------------------------------------


def test_intersects_box() -> None:
    area = parse_area(SQUARE)
    assert intersects_box(area, (24.5, 60.5, 26.0, 62.0))
    assert intersects_box(area, (25.0, 61.0, 26.0, 62.0))  # touching at a corner counts
    assert not intersects_box(area, (60.0, 24.0, 61.0, 25.0))  # lat/lon swapped
