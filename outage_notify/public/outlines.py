"""District and municipality outlines (MAP_OUTLINES): the plain background of the maps when
no tile server is configured, and the names the public map gives its areas.

A GeoJSON FeatureCollection in WGS 84. Polygon and MultiPolygon features are areas, each with
a `name`; those with `kind` "district" name the public map's areas (the others, e.g. the
municipality, only when there are no districts). Lines (streets) are only drawn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from outage_notify import paths

DEFAULT = paths.FIXTURES / "basemap" / "porvoo.geojson"
MAX_BYTES = 20 * 1024 * 1024
AREA_TYPES = ("Polygon", "MultiPolygon")
LINE_TYPES = ("LineString", "MultiLineString")
# An area counts as touched when it holds at least this share of an incident's area (a
# shared border or a sliver is not worth naming).
MIN_SHARE = 0.02


@dataclass(frozen=True)
class Outlines:
    document: bytes  # as served to the maps
    areas: tuple[tuple[str, BaseGeometry], ...]  # the naming areas, in the file's order

    def names_for(self, geometry: BaseGeometry | None, *, limit: int = 3) -> list[str]:
        """The areas this geometry lies in, the largest share first (at most `limit`)."""
        if geometry is None or geometry.is_empty or geometry.area == 0:
            return []
        shares = [
            (geometry.intersection(outline).area / geometry.area, name)
            for name, outline in self.areas
            if outline.intersects(geometry)
        ]
        return _ranked(shares, limit)

    def names_of_points(
        self, points: Sequence[tuple[float, float]], *, limit: int = 3
    ) -> list[str]:
        """The areas these (lon, lat) points lie in, the one with most of them first: where a
        grid incident's customers are (cheaper, and truer, than its cells' shape)."""
        if not points:
            return []
        lons = np.fromiter((p[0] for p in points), float, len(points))
        lats = np.fromiter((p[1] for p in points), float, len(points))
        shares = [
            (float(np.count_nonzero(shapely.contains_xy(outline, lons, lats))) / len(points), name)
            for name, outline in self.areas
        ]
        return _ranked(shares, limit)


def _ranked(shares: list[tuple[float, str]], limit: int) -> list[str]:
    ranked = sorted((s for s in shares if s[0] >= MIN_SHARE), key=lambda s: -s[0])
    return [name for _, name in ranked[:limit]]


def read_outlines(path: str | Path | None = None) -> Outlines:
    """The outlines of `path` (the demo town's when None); ValueError says what is wrong."""
    chosen = Path(path) if path else DEFAULT
    try:
        stat = chosen.stat()
    except OSError as exc:
        raise ValueError(f"map_outlines {chosen}: cannot be read ({exc.strerror})") from exc
    return _read(str(chosen), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _read(path: str, _mtime: int, size: int) -> Outlines:
    if size > MAX_BYTES:
        raise ValueError(f"map_outlines {path}: larger than {MAX_BYTES // 1024 // 1024} MB")
    data = Path(path).read_bytes()
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"map_outlines {path}: not JSON ({exc})") from exc
    features = _features(document, path)
    named = [_named_area(f, path, i) for i, f in enumerate(features)]
    areas = [(name, geom, kind) for name, geom, kind in named if geom is not None]
    districts = [(name, geom) for name, geom, kind in areas if kind == "district"]
    chosen = districts or [(name, geom) for name, geom, _ in areas]
    return Outlines(document=data, areas=tuple(chosen))


def _features(document: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ValueError(f"map_outlines {path}: must be a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise ValueError(f"map_outlines {path}: `features` must be a list of features")
    return features


def _named_area(
    feature: dict[str, Any], path: str, index: int
) -> tuple[str, BaseGeometry | None, str | None]:
    geometry = feature.get("geometry") or {}
    properties = feature.get("properties") or {}
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    where = f"map_outlines {path}: feature {index}"
    if kind in LINE_TYPES:
        return "", None, None
    if kind not in AREA_TYPES:
        raise ValueError(f"{where}: geometry must be a polygon or a line, not {kind!r}")
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: an area needs a `name`")
    try:
        area = shape(geometry).buffer(0)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{where}: not a valid {kind} ({exc})") from exc
    return name.strip(), area, properties.get("kind")
