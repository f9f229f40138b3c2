"""Customers on the operator console's map, clustered on a grid. Pure.

The map asks for the customers in its visible bounds at its zoom; the database counts them per
cell of a grid whose cells are about CELL_PIXELS wide on screen at that zoom, and each non-empty
cell becomes one cluster at the cell's centre. A cluster never sits on a customer's own
coordinates (a cell's centre, not its customers' mean), so no single address can be read off
the map, however far in the operator zooms; thousands of customers cost one row per cell.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

CELL_PIXELS = 48  # a cluster's share of the screen, as Leaflet's markers go
TILE_PIXELS = 256
MIN_ZOOM, MAX_ZOOM = 0, 20
MAX_CELLS = 4_000  # a view asking for more cells than this is refused (a 4k screen has ~3,600)


class BoundsError(ValueError):
    """The bounds or zoom asked for cannot be clustered; the message says why."""


@dataclass(frozen=True)
class Bounds:
    south: float
    west: float
    north: float
    east: float

    def __post_init__(self) -> None:
        for name, value, limit in (
            ("south", self.south, 90),
            ("north", self.north, 90),
            ("west", self.west, 180),
            ("east", self.east, 180),
        ):
            if not math.isfinite(value) or abs(value) > limit:
                raise BoundsError(f"{name} must be a number between -{limit} and {limit}")
        if self.south >= self.north:
            raise BoundsError("south must be less than north")
        if self.west >= self.east:
            raise BoundsError("west must be less than east")


@dataclass(frozen=True)
class Grid:
    """Square cells of `size` degrees, numbered from the south-west corner (0, 0) of the world,
    so a cell is the same cell whatever part of it a view shows."""

    bounds: Bounds
    size: float

    def cell_of(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor((lat + 90) / self.size), math.floor((lon + 180) / self.size)

    def centre(self, row: int, col: int) -> tuple[float, float]:
        return (row + 0.5) * self.size - 90, (col + 0.5) * self.size - 180

    def cells_across(self) -> int:
        rows = math.floor((self.bounds.north + 90) / self.size) - math.floor(
            (self.bounds.south + 90) / self.size
        )
        cols = math.floor((self.bounds.east + 180) / self.size) - math.floor(
            (self.bounds.west + 180) / self.size
        )
        return (rows + 1) * (cols + 1)


def grid_for(bounds: Bounds, zoom: float) -> Grid:
    """The grid for a view: cells CELL_PIXELS wide at this zoom (Web Mercator: the world is
    256·2^zoom pixels round)."""
    if not math.isfinite(zoom) or not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise BoundsError(f"zoom must be between {MIN_ZOOM} and {MAX_ZOOM}")
    size = 360.0 * CELL_PIXELS / (TILE_PIXELS * 2 ** math.floor(zoom))
    grid = Grid(bounds=bounds, size=size)
    if grid.cells_across() > MAX_CELLS:
        raise BoundsError("the view is too large for this zoom: zoom in")
    return grid


def count_cells(grid: Grid, points: Iterable[tuple[float, float]]) -> Counter[tuple[int, int]]:
    """Customers per cell: what the database's GROUP BY computes, for points in memory."""
    b = grid.bounds
    return Counter(
        grid.cell_of(lat, lon)
        for lat, lon in points
        if b.south <= lat <= b.north and b.west <= lon <= b.east
    )


def clusters(grid: Grid, counts: Iterable[tuple[int, int, int]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: one Point per non-empty cell (row, col, customers), at the
    cell's centre, its customers in properties.count."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": _lon_lat(grid, row, col)},
            "properties": {"count": count},
        }
        for row, col, count in sorted(counts)
        if count > 0
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {"cell_degrees": grid.size},
    }


def _lon_lat(grid: Grid, row: int, col: int) -> list[float]:
    lat, lon = grid.centre(row, col)
    return [round(lon, 6), round(lat, 6)]
