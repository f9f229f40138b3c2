"""Incident areas: GeoJSON in, a valid WGS 84 (Multi)Polygon out. Pure: no database, no web.

GeoJSON is (lon, lat). A legacy GeoJSON "crs" member naming a projected system (EPSG:3067, say)
is honoured by transforming to WGS 84 here, the one place coordinates change system.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.errors
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:
    from pyproj import Transformer

POLYGON_TYPES = ("Polygon", "MultiPolygon")
BBox = tuple[float, float, float, float]


class AreaError(ValueError):
    """The area cannot be used; the message says why, in words for the caller."""


def parse_area(geojson: Any) -> Polygon | MultiPolygon:
    """A GeoJSON Polygon/MultiPolygon (or a Feature / FeatureCollection of them) made valid."""
    if not isinstance(geojson, Mapping):
        raise AreaError("area must be a GeoJSON object")
    crs_name = _legacy_crs_name(geojson)
    geometries = [_polygon_from_geometry(g) for g in _geometries(geojson)]
    if not geometries:
        raise AreaError("area holds no polygon")
    if crs_name is not None:
        geometries = [_to_wgs84(g, crs_name) for g in geometries]
    for geometry in geometries:
        _check_ranges(geometry)
    return _valid_union(geometries)


def area_to_geojson(area: BaseGeometry) -> dict[str, Any]:
    """Canonical GeoJSON: normalised (same rings, same start, whatever order they came in),
    exterior rings counter-clockwise as RFC 7946 asks, lists rather than tuples; so an area
    equals itself after a trip through the API or the database's JSON column."""
    canonical = shapely.orient_polygons(shapely.normalize(area), exterior_cw=False)
    result: dict[str, Any] = json.loads(json.dumps(mapping(canonical)))
    return result


def intersects_box(area: BaseGeometry, box: BBox) -> bool:
    return bool(area.intersects(shapely.box(*box)))


def _geometries(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    kind = obj.get("type")
    if kind == "Feature":
        geometry = obj.get("geometry")
        if not isinstance(geometry, Mapping):
            raise AreaError("area Feature has no geometry")
        return [geometry]
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise AreaError("area FeatureCollection has no features list")
        return [g for f in features if isinstance(f, Mapping) for g in _geometries(f)]
    if kind in POLYGON_TYPES:
        return [obj]
    raise AreaError(f"area must be a GeoJSON Polygon or MultiPolygon, not {kind!r}")


def _polygon_from_geometry(geometry: Mapping[str, Any]) -> BaseGeometry:
    if geometry.get("type") not in POLYGON_TYPES:
        raise AreaError(
            f"area must be a GeoJSON Polygon or MultiPolygon, not {geometry.get('type')!r}"
        )
    coordinates = geometry.get("coordinates")
    depth = 3 if geometry["type"] == "Polygon" else 4
    _check_positions(coordinates, depth)
    try:
        geom = shape({"type": geometry["type"], "coordinates": coordinates})
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as e:
        raise AreaError(f"area coordinates do not form a polygon: {e}") from e
    return shapely.force_2d(geom)


def _check_positions(coordinates: Any, depth: int) -> None:
    """Every position a list of 2 or 3 finite numbers, each ring at least 4 positions."""
    if depth == 1:
        if not isinstance(coordinates, Sequence) or isinstance(coordinates, str):
            raise AreaError("a position must be [lon, lat]")
        if len(coordinates) not in (2, 3) or not all(_finite_number(v) for v in coordinates):
            raise AreaError("a position must be [lon, lat] in finite numbers")
        return
    if not isinstance(coordinates, list) or not coordinates:
        raise AreaError("area coordinates are empty or not nested lists")
    if depth == 2 and len(coordinates) < 4:
        raise AreaError("a polygon ring needs at least 4 positions (the first repeated last)")
    for item in coordinates:
        _check_positions(item, depth - 1)


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_ranges(geom: BaseGeometry) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise AreaError(
            "area coordinates out of range: GeoJSON is [lon, lat] with lon in -180..180 "
            "and lat in -90..90"
        )


def _valid_union(geometries: list[BaseGeometry]) -> Polygon | MultiPolygon:
    """Every polygon made valid on its own, then all of them united.

    Repair comes before union: GEOS cannot union an invalid ring (it raises a topology
    error). And it is done part by part: make_valid on a MultiPolygon whose parts overlap keeps
    only the area covered once, so a customer inside two parts would be left out.
    make_valid keeps every lobe of a self-intersecting ring, where buffer(0) can drop one.
    """
    parts = [
        part
        for geometry in geometries
        for polygon in _polygon_parts(geometry)
        for part in _polygon_parts(polygon if polygon.is_valid else shapely.make_valid(polygon))
        if not part.is_empty and part.area > 0
    ]
    if not parts:
        raise AreaError("area has no extent once made valid (collapsed or degenerate polygon)")
    if len(parts) == 1:
        return parts[0]
    try:
        merged = shapely.union_all(parts)
    except shapely.errors.GEOSException as exc:
        raise AreaError(f"area polygons cannot be combined: {exc}") from exc
    found = _polygon_parts(merged)
    return found[0] if len(found) == 1 else MultiPolygon(found)


def _polygon_parts(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [p for g in getattr(geom, "geoms", []) for p in _polygon_parts(g)]


def _legacy_crs_name(obj: Mapping[str, Any]) -> str | None:
    crs = obj.get("crs")
    if not isinstance(crs, Mapping):
        return None
    name = (crs.get("properties") or {}).get("name")
    if not isinstance(name, str):
        raise AreaError("area crs member has no properties.name")
    if _is_wgs84(name):
        return None
    return name


def _is_wgs84(name: str) -> bool:
    return name.upper().replace("::", ":").endswith(("CRS84", "EPSG:4326", "EPSG:4326:"))


@lru_cache(maxsize=16)
def _transformer(name: str) -> Transformer:
    from pyproj import CRS, Transformer  # PROJ loads slowly; only projected input needs it

    try:
        source = CRS.from_user_input(name)
    except Exception as exc:  # pyproj raises its own CRSError family
        raise AreaError(f"unknown coordinate reference system {name!r}") from exc
    return Transformer.from_crs(source, CRS.from_epsg(4326), always_xy=True)


def _to_wgs84(geom: BaseGeometry, crs_name: str) -> BaseGeometry:
    transformer = _transformer(crs_name)
    return shapely.transform(geom, lambda xy: _transform_xy(transformer, xy))


def _transform_xy(transformer: Transformer, xy: Any) -> Any:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def to_wgs84_points(x: Any, y: Any, crs_name: str) -> tuple[Any, Any]:
    """Arrays of projected coordinates → (lon, lat) arrays."""
    lon, lat = _transformer(crs_name).transform(x, y)
    return lon, lat
