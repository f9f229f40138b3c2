"""What the public may be shown of the customers an incident affects. Pure: no database.

- A count below MIN_PUBLIC_COUNT is not published exactly ("fewer than 3"): one or two
  households out could be told apart from it.
- An incident given by feeders or transformers has no area of its own. Its customers' points
  are not shown; the map gets the cells of a CELL_METERS grid that hold them, joined: where the
  power is out, to the nearest few hundred metres, and no house within. The grid is anchored
  to the UTM zone's own coordinates, so a cell is the same from one request to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

MIN_PUBLIC_COUNT = 3
CELL_METERS = 500.0
# Published coordinates: five decimals of a degree, about a metre.
GRID_DEGREES = 1e-5


def public_count(count: int) -> int | None:
    """The count as published: None when it is too small to publish exactly."""
    return count if count >= MIN_PUBLIC_COUNT else None


def cells_covering(points: Sequence[tuple[float, float]]) -> Polygon | MultiPolygon | None:
    """The union of the CELL_METERS grid cells that hold these (lon, lat) points, in WGS 84;
    None for no points."""
    if not points:
        return None
    lons = np.fromiter((p[0] for p in points), float, len(points))
    lats = np.fromiter((p[1] for p in points), float, len(points))
    forward, back = _utm(_zone(float(lons.mean())), float(lats.mean()) >= 0)
    xs, ys = forward.transform(lons, lats)
    cells = np.unique(
        np.column_stack([np.floor(xs / CELL_METERS), np.floor(ys / CELL_METERS)]), axis=0
    )
    boxes = shapely.box(
        cells[:, 0] * CELL_METERS,
        cells[:, 1] * CELL_METERS,
        (cells[:, 0] + 1) * CELL_METERS,
        (cells[:, 1] + 1) * CELL_METERS,
    )
    # Edge-matched cells: the coverage union is exact and fast; simplify(0) then drops the
    # corners left in the middle of straight edges.
    projected = shapely.simplify(shapely.coverage_union_all(boxes), 0)
    return _polygonal(
        shapely.transform(projected, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
    )


def published(geometry: BaseGeometry) -> Polygon | MultiPolygon | None:
    """A polygonal geometry on the published coordinate grid (None if nothing is left)."""
    return _polygonal(shapely.set_precision(geometry, GRID_DEGREES))


def _polygonal(geometry: BaseGeometry) -> Polygon | MultiPolygon | None:
    if geometry.is_empty:
        return None
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    merged = shapely.union_all(parts) if parts else None
    return merged if isinstance(merged, Polygon | MultiPolygon) else None


def _zone(lon: float) -> int:
    return min(60, max(1, int((lon + 180) // 6) + 1))


@lru_cache(maxsize=16)
def _utm(zone: int, north: bool) -> tuple[Transformer, Transformer]:
    utm = f"+proj=utm +zone={zone} {'' if north else '+south '}+datum=WGS84 +units=m +no_defs"
    return (
        Transformer.from_crs("EPSG:4326", utm, always_xy=True),
        Transformer.from_crs(utm, "EPSG:4326", always_xy=True),
    )
