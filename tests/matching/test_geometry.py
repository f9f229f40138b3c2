"""parse_area / area_to_geojson: GeoJSON in, a valid WGS 84 (Multi)Polygon out, or AreaError."""

from __future__ import annotations

import itertools
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


# ---- vertex limit --------------------------------------------------------------------------------


def regular_ring(vertices: int, cx: float = 24.9, cy: float = 60.2, r: float = 0.1) -> list:
    turns = [2 * math.pi * i / vertices for i in range(vertices)]
    points = [[cx + r * math.cos(t), cy + r * math.sin(t)] for t in turns]
    return [*points, points[0]]


def test_an_area_at_the_vertex_limit_is_accepted() -> None:
    area = parse_area(polygon(regular_ring(40)), max_vertices=40)
    assert len(area.exterior.coords) == 41  # 40 vertices and the closing repeat


def test_an_area_over_the_vertex_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(AreaError, match="more than 40 vertices"):
        parse_area(polygon(regular_ring(41)), max_vertices=40)


def test_vertices_are_counted_across_every_ring_and_feature() -> None:
    twenty = feature(polygon(regular_ring(20)))
    holed = feature(polygon(ring(0, 0, 4, 4), ring(1, 1, 2, 2)))  # 4 + 4 vertices
    parse_area(collection(twenty, holed), max_vertices=28)
    with pytest.raises(AreaError, match="more than 27 vertices"):
        parse_area(collection(twenty, holed), max_vertices=27)


def test_the_vertex_limit_is_checked_before_any_geometry_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_geometry(*_: Any, **__: Any) -> None:
        raise AssertionError("a shapely geometry was built for an area over the limit")

    monkeypatch.setattr("outage_notify.matching.geometry.shapely.polygons", no_geometry)
    with pytest.raises(AreaError, match="vertices"):
        parse_area(polygon(regular_ring(100)), max_vertices=50)


# ---- foreign members, crs and bbox ---------------------------------------------------------------


@pytest.mark.parametrize(
    "geojson",
    [
        SQUARE | {"properties": {}},
        SQUARE | {"geometry": SQUARE},
        SQUARE | {"radius": 10},
        feature(SQUARE) | {"features": []},
        feature(SQUARE) | {"coordinates": SQUARE["coordinates"]},
        collection(feature(SQUARE)) | {"geometry": SQUARE},
        collection(feature(SQUARE)) | {"properties": {}},
        collection(feature(SQUARE | {"extra": 1})),
        collection(feature(SQUARE) | {"style": "red"}),
    ],
    ids=repr,
)
def test_an_area_with_foreign_members_is_refused_naming_them(geojson: dict[str, Any]) -> None:
    message = refused(geojson)
    assert "member" in message


@pytest.mark.parametrize(
    "geojson",
    [
        SQUARE | {"bbox": [24.0, 60.0, 25.0, 61.0]},
        feature(SQUARE) | {"id": "F-1", "bbox": [24.0, 60.0, 0.0, 25.0, 61.0, 0.0]},
        collection(feature(SQUARE)) | {"bbox": [24, 60, 25, 61]},
    ],
    ids=["geometry", "feature", "collection"],
)
def test_the_members_geojson_defines_are_accepted(geojson: dict[str, Any]) -> None:
    assert parse_area(geojson).equals(parse_area(SQUARE))


@pytest.mark.parametrize(
    "bbox",
    [None, "24,60,25,61", [24, 60, 25], [24, 60, 25, 61, 0], [24, 60, 25, math.nan], [True] * 4],
    ids=repr,
)
def test_a_malformed_bbox_is_refused(bbox: Any) -> None:
    assert "bbox" in refused(SQUARE | {"bbox": bbox})


@pytest.mark.parametrize(
    "member",
    [
        None,
        "EPSG:3067",
        ["EPSG:3067"],
        {"type": "name"},
        {"type": "name", "properties": None},
        {"type": "name", "properties": {"name": 3067}},
        {"type": "link", "properties": {"href": "http://example.com/crs", "type": "proj4"}},
        {"type": "EPSG", "properties": {"code": 3067}},
        {"properties": {"name": "EPSG:3067"}},
        {"type": "name", "properties": {"name": "EPSG:3067", "extra": 1}},
        {"type": "name", "properties": {"name": "EPSG:3067"}, "extra": 1},
        {"type": "name", "properties": {"name": "not a crs at all"}},
    ],
    ids=repr,
)
def test_a_malformed_crs_is_refused(member: Any) -> None:
    assert "crs" in refused(SQUARE | {"crs": member}).lower()


def test_a_crs_on_a_feature_applies_to_its_geometry() -> None:
    x, y = STATION_3067
    projected = feature(polygon(square_around(x, y, 100))) | {"crs": crs("EPSG:3067")}
    area = parse_area(collection(projected, feature(polygon(ring(24.0, 60.0, 24.1, 60.1)))))
    assert area.intersects(Point(*STATION_WGS84).buffer(0.01))
    assert area.intersects(Point(24.05, 60.05))
    assert area.bounds[0] >= -180 and area.bounds[2] <= 180


# ---- hostile shapes ------------------------------------------------------------------------------


def zig_zag(vertices: int) -> list[list[float]]:
    """A forward zig-zag (an even count ends it on a peak) closed by one long edge back to its
    start: the closing edge crosses every tooth, so each tooth becomes a lobe of its own."""
    points = [[24.0 + 0.001 * i, 60.0 + 0.01 * (i % 2)] for i in range(vertices)]
    return [*points, points[0]]


def test_a_self_crossing_zig_zag_keeps_every_tooth() -> None:
    coords = zig_zag(200)
    area = parse_area(polygon(coords))
    assert area.is_valid
    expected = shapely.make_valid(Polygon(coords))  # no loop overlaps another here
    assert area.symmetric_difference(expected).area == pytest.approx(0.0, abs=1e-15)
    assert area.area == pytest.approx(expected.area, rel=1e-9)


def test_a_zig_zag_whose_closing_edge_crosses_thousands_of_teeth_is_repaired() -> None:
    area = parse_area(polygon(zig_zag(4000)))
    assert area.is_valid
    assert isinstance(area, MultiPolygon) and len(area.geoms) >= 3000


def star_polygon(points: int, step: int) -> list[list[float]]:
    """{points/step}: with step near points/2 every edge crosses almost every other."""
    turns = [2 * math.pi * (i * step % points) / points for i in range(points)]
    ring_ = [[24.9 + 0.1 * math.cos(t), 60.2 + 0.1 * math.sin(t)] for t in turns]
    return [*ring_, ring_[0]]


def test_an_area_whose_edges_cross_each_other_quadratically_is_refused() -> None:
    message = refused(polygon(star_polygon(301, 150)))
    assert "crosses itself" in message


def test_a_pentagram_is_repaired_keeping_its_points_and_its_centre() -> None:
    area = parse_area(polygon(star_polygon(5, 2)))
    assert area.is_valid
    assert area.intersects(Point(24.9, 60.2))  # the centre, wound twice: never dropped
    for i in range(5):
        t = 2 * math.pi * i / 5
        tip_inside = Point(24.9 + 0.09 * math.cos(t), 60.2 + 0.09 * math.sin(t))
        assert area.intersects(tip_inside)


def comb(teeth: int) -> list[list[float]]:
    top = [[24.0 + 0.001 * i, 60.01 + 0.01 * (i % 2)] for i in range(2 * teeth)]
    points = [[24.0, 60.0], [24.0 + 0.001 * (2 * teeth - 1), 60.0], *top[::-1]]
    return [*points, points[0]]


def test_a_valid_comb_is_kept_exactly() -> None:
    coords = comb(500)
    area = parse_area(polygon(coords))
    assert isinstance(area, Polygon)
    assert area.equals(Polygon(coords))


def test_many_tiny_holes_are_all_kept() -> None:
    holes = [
        ring(24.0 + 0.01 * i, 60.0 + 0.01 * j, 24.004 + 0.01 * i, 60.004 + 0.01 * j)
        for i in range(1, 30)
        for j in range(1, 30)
    ]
    area = parse_area(polygon(ring(24.0, 60.0, 24.3, 60.3), *holes))
    assert isinstance(area, Polygon) and len(area.interiors) == len(holes)
    assert not area.intersects(Point(24.152, 60.152))  # inside a hole
    assert area.intersects(Point(24.157, 60.157))  # between holes
    assert area.intersects(Point(24.154, 60.152))  # on a hole's edge: boundary counts


def test_thousands_of_overlapping_parts_are_united() -> None:
    parts = [
        [ring(24 + 0.01 * i, 60 + 0.01 * j, 24.015 + 0.01 * i, 60.015 + 0.01 * j)]
        for i in range(40)
        for j in range(40)
    ]
    area = parse_area({"type": "MultiPolygon", "coordinates": parts})
    assert isinstance(area, Polygon)
    assert area.area == pytest.approx(0.405**2 - 0.0, rel=1e-6) or area.area < 0.405**2
    expected = shapely.union_all([Polygon(p[0]) for p in parts])
    assert area.symmetric_difference(expected).area == pytest.approx(0.0, abs=1e-12)
    assert area.intersects(Point(24.0125, 60.0125))  # where four parts overlap


def test_a_valid_multipolygon_is_kept_as_it_is_without_a_union(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A repaired zig-zag comes back as thousands of triangles touching at points: uniting them
    # again is slow (quadratic in GEOS) and changes nothing, so a valid multipolygon is kept.
    canonical = area_to_geojson(parse_area(polygon(zig_zag(1000))))

    def no_union(*_: Any, **__: Any) -> None:
        raise AssertionError("a valid multipolygon was united again")

    monkeypatch.setattr("outage_notify.matching.geometry.shapely.union_all", no_union)
    again = parse_area(canonical)
    assert len(again.geoms) == len(canonical["coordinates"])


def test_duplicate_consecutive_vertices_change_nothing() -> None:
    coords = regular_ring(50)[:-1]
    doubled = [p for p in coords for _ in range(3)] + [coords[0]]
    assert parse_area(polygon(doubled)).equals(parse_area(polygon([*coords, coords[0]])))


def test_near_collinear_runs_keep_the_square() -> None:
    side = [[24.0 + i / 1000, 60.0 + (1e-13 if i % 2 else 0.0)] for i in range(1000)]
    coords = [*side, [25.0, 60.0], [25.0, 61.0], [24.0, 61.0], [24.0, 60.0]]
    area = parse_area(polygon(coords))
    assert area.is_valid
    assert area.area == pytest.approx(1.0, rel=1e-9)


@st.composite
def simple_polygons(draw: st.DrawFn) -> list[list[float]]:
    """Star-shaped about their centre (angles strictly increasing, each turn under half a
    circle, so the centre is inside): always simple."""
    count = draw(st.integers(3, 40))
    radii = draw(st.lists(st.floats(0.01, 1.0), min_size=count, max_size=count))
    gaps = draw(st.lists(st.floats(0.6, 1.0), min_size=count, max_size=count))
    total, turn, points = sum(gaps), 0.0, []
    for radius, gap in zip(radii, gaps, strict=True):
        points.append([24.9 + radius * math.cos(turn), 60.2 + radius * math.sin(turn)])
        turn += 2 * math.pi * gap / total
    return [*points, points[0]]


@FAST
@given(coords=simple_polygons())
def test_a_simple_polygon_covers_exactly_the_points_it_did(coords: list[list[float]]) -> None:
    area = parse_area(polygon(coords))
    expected = Polygon(coords)
    assert area.equals(expected)
    again = parse_area(area_to_geojson(area))
    assert again.equals(expected)


def winding_number(ring_: list[list[float]], x: float, y: float) -> int:
    """How many times the ring winds around (x, y), counting direction (crossings of a ray
    to the right, signed by which way the edge goes)."""
    winding = 0
    for (x1, y1), (x2, y2) in itertools.pairwise(ring_):
        side = (x2 - x1) * (y - y1) - (x - x1) * (y2 - y1)
        if y1 <= y < y2 and side > 0:
            winding += 1
        elif y2 <= y < y1 and side < 0:
            winding -= 1
    return winding


@FAST
@given(
    coords=st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=3, max_size=12
    ).filter(lambda c: shapely.Polygon(c).area > 0)
)
def test_a_repaired_ring_keeps_everywhere_it_winds_round(coords: list[tuple[int, int]]) -> None:
    # Every lobe is kept, and so is a loop wound twice (a pentagram's centre); nothing is added
    # that is neither wound round (winding 0) nor kept by shapely's own even-odd repair.
    points = [[24.0 + x / 100, 60.0 + y / 100] for x, y in coords]
    closed = [*points, points[0]]
    if shapely.make_valid(Polygon(closed)).area == 0:
        assert "no extent" in refused(polygon(closed))
        return
    area = parse_area(polygon(closed))
    assert area.is_valid
    even_odd = shapely.make_valid(Polygon(closed))
    outline = shapely.LineString(closed)
    for i in range(20):
        for j in range(20):
            x, y = 24.0 + (i + 0.3713) / 100, 60.0 + (j + 0.6127) / 100
            if outline.distance(Point(x, y)) < 1e-9:
                continue
            inside, wound = area.intersects(Point(x, y)), winding_number(closed, x, y) != 0
            assert inside == wound or (inside and even_odd.intersects(Point(x, y))), (x, y)


def cross_hatch(n: int) -> dict:
    """n thin horizontal and n thin vertical triangles, each valid, every horizontal one
    crossing every vertical one: uniting them makes n² vertices."""
    cx, cy, r = 25.66, 60.39, 0.02
    polygons = []
    for i in range(n):
        y = cy - r + 2 * r * i / n
        polygons.append([[[cx - r, y], [cx + r, y], [cx + r, y + r / n / 4], [cx - r, y]]])
        x = cx - r + 2 * r * i / n
        polygons.append([[[x, cy - r], [x + r / n / 4, cy + r], [x, cy + r], [x, cy - r]]])
    return {"type": "MultiPolygon", "coordinates": polygons}


@pytest.mark.parametrize("n", [200, 800, 3000])
def test_valid_parts_that_cross_each_other_quadratically_are_refused(n: int) -> None:
    with pytest.raises(AreaError, match="crosses itself"):
        parse_area(cross_hatch(n), max_vertices=100_000)


def test_a_few_overlapping_parts_are_still_united() -> None:
    assert parse_area(cross_hatch(3)).is_valid
