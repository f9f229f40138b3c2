"""Incident areas: GeoJSON in, a valid WGS 84 (Multi)Polygon out. Pure: no database, no web.

GeoJSON is (lon, lat). A legacy GeoJSON "crs" member naming a projected system (EPSG:3067, say)
is honoured by transforming to WGS 84 here, the one place coordinates change system.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import shapely.errors
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from outage_notify.errors import CodedError

if TYPE_CHECKING:
    from pyproj import Transformer

POLYGON_TYPES = ("Polygon", "MultiPolygon")
BBox = tuple[float, float, float, float]
DEFAULT_MAX_VERTICES = 20_000
# The members GeoJSON defines on each kind of object (RFC 7946, plus the 2008 "crs"); anything
# else is refused, so a misspelt or misplaced member is never silently ignored.
MEMBERS = {
    "Polygon": frozenset({"type", "coordinates", "bbox", "crs"}),
    "MultiPolygon": frozenset({"type", "coordinates", "bbox", "crs"}),
    "Feature": frozenset({"type", "geometry", "properties", "id", "bbox", "crs"}),
    "FeatureCollection": frozenset({"type", "features", "bbox", "crs"}),
}
# Repairing a ring costs GEOS about (edges + crossings) * log, but tens of microseconds per
# crossing, so a ring whose edges cross each other quadratically (a {n/k} star) would take
# minutes: past this many crossings per vertex the area is refused instead.
CROSSINGS_PER_VERTEX = 4
# Counting crossings looks at pairs of edges whose boxes overlap; a ring whose edge boxes
# overlap more than this often (a dense fan of long edges) costs too much to count or repair.
EDGE_PAIRS_PER_VERTEX = 64
PAIRS_CHUNK = 1024
VERTEX_ROUNDING = 1e-9  # degrees, about 0.1 mm


class AreaError(CodedError):
    """The area cannot be used; the message says why, in words for the caller."""


class _Vertices:
    """Counts vertices as rings are read, refusing the area as soon as it has too many."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def add_ring(self, positions: int) -> None:
        self.count += positions - 1  # the closing position repeats the first
        if self.count > self.limit:
            raise AreaError(
                f"area has more than {self.limit} vertices (MAX_AREA_VERTICES); "
                "send a simplified outline",
                code="area_vertices",
                limit=self.limit,
            )


def parse_area(geojson: Any, *, max_vertices: int = DEFAULT_MAX_VERTICES) -> Polygon | MultiPolygon:
    """A GeoJSON Polygon/MultiPolygon (or a Feature / FeatureCollection of them) made valid.

    Every position is checked and counted before any geometry is built, so an area over the
    vertex limit costs no more than reading it."""
    if not isinstance(geojson, Mapping):
        raise AreaError("area must be a GeoJSON object", code="area_not_polygon")
    vertices = _Vertices(max_vertices)
    found = [
        (kind, _rings_of(kind, coordinates, vertices), crs_name)
        for kind, coordinates, crs_name in _geometries(geojson, None)
    ]
    if not found:
        raise AreaError("area holds no polygon", code="area_not_polygon")
    geometries = [_polygonal(kind, rings, crs_name) for kind, rings, crs_name in found]
    return _valid_union(geometries)


def area_to_geojson(area: BaseGeometry) -> dict[str, Any]:
    """Canonical GeoJSON: normalised (same rings, same start, whatever order they came in),
    exterior rings counter-clockwise as RFC 7946 asks, lists rather than tuples; so an area
    equals itself after a trip through the API or the database's JSON column."""
    canonical = shapely.orient_polygons(shapely.normalize(area), exterior_cw=False)
    if not isinstance(canonical, Polygon | MultiPolygon):
        result: dict[str, Any] = json.loads(json.dumps(mapping(canonical)))
        return result
    return {"type": canonical.geom_type, "coordinates": _nested_lists(canonical)}


def _nested_lists(area: Polygon | MultiPolygon) -> list[Any]:
    """Coordinates as nested lists, cut from one flat list that numpy's tolist() makes in C:
    building them ring by ring through shapely's tuples costs more than checking the area."""
    parts = shapely.get_parts(area)
    holes = shapely.get_num_interior_rings(parts)
    rings = shapely.get_rings(parts) if holes.any() else parts  # a part's one ring: itself
    flat = shapely.get_coordinates(parts).tolist()
    ring_list = _cut(flat, shapely.get_num_coordinates(rings))
    polygons = _cut(ring_list, holes + 1)
    return polygons[0] if isinstance(area, Polygon) else polygons


def _cut(items: list[Any], sizes: np.ndarray) -> list[list[Any]]:
    bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return [items[start:end] for start, end in itertools.pairwise(bounds)]


def intersects_box(area: BaseGeometry, box: BBox) -> bool:
    return bool(area.intersects(shapely.box(*box)))


# ---- reading GeoJSON ---------------------------------------------------------------------------


def _geometries(obj: Mapping[str, Any], crs_name: str | None) -> list[tuple[str, Any, str | None]]:
    """(type, coordinates, crs name or None for WGS 84) of every geometry in the object; a crs
    member applies to what it holds."""
    kind = obj.get("type")
    if kind not in MEMBERS:
        raise AreaError(
            f"area must be a GeoJSON Polygon or MultiPolygon, not {kind!r}", code="area_not_polygon"
        )
    foreign = set(obj) - MEMBERS[kind]
    if foreign:
        raise AreaError(
            f"area {kind} has members GeoJSON does not define there: {', '.join(sorted(foreign))}"
        )
    _check_bbox(obj)
    if "crs" in obj:
        crs_name = read_crs(obj["crs"])
    if kind == "Feature":
        geometry = obj.get("geometry")
        if not isinstance(geometry, Mapping):
            raise AreaError("area Feature has no geometry")
        return _geometries(geometry, crs_name)
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise AreaError("area FeatureCollection has no features list")
        if not all(isinstance(f, Mapping) and f.get("type") == "Feature" for f in features):
            raise AreaError("every item of an area FeatureCollection's features must be a Feature")
        return [found for f in features for found in _geometries(f, crs_name)]
    return [(kind, obj.get("coordinates"), crs_name)]


def _check_bbox(obj: Mapping[str, Any]) -> None:
    if "bbox" not in obj:
        return
    box = obj["bbox"]
    if not isinstance(box, list) or len(box) not in (4, 6) or not all(map(_finite_number, box)):
        raise AreaError("area bbox must be a list of 4 or 6 finite numbers")


def read_crs(member: Any, *, what: str = "area") -> str | None:
    """The name in a legacy {"type": "name", "properties": {"name": …}} member; None for WGS 84.
    Linked or otherwise malformed members are refused rather than ignored: coordinates read in
    the wrong system would put the outage somewhere else."""
    if not isinstance(member, Mapping) or set(member) - {"type", "properties"}:
        raise AreaError(
            f'{what} crs member must be {{"type": "name", "properties": {{"name": …}}}}'
        )
    if member.get("type") != "name":
        raise AreaError(f'{what} crs member must be of type "name" (linked crs are not read)')
    properties = member.get("properties")
    if not isinstance(properties, Mapping) or set(properties) != {"name"}:
        raise AreaError(f"{what} crs member has no properties.name (and nothing else)")
    name = properties["name"]
    if not isinstance(name, str):
        raise AreaError(f"{what} crs member has no properties.name string")
    if _is_wgs84(name):
        return None
    try:
        _transformer(name)  # an unknown system is refused here, before any geometry is built
    except AreaError as exc:
        raise AreaError(f"{exc} in the {what}'s crs member") from exc
    return name


def _rings_of(kind: str, coordinates: Any, vertices: _Vertices) -> list[list[np.ndarray]]:
    """The polygons' rings as (n, 2) arrays; each position checked and counted."""
    if kind == "Polygon":
        return [_polygon_rings(coordinates, vertices)]
    _check_nested_list(coordinates)
    return [_polygon_rings(polygon, vertices) for polygon in coordinates]


def _polygon_rings(coordinates: Any, vertices: _Vertices) -> list[np.ndarray]:
    _check_nested_list(coordinates)
    return [_ring_array(ring, vertices) for ring in coordinates]


def _check_nested_list(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise AreaError("area coordinates are empty or not nested lists", code="area_positions")


def _ring_array(ring: Any, vertices: _Vertices) -> np.ndarray:
    """Every position a list of 2 or 3 finite numbers, the ring at least 4 positions."""
    _check_nested_list(ring)
    if len(ring) < 4:
        raise AreaError(
            "a polygon ring needs at least 4 positions (the first repeated last)",
            code="area_ring_short",
        )
    vertices.add_ring(len(ring))  # before reading the positions: a huge ring stops here
    return position_array(ring)


def position_array(
    positions: list[Any], *, what: str = "area", forms: str = "polygon"
) -> np.ndarray:
    """GeoJSON positions as an (n, 2) array of (lon, lat), or AreaError: every position a list
    of 2 or 3 finite numbers (a third, the height, is dropped), all of the same size. `what`
    and `forms` name the geometry in the message about mixed sizes."""
    if not all(isinstance(p, list | tuple) for p in positions):
        raise AreaError("a position must be [lon, lat]", code="area_positions")
    sizes = set(map(len, positions))
    if not sizes <= {2, 3}:
        raise AreaError("a position must be [lon, lat] in finite numbers", code="area_positions")
    if len(sizes) > 1:
        raise AreaError(
            f"{what} coordinates do not form a {forms}: positions mix 2 and 3 values",
            code="area_positions",
        )
    values = [v for position in positions for v in position]
    if not set(map(type, values)) <= {int, float}:  # bool is not int here, as in JSON
        raise AreaError("a position must be [lon, lat] in finite numbers", code="area_positions")
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError as exc:
        raise AreaError(
            "a position must be [lon, lat] in finite numbers", code="area_positions"
        ) from exc
    if not np.isfinite(array).all():
        raise AreaError("a position must be [lon, lat] in finite numbers", code="area_positions")
    return array.reshape(len(positions), sizes.pop())[:, :2]


def _polygonal(kind: str, polygons: list[list[np.ndarray]], crs_name: str | None) -> BaseGeometry:
    try:
        parts = [shapely.polygons(*_shell_and_holes(rings)) for rings in polygons]
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise AreaError(
            f"area coordinates do not form a polygon: {exc}", code="area_positions"
        ) from exc
    geometry: BaseGeometry = parts[0] if kind == "Polygon" else MultiPolygon(parts)
    if crs_name is not None:
        geometry = to_wgs84(geometry, crs_name)
    check_ranges(geometry)
    return geometry


def _shell_and_holes(rings: list[np.ndarray]) -> tuple[Any, Any]:
    holes = [shapely.linearrings(hole) for hole in rings[1:]] or None
    return shapely.linearrings(rings[0]), holes


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_ranges(geom: BaseGeometry, *, what: str = "area") -> None:
    """AreaError unless every coordinate is a longitude and latitude (after any crs)."""
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise AreaError(
            f"{what} coordinates out of range: GeoJSON is [lon, lat] with lon in -180..180 "
            "and lat in -90..90",
            code="area_range",
        )


# ---- making it valid -----------------------------------------------------------------------------


def _valid_union(geometries: list[BaseGeometry]) -> Polygon | MultiPolygon:
    """Every polygon made valid on its own, then all of them united.

    Repair comes before union: GEOS cannot union an invalid ring (it raises a topology
    error). And it is done part by part: make_valid on a MultiPolygon whose parts overlap keeps
    only the area covered once, so a customer inside two parts would be left out.
    A geometry already valid as a whole is kept as it is: uniting thousands of parts that only
    touch at points (a repaired zig-zag posted again) changes nothing and is quadratic in GEOS.
    """
    fixed = [g if g.is_valid else _repaired_parts(g) for g in geometries]
    parts = shapely.get_parts(fixed)
    parts = parts[shapely.area(parts) > 0]
    if len(parts) == 0:
        raise AreaError(
            "area has no extent once made valid (collapsed or degenerate polygon)",
            code="area_degenerate",
        )
    if len(parts) == 1:
        return parts[0]
    together: MultiPolygon = shapely.multipolygons(parts)
    if len(fixed) == 1 and (fixed[0] is geometries[0] or geometries[0].geom_type == "Polygon"):
        return together  # one valid geometry, or the lobes of one repaired ring
    if together.is_valid:
        return together
    # Parts valid one by one may still cross each other n² times (a cross-hatch of thin
    # strips), and their union then has n² vertices: the same budget applies to all of them.
    _refuse_entangled(together)
    try:
        merged = shapely.union_all(parts)
    except shapely.errors.GEOSException as exc:
        raise AreaError(f"area polygons cannot be combined: {exc}") from exc
    found = shapely.get_parts(merged)
    return found[0] if len(found) == 1 else shapely.multipolygons(found)


def _repaired_parts(geometry: BaseGeometry) -> BaseGeometry:
    """Each polygon of an invalid geometry repaired on its own (parts may overlap)."""
    polygons = shapely.get_parts(geometry)
    if len(polygons) == 1:  # a Polygon: already known to be invalid
        return shapely.geometrycollections(_repaired(polygons[0]))
    valid = shapely.is_valid(polygons)
    parts = [*polygons[valid], *(p for polygon in polygons[~valid] for p in _repaired(polygon))]
    return shapely.geometrycollections(parts)


def _repaired(polygon: Polygon) -> list[BaseGeometry]:
    """An invalid polygon rebuilt by GEOS's "structure" method: a point
    is inside where the ring winds round it (every lobe kept, and a loop wound twice, such as a
    pentagram's centre, stays inside, where the even-odd "linework" method makes it a hole);
    holes are taken out of the shell. "structure" is also linear in the crossings, where
    "linework" is quadratic for a ring cut into thousands of lobes."""
    _refuse_entangled(polygon)
    fixed = shapely.make_valid(polygon, method="structure", keep_collapsed=False)
    if not fixed.is_valid:
        # GEOS can leave lobes that share an edge (where the ring runs twice along the same
        # stretch, or after rounding) side by side: uniting them makes them one valid polygon.
        fixed = shapely.union_all(shapely.get_parts(fixed))
    if not _covers_every_vertex(fixed, polygon):
        # "structure" rebuilds the ring by buffering it by zero, which can drop a whole lobe
        # where the ring touches itself at a vertex; "linework" keeps it (it is slow only on
        # rings cut into thousands of lobes, and those do not touch themselves like this).
        linework = shapely.get_parts(shapely.make_valid(polygon))
        fixed = shapely.union_all([fixed, *linework[shapely.area(linework) > 0]])
    if not fixed.is_valid:
        fixed = shapely.make_valid(fixed)
    return list(shapely.get_parts(fixed))


def _covers_every_vertex(repaired: BaseGeometry, polygon: Polygon) -> bool:
    """Whether every vertex of the ring is in or on the repaired area (within rounding): a lobe
    that was dropped leaves its own vertices outside. One index query, not a scan per vertex."""
    parts = shapely.get_parts(repaired)
    vertices = shapely.points(shapely.get_coordinates(polygon))
    found = shapely.STRtree(parts).query(vertices, predicate="dwithin", distance=VERTEX_ROUNDING)
    covered = np.zeros(len(vertices), dtype=bool)
    covered[found[0]] = True
    return bool(covered.all())


def _refuse_entangled(polygon: Polygon | MultiPolygon) -> None:
    """Refuses rings whose repair (or union) would take minutes: more than CROSSINGS_PER_VERTEX
    crossings per vertex, counted in chunks so that counting stops as soon as it is over."""
    starts, ends, neighbours = _edges(polygon)
    count = len(starts)
    max_crossings = CROSSINGS_PER_VERTEX * count + 64
    max_pairs = EDGE_PAIRS_PER_VERTEX * count + 4096
    edges = shapely.linestrings(np.stack([starts, ends], axis=1))
    tree = shapely.STRtree(edges)
    crossings = pairs = first = 0
    chunk = 16  # grows: a hopelessly tangled ring is refused after a few small chunks
    while first < count:
        mine, other = tree.query(edges[first : first + chunk])  # boxes overlap
        mine += first
        first, chunk = first + chunk, min(chunk * 2, PAIRS_CHUNK)
        keep = (mine < other) & (neighbours[mine, 0] != other) & (neighbours[mine, 1] != other)
        mine, other = mine[keep], other[keep]
        pairs += len(mine)
        crossings += int(_segments_meet(starts[mine], ends[mine], starts[other], ends[other]).sum())
        if crossings > max_crossings:
            raise AreaError(
                f"area crosses itself in more than {max_crossings} places ({count} edges): "
                "repairing it would take too long; send an outline that does not cross itself",
                code="area_tangled",
            )
        if pairs > max_pairs:
            raise AreaError(
                "area crosses itself and its edges are too entangled to repair quickly; "
                "send an outline that does not cross itself",
                code="area_tangled",
            )


def _edges(geometry: Polygon | MultiPolygon) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end points of every edge of every ring, repeated points dropped, with the
    indices of each edge's two neighbours along its ring (which always meet it)."""
    starts, ends, neighbours = [], [], []
    offset = 0
    rings = [r for p in shapely.get_parts(geometry) for r in (p.exterior, *p.interiors)]
    for ring in rings:
        points = shapely.get_coordinates(ring)
        keep = np.r_[True, np.any(points[1:] != points[:-1], axis=1)]
        points = points[keep]
        size = len(points) - 1
        index = np.arange(size)
        starts.append(points[:-1])
        ends.append(points[1:])
        neighbours.append(np.column_stack([(index - 1) % size, (index + 1) % size]) + offset)
        offset += size
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(neighbours)


def _segments_meet(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Whether segment a-b meets segment c-d (touching counts), for arrays of pairs whose
    bounding boxes overlap (collinear ones then always meet)."""
    side_c, side_d = _orientation(a, b, c), _orientation(a, b, d)
    side_a, side_b = _orientation(c, d, a), _orientation(c, d, b)
    meet: np.ndarray = (side_c * side_d <= 0) & (side_a * side_b <= 0)
    return meet


def _orientation(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    cross = (q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0])
    return np.sign(cross)


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


def to_wgs84(geom: BaseGeometry, crs_name: str) -> BaseGeometry:
    """A geometry in the named system (read_crs checked it) taken to WGS 84 lon/lat."""
    transformer = _transformer(crs_name)
    return shapely.transform(geom, lambda xy: _transform_xy(transformer, xy))


def _transform_xy(transformer: Transformer, xy: Any) -> Any:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def to_wgs84_points(x: Any, y: Any, crs_name: str) -> tuple[Any, Any]:
    """Arrays of projected coordinates → (lon, lat) arrays."""
    lon, lat = _transformer(crs_name).transform(x, y)
    return lon, lat


# ---- a point's surroundings ----------------------------------------------------------------------


def circle_polygon(
    lon: float, lat: float, radius_m: float, *, segments: int = 32
) -> dict[str, Any]:
    """The circle of radius_m metres round (lon, lat) as a GeoJSON Polygon in WGS 84.

    Drawn in a local azimuthal equidistant projection centred on the point (distances from the
    centre are true there, at any latitude), then taken back to lon/lat. A regular polygon of
    32 segments covers 99.4 % of the true circle. A circle over the antimeridian or round a pole
    is refused (AreaError): no service territory has one."""
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise AreaError("a point must be [lon, lat] with lon in -180..180 and lat in -90..90")
    if not (math.isfinite(radius_m) and radius_m > 0) or segments < 3:
        raise AreaError("a circle needs a positive radius and at least 3 segments")
    from pyproj import Proj  # PROJ loads slowly; only point outages need it

    # A Proj object, not a Transformer: built per point, it costs a tenth of a millisecond.
    local = Proj(f"+proj=aeqd +lat_0={lat!r} +lon_0={lon!r} +datum=WGS84 +units=m +no_defs")
    angles = np.linspace(0.0, 2 * math.pi, segments, endpoint=False)  # counter-clockwise
    lons, lats = local(radius_m * np.cos(angles), radius_m * np.sin(angles), inverse=True)
    # PROJ wraps longitudes into -180..180: a circle over the antimeridian would come back as a
    # band round the whole globe. Unwrapped round the centre, it is refused instead, as is a
    # circle round a pole (its longitudes then span the whole turn).
    lons = lon + (np.asarray(lons) - lon + 180.0) % 360.0 - 180.0
    if lons.min() < -180 or lons.max() > 180 or lons.max() - lons.min() >= 180:
        raise AreaError("a circle round this point would cross the antimeridian or a pole")
    ring = np.column_stack([lons, lats]).tolist()
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
