"""The service territory: where an incident area must reach. Pure: no database, no web.

Unless configured, it is derived from the customers' points so that a few stray rows (lat and
lon swapped, a typo, a test record at 0,0) cannot widen it. The points are binned into a
coarse world grid; occupied cells that touch, or have at most one empty cell between them,
form a group; a group holding fewer than min(10, 1 % of all) customers is stray (so under 100
customers nothing is). The territory is the union of the other groups' cells grown by one
cell. Binning is one bincount over a fixed grid, so deriving costs a few numpy passes over the
points; only the occupied cells (a few thousand for a country) are grouped and made geometry.

The largest group is the territory's core: where the bulk of the customers are. Exchanging
lon and lat of an area that belongs there moves it far away, so an area whose exchanged image
reaches more core customers than the area itself reaches was most probably sent as [lat, lon].
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from outage_notify.config import looks_like_box, parse_box
from outage_notify.matching.geometry import AreaError, parse_area

CELL_DEGREES = 0.25
NX, NY = round(360 / CELL_DEGREES), round(180 / CELL_DEGREES)
STRAY_MAX = 10  # a group of this many customers is never stray …
STRAY_SHARE = 0.01  # … nor one holding this share of them
GAP_CELLS = 1  # empty cells allowed between two cells of one group

# The cells within Chebyshev distance GAP_CELLS + 1, one of each +/- pair: enough to find every
# neighbouring pair once.
_REACH = GAP_CELLS + 1
NEIGHBOURS = [
    (dx, dy) for dy in range(0, _REACH + 1) for dx in range(-_REACH, _REACH + 1) if dy > 0 or dx > 0
]


@dataclass(frozen=True)
class Territory:
    """An area (prepared, for many tests) and its core, possibly the same geometry."""

    area: BaseGeometry
    core: BaseGeometry

    def __post_init__(self) -> None:
        shapely.prepare(self.area)
        shapely.prepare(self.core)

    def reaches(self, geometry: BaseGeometry) -> bool:
        return bool(self.area.intersects(geometry))

    def holds(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return np.asarray(shapely.intersects_xy(self.area, lon, lat), dtype=bool)

    def in_core(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return np.asarray(shapely.intersects_xy(self.core, lon, lat), dtype=bool)

    @cached_property
    def swap_detectable(self) -> bool:
        """False where exchanging lon and lat of the core lands on the core itself (a
        territory astride the lon = lat line, around 45°E 45°N say): there, where customers
        are cannot tell a swapped area from a right one."""
        mirrored = exchanged(shapely.clip_by_rect(self.core, -90.0, -90.0, 90.0, 90.0))
        return mirrored is None or mirrored.is_empty or not self.core.intersects(mirrored)

    def describe(self) -> str:
        minx, miny, maxx, maxy = self.area.bounds
        return f"lon {minx:.2f}..{maxx:.2f}, lat {miny:.2f}..{maxy:.2f}"


@dataclass(frozen=True)
class DerivedTerritory:
    """The territory the customers' points make, and where its strays are."""

    territory: Territory | None
    stray_cells: np.ndarray  # sorted codes of the cells of stray groups

    def strays_at(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Whether points (of these customers) lie in a stray group's cell."""
        codes = _cell_codes(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return np.isin(codes, self.stray_cells)


def derive(lon: np.ndarray, lat: np.ndarray) -> DerivedTerritory:
    """The territory of customers at these points (WGS 84 degrees, arrays of equal length)."""
    return derive_from_counts(cell_counts(lon, lat))


def cell_counts(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """How many of the points lie in each cell of the world grid: all that deriving needs,
    and cheap to keep up to date as customers come and move (see `shifted`)."""
    codes = _cell_codes(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return np.bincount(codes, minlength=NX * NY)


def shifted(
    per_cell: np.ndarray,
    *,
    removed: tuple[np.ndarray, np.ndarray],
    added: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """New counts after the points `removed` left (moved or erased) and `added` came."""
    result = per_cell.copy()
    np.subtract.at(result, _cell_codes(*(np.asarray(a, dtype=np.float64) for a in removed)), 1)
    np.add.at(result, _cell_codes(*(np.asarray(a, dtype=np.float64) for a in added)), 1)
    return result


def derive_from_counts(per_cell: np.ndarray) -> DerivedTerritory:
    occupied = np.flatnonzero(per_cell)
    if len(occupied) == 0:
        return DerivedTerritory(None, np.zeros(0, dtype=np.int64))
    group = _groups(occupied)
    size = np.bincount(group, weights=per_cell[occupied])
    stray_group = size < min(STRAY_MAX, STRAY_SHARE * size.sum())
    if stray_group.all():  # too scattered to tell strays from the rest: keep everyone
        stray_group[:] = False
    kept = occupied[~stray_group[group]]
    main = occupied[group == int(np.argmax(size))]
    area = _cells_geometry(_grown(kept))
    core = area if len(main) == len(kept) else _cells_geometry(_grown(main))
    return DerivedTerritory(Territory(area=area, core=core), occupied[stray_group[group]])


def exchanged(geometry: BaseGeometry) -> BaseGeometry | None:
    """The geometry with every position's lon and lat exchanged, or None when that is not a
    place on Earth (a longitude beyond ±90° cannot have been a latitude)."""
    if geometry.is_empty:
        return geometry
    minx, _, maxx, _ = geometry.bounds
    if minx < -90.0 or maxx > 90.0:
        return None
    return shapely.transform(geometry, lambda xy: xy[:, ::-1].copy())


# ---- a configured territory -----------------------------------------------------------------


class TerritoryError(ValueError):
    """TERRITORY cannot be used; the message says why."""


@lru_cache(maxsize=4)
def read_territory(text: str) -> Territory:
    """TERRITORY as configured: a box "minlon,minlat,maxlon,maxlat", or the path of a GeoJSON
    file of (Multi)Polygons (a geometry, Feature or FeatureCollection)."""
    if looks_like_box(text):
        area: BaseGeometry = shapely.box(*parse_box(text))
    else:
        area = _read_geojson(Path(text))
    return Territory(area=area, core=area)


def _read_geojson(path: Path) -> BaseGeometry:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TerritoryError(f"territory file {path} does not exist") from exc
    except OSError as exc:
        raise TerritoryError(f"territory file {path} cannot be read: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TerritoryError(f"territory file {path} is not GeoJSON: {exc}") from exc
    try:
        return parse_area(document)
    except AreaError as exc:
        raise TerritoryError(f"territory file {path}: {exc}") from exc


def outside_reason(territory: Territory, lon: float, lat: float) -> str | None:
    """Why a customer at (lon, lat) is refused by a configured territory, or None."""
    if territory.holds(np.array([lon]), np.array([lat]))[0]:
        return None
    reason = f"location (lat {lat:g}, lon {lon:g}) lies outside the service territory"
    if abs(lat) <= 90 and territory.holds(np.array([lat]), np.array([lon]))[0]:
        reason += ": with lat and lon exchanged it would be inside; are they swapped?"
    return reason


# ---- cells ------------------------------------------------------------------------------------


def _cell_codes(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Row-major codes of the points' cells; the poles and ±180° fall in the edge cells."""
    ix = np.clip(np.floor((lon + 180.0) / CELL_DEGREES), 0, NX - 1).astype(np.int64)
    iy = np.clip(np.floor((lat + 90.0) / CELL_DEGREES), 0, NY - 1).astype(np.int64)
    return iy * NX + ix


def _groups(occupied: np.ndarray) -> np.ndarray:
    """A group number per occupied cell (sorted codes): cells within GAP_CELLS + 1 of each
    other, directly or through other cells, share one."""
    ix, iy = occupied % NX, occupied // NX
    starts, ends = [], []
    for dx, dy in NEIGHBOURS:
        nx, ny = ix + dx, iy + dy
        valid = (nx >= 0) & (nx < NX) & (ny < NY)
        wanted = ny * NX + nx
        at = np.minimum(np.searchsorted(occupied, wanted), len(occupied) - 1)
        found = valid & (occupied[at] == wanted)
        starts.append(np.flatnonzero(found))
        ends.append(at[found])
    roots = _components(len(occupied), np.concatenate(starts), np.concatenate(ends))
    return np.unique(roots, return_inverse=True)[1].reshape(-1)


def _components(count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph of edges a[i]–b[i], as the smallest node of each.

    Each round hooks every root onto the smallest root it has an edge to, then flattens the
    trees (chains of hooks collapse there), until no edge joins two roots: one or two rounds
    on grids of cells, from a town to a million points strewn over the world, each a few
    numpy passes over the edges rather than a Python union-find."""
    parent = np.arange(count)
    while True:
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            return parent
        ra, rb = ra[differ], rb[differ]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        parent = _flatten(parent)


def _flatten(parent: np.ndarray) -> np.ndarray:
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def _grown(cells: np.ndarray) -> np.ndarray:
    """The cells and their eight neighbours: the margin that keeps an area just beyond the
    outermost customers inside the territory. On the whole grid (a million booleans), which
    costs the same for any number of cells."""
    grid = np.zeros((NY, NX), dtype=bool)
    grid.reshape(-1)[cells] = True
    grown = grid.copy()
    for dy, dx in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        grown[max(dy, 0) : NY + min(dy, 0), max(dx, 0) : NX + min(dx, 0)] |= grid[
            max(-dy, 0) : NY + min(-dy, 0), max(-dx, 0) : NX + min(-dx, 0)
        ]
    return np.flatnonzero(grown)


def _cells_geometry(cells: np.ndarray) -> BaseGeometry:
    """The union of the cells (sorted codes), one box per run of cells along a row first: a
    few hundred boxes for a country rather than thousands."""
    ix, iy = cells % NX, cells // NX
    breaks = np.flatnonzero((np.diff(ix) != 1) | (np.diff(iy) != 0)) + 1
    first = np.concatenate([[0], breaks])
    last = np.concatenate([breaks - 1, [len(cells) - 1]])
    boxes = shapely.box(
        ix[first] * CELL_DEGREES - 180.0,
        iy[first] * CELL_DEGREES - 90.0,
        (ix[last] + 1) * CELL_DEGREES - 180.0,
        (iy[first] + 1) * CELL_DEGREES - 90.0,
    )
    return shapely.union_all(boxes)
