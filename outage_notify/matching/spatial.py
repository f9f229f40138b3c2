"""Who is inside an area: an in-memory index of customer points. Pure: no database, no web.

Points are kept as three numpy arrays sorted by longitude, and nothing else: no Python object
per customer (a million shapely points would cost 0.9 s to build and far more memory than the
coordinates). A match takes the slice of points whose longitude lies in the area's bounding
box (two binary searches), keeps those whose latitude does too, and tests their coordinates
against the prepared area in one vectorised call. A point on the area's boundary counts as
inside ("intersects", not "within"). Feeder and transformer ids are grouped once into arrays of
customer keys; the strings themselves are not kept.

Testing a point against a polygon costs a step for every edge a line through the point crosses:
for a comb or a star of thousands of spikes, that is thousands of steps per point. So a big area
is cut in halves, again and again, together with the points, until each piece has at most
PIECE_VERTICES vertices (as PostGIS users do with ST_Subdivide); each point is then tested only
against the small piece around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from outage_notify.matching.territory import DerivedTerritory, Territory, derive

PIECE_VERTICES = 256
# Cutting stops here whatever is left: vertices packed into a tiny spot cannot be cut apart.
MAX_CUTS = 24


@dataclass
class CustomerIndex:
    """Customer primary keys with their points and grid ids, all arrays of the same length."""

    pks: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    # Given to build the groups below, then dropped: a million strings weigh more than the
    # coordinates.
    feeders: Sequence[str | None]
    transformers: Sequence[str | None]
    _by_feeder: dict[str, np.ndarray] = field(init=False, repr=False)
    _by_transformer: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pks = np.asarray(self.pks, dtype=np.int64)
        lon = np.asarray(self.lon, dtype=np.float64)
        order = np.argsort(lon, kind="stable")
        self.pks, self.lon = pks[order], lon[order]
        self.lat = np.asarray(self.lat, dtype=np.float64)[order]
        self._by_feeder = _group(pks, self.feeders)
        self._by_transformer = _group(pks, self.transformers)
        self.feeders, self.transformers = (), ()

    def __len__(self) -> int:
        return len(self.pks)

    @cached_property
    def derived_territory(self) -> DerivedTerritory:
        """The territory these customers make (stray rows left out), derived once per index."""
        return derive(self.lon, self.lat)

    def within(self, area: BaseGeometry) -> np.ndarray:
        """Primary keys of customers inside the area or on its boundary, sorted."""
        return np.sort(self.pks[self._positions_within(area)])

    def count_within(self, area: BaseGeometry, *, among: Territory | None = None) -> int:
        """How many customers are inside the area; with `among`, only those in its core."""
        positions = self._positions_within(area)
        if among is None or len(positions) == 0:
            return len(positions)
        return int(among.in_core(self.lon[positions], self.lat[positions]).sum())

    def _positions_within(self, area: BaseGeometry) -> np.ndarray:
        if len(self.pks) == 0 or area.is_empty:
            return np.empty(0, dtype=np.int64)
        candidates = self._in_box(*area.bounds)
        if len(candidates) == 0:
            return np.empty(0, dtype=np.int64)
        inside = _inside(area, self.lon[candidates], self.lat[candidates])
        return np.asarray(candidates[inside], dtype=np.int64)

    def _in_box(self, minx: float, miny: float, maxx: float, maxy: float) -> np.ndarray:
        """Positions of the points inside the box (edges included)."""
        start = int(np.searchsorted(self.lon, minx, side="left"))
        end = int(np.searchsorted(self.lon, maxx, side="right"))
        lat = self.lat[start:end]
        return np.flatnonzero((lat >= miny) & (lat <= maxy)) + start

    def on_grid(self, feeders: Iterable[str], transformers: Iterable[str]) -> np.ndarray:
        parts = [self._by_feeder.get(f) for f in feeders]
        parts += [self._by_transformer.get(t) for t in transformers]
        found = [p for p in parts if p is not None]
        if not found:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(found))

    def match(
        self,
        area: BaseGeometry | None,
        feeders: Iterable[str] = (),
        transformers: Iterable[str] = (),
    ) -> np.ndarray:
        """Everyone the incident touches: inside its area, or on a listed feeder/transformer."""
        inside = self.within(area) if area is not None else np.empty(0, dtype=np.int64)
        return np.union1d(inside, self.on_grid(feeders, transformers))


def _inside(area: BaseGeometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Which points are inside the area or on its boundary."""
    inside = np.zeros(len(lon), dtype=bool)
    _mark_inside(area, np.arange(len(lon)), lon, lat, inside, 0)
    return inside


def _mark_inside(
    piece: BaseGeometry,
    which: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    inside: np.ndarray,
    cuts: int,
) -> None:
    """Marks which of the points `which` are in the piece: directly when it is small (or the
    points few), else in its two halves, each with the points in its half. A point on the cut
    goes to both halves, so one on the boundary is found by either."""
    if piece.is_empty or len(which) == 0:
        return
    vertices = int(shapely.get_num_coordinates(piece))
    if vertices <= PIECE_VERTICES or cuts >= MAX_CUTS:
        shapely.prepare(piece)  # caches the piece's index on the object; matches nothing else
        inside[which] |= shapely.intersects_xy(piece, lon[which], lat[which])
        return
    along_x, middle, first, second = _split(piece)
    values = lon[which] if along_x else lat[which]
    for box, side in ((first, values <= middle), (second, values >= middle)):
        half = shapely.clip_by_rect(piece, *box)
        _mark_inside(half, which[side], lon, lat, inside, cuts + 1)


Box = tuple[float, float, float, float]


def _split(piece: BaseGeometry) -> tuple[bool, float, Box, Box]:
    """Where a piece is cut: across its longer side, in the middle; the boxes of both halves."""
    minx, miny, maxx, maxy = piece.bounds
    along_x = maxx - minx >= maxy - miny
    middle = (minx + maxx) / 2 if along_x else (miny + maxy) / 2
    first = (minx, miny, middle, maxy) if along_x else (minx, miny, maxx, middle)
    second = (middle, miny, maxx, maxy) if along_x else (minx, middle, maxx, maxy)
    return along_x, middle, first, second


def pieces(area: BaseGeometry) -> list[BaseGeometry]:
    """The area in small pieces, for matching elsewhere (postgis.py): its parts (a storm's
    polygons each get a box of their own, not one box over all of them), each cut as the index
    cuts an area, in halves until PIECE_VERTICES (at most MAX_CUTS deep)."""
    found: list[BaseGeometry] = []
    stack = [(part, 0) for part in shapely.get_parts(area).tolist()]
    while stack:
        piece, cuts = stack.pop()
        if piece.is_empty:
            continue
        if int(shapely.get_num_coordinates(piece)) <= PIECE_VERTICES or cuts >= MAX_CUTS:
            found.append(piece)
            continue
        _, _, first, second = _split(piece)
        stack += [(shapely.clip_by_rect(piece, *box), cuts + 1) for box in (first, second)]
    return found


def _group(pks: np.ndarray, keys: Sequence[str | None]) -> dict[str, np.ndarray]:
    """Grid id → the customers on it, grouped by sorting codes rather than in a Python loop."""
    import pandas as pd  # its factorize, only where the index is built: not for the CLI

    codes, names = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.searchsorted(sorted_codes, np.arange(len(names)), side="left")
    ends = np.searchsorted(sorted_codes, np.arange(len(names)), side="right")
    return {
        str(name): pks[order[start:end]]
        for name, start, end in zip(names, starts, ends, strict=True)
        if name
    }
