"""Feeder lines: a GeoJSON file read with a reason for each bad feature, the feeders whose line
crosses an area, the stored network replaced and loaded (both back ends), and the demo town's
network (fixtures/demo_town/feeders.geojson)."""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
import shapely
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from outage_notify.db.engine import make_engine
from outage_notify.db.models import FeederLine
from outage_notify.matching.geometry import to_wgs84_points
from outage_notify.matching.grid import (
    MAX_FEEDER_CHARS,
    FeederLines,
    FeederLinesCache,
    GridFileError,
    ParsedLine,
    ParsedLines,
    feeders_crossing,
    import_lines,
    line_to_geojson,
    load_lines,
    parse_collection,
    parse_lines,
)
from outage_notify.paths import FIXTURES

FAST = settings(max_examples=200, deadline=None, database=None)
T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TOWN = FIXTURES / "demo_town"
SUBSTATION = (25.6650, 60.3936)  # lon, lat: where every demo feeder starts


def line(*points: tuple[float, float]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(p) for p in points]}


def feature(
    geometry: Any = None,
    *,
    feeder: Any = "F-1",
    feature_id: Any = None,
    **properties: Any,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": "Feature",
        "properties": {**({"feeder": feeder} if feeder is not None else {}), **properties},
        "geometry": geometry if geometry is not None else line((25.0, 60.0), (25.1, 60.1)),
    }
    if feature_id is not None:
        found["id"] = feature_id
    return found


def collection(*features: Any, **members: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features), **members}).encode()


def only_rejection(*features: Any) -> str:
    parsed = parse_lines(collection(*features))
    assert parsed.lines == ()
    assert len(parsed.rejections) == 1
    return parsed.rejections[0].reason


# ---- reading a file ------------------------------------------------------------------------------


def test_a_good_file_gives_each_feeder_its_line_and_name() -> None:
    parsed = parse_lines(
        collection(
            feature(feeder=" F-1 ", name=" Kuusitie trunk "),
            feature(
                {
                    "type": "MultiLineString",
                    "coordinates": [[[25, 60, 12.5], [25.1, 60.1, 3]], [[25.1, 60.1], [25.2, 60]]],
                },
                feeder=None,
                feeder_id="F-2",
            ),
            feature(feeder=None, feature_id=7),
        )
    )
    assert parsed.rejections == ()
    assert [(p.feeder, p.name) for p in parsed.lines] == [
        ("F-1", "Kuusitie trunk"),
        ("F-2", None),
        ("7", None),
    ]
    first, branched, _ = (p.geometry for p in parsed.lines)
    assert isinstance(first, LineString) and list(first.coords) == [(25.0, 60.0), (25.1, 60.1)]
    assert isinstance(branched, MultiLineString) and len(branched.geoms) == 2
    assert not branched.has_z  # heights are dropped: the lines are drawn on the map


def test_the_feeder_id_is_read_from_properties_feeder_then_feeder_id_then_the_feature_id() -> None:
    everywhere = feature(feeder="A", feeder_id="B", feature_id="C")
    no_feeder = feature(feeder=None, feeder_id="B", feature_id="C")
    empty_feeder = feature(feeder="  ", feeder_id="B", feature_id="C")
    only_id = feature(feeder=None, feature_id="C")
    found = [parse_lines(collection(f)).lines[0].feeder for f in (everywhere, no_feeder)]
    found += [parse_lines(collection(f)).lines[0].feeder for f in (empty_feeder, only_id)]
    assert found == ["A", "B", "B", "C"]


BAD_FEATURES = [
    pytest.param(feature(feeder=None), "names no feeder", id="no id"),
    pytest.param(feature(feeder=""), "names no feeder", id="empty id"),
    pytest.param(feature(feeder="F" * 65), "longer than 64 characters", id="id too long"),
    pytest.param(feature(feeder="F-1\x00"), "control character (U+0000)", id="id with NUL"),
    pytest.param(feature(feeder="F-\u001b[2J"), "control character (U+001B)", id="id with ESC"),
    pytest.param(feature(feeder="F-\u2028X"), "control character (U+2028)", id="line separator"),
    pytest.param(feature(feeder=True), "must be text or an integer", id="id a boolean"),
    pytest.param(feature(feeder={"id": 1}), "must be text or an integer", id="id an object"),
    pytest.param(feature(feeder=1.5), "must be text or an integer", id="id a float"),
    pytest.param(feature(name="x" * 201), "name is longer than 200", id="name too long"),
    pytest.param(feature(name="a\nb"), "name contains a control character", id="name newline"),
    pytest.param(feature({"type": "Point", "coordinates": [25, 60]}), "not 'Point'", id="a point"),
    pytest.param(
        feature({"type": "Polygon", "coordinates": [[[25, 60], [26, 60], [26, 61], [25, 60]]]}),
        "not 'Polygon'",
        id="a polygon",
    ),
    pytest.param(
        feature({"type": "GeometryCollection", "geometries": []}),
        "LineString or MultiLineString",
        id="a geometry collection",
    ),
    pytest.param(feature({"coordinates": [[25, 60], [26, 60]]}), "not None", id="no type"),
    pytest.param({"type": "Feature", "properties": {"feeder": "F-1"}}, "no geometry", id="null"),
    pytest.param(feature("LINESTRING (0 0, 1 1)"), "GeoJSON object", id="geometry as WKT"),
    pytest.param(feature(line((190, 60), (25, 60))), "out of range", id="lon 190"),
    pytest.param(feature(line((25, 60), (25, -91))), "out of range", id="lat -91"),
    pytest.param(feature(line((60.39, 25.66), (60.40, 95.67))), "out of range", id="swapped"),
    pytest.param(feature(line((25, math.nan), (25, 60))), "finite numbers", id="NaN"),
    pytest.param(feature(line((25, math.inf), (25, 60))), "finite numbers", id="Infinity"),
    pytest.param(feature(line(("25", 60), (25, 61))), "finite numbers", id="text coordinate"),
    pytest.param(feature(line((True, 60), (25, 61))), "finite numbers", id="boolean coordinate"),
    pytest.param(
        feature({"type": "LineString", "coordinates": [[25], [26]]}), "[lon, lat]", id="1-d"
    ),
    pytest.param(
        feature({"type": "LineString", "coordinates": [25, 60]}), "[lon, lat]", id="one position"
    ),
    pytest.param(
        feature({"type": "LineString", "coordinates": [[25, 60, 1], [26, 60]]}),
        "positions mix 2 and 3 values",
        id="mixed sizes",
    ),
    pytest.param(
        feature({"type": "LineString", "coordinates": []}), "empty or not a list", id="empty"
    ),
    pytest.param(
        feature({"type": "LineString", "coordinates": "25 60, 26 60"}),
        "empty or not a list",
        id="coordinates as text",
    ),
    pytest.param(feature({"type": "LineString"}), "empty or not a list", id="no coordinates"),
    pytest.param(feature(line((25, 60))), "at least 2 distinct positions", id="one point"),
    pytest.param(
        feature(line((25, 60), (25, 60), (25, 60))), "at least 2 distinct", id="one point thrice"
    ),
    pytest.param(
        feature({"type": "MultiLineString", "coordinates": []}), "empty", id="multi empty"
    ),
    pytest.param(
        feature({"type": "MultiLineString", "coordinates": [[[25, 60], [26, 60]], []]}),
        "empty",
        id="multi with an empty part",
    ),
    pytest.param(
        feature({"type": "MultiLineString", "coordinates": [[[25, 60], [26, 60]], [[25, 61]]]}),
        "at least 2 distinct positions",
        id="multi with a one-point part",
    ),
    pytest.param(
        feature({"type": "MultiLineString", "coordinates": [[25, 60], [26, 60]]}),
        "[lon, lat]",
        id="multi one level short",
    ),
    pytest.param("F-1", "not a GeoJSON Feature", id="a string"),
    pytest.param(line((25, 60), (26, 60)), "not a GeoJSON Feature", id="a bare geometry"),
    pytest.param(
        {"type": "Feature", "properties": ["F-1"], "geometry": line((25, 60), (26, 60))},
        "properties must be an object",
        id="properties a list",
    ),
    pytest.param(
        {**feature(), "crs": {"type": "link", "properties": {"href": "x"}}},
        'feature crs member must be of type "name"',
        id="linked crs",
    ),
    pytest.param(
        {**feature(), "crs": {"type": "name", "properties": {"name": "EPSG:99999"}}},
        "unknown coordinate reference system 'EPSG:99999' in the feature's crs member",
        id="unknown crs",
    ),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_FEATURES)
def test_each_bad_feature_is_rejected_with_its_reason(bad: Any, reason: str) -> None:
    assert reason in only_rejection(bad)


def test_a_bad_feature_never_stops_the_good_ones_and_rejections_name_their_feeder() -> None:
    parsed = parse_lines(
        collection(
            feature(feeder="F-1"),
            feature(line((190, 60), (25, 60)), feeder="F-2"),
            feature(feeder="F-\u001b[31m3"),
            feature(feeder="F-4"),
            feature(feeder=None),
        )
    )
    assert [p.feeder for p in parsed.lines] == ["F-1", "F-4"]
    assert [(r.index, r.feeder) for r in parsed.rejections] == [
        (1, "F-2"),
        (2, "F- [31m3"),  # printable: the escape character is made a space
        (4, None),
    ]
    assert parsed.rejections[0].as_dict() == {
        "index": 1,
        "reason": parsed.rejections[0].reason,
        "feeder": "F-2",
    }


def test_a_long_rejected_id_is_cut_for_the_report() -> None:
    parsed = parse_lines(collection(feature(feeder="F" * 500)))
    shown = parsed.rejections[0].feeder
    assert shown is not None and len(shown) == MAX_FEEDER_CHARS and shown.endswith("…")


def test_a_feeder_named_twice_keeps_its_first_line_and_rejects_the_repeat() -> None:
    parsed = parse_lines(
        collection(
            feature(feeder="F-1"),
            feature(feeder="F-2"),
            feature(line((26, 61), (26.1, 61.1)), feeder=" F-1"),
        )
    )
    assert [p.feeder for p in parsed.lines] == ["F-1", "F-2"]
    assert list(parsed.lines[0].geometry.coords) == [(25.0, 60.0), (25.1, 60.1)]
    assert [(r.index, r.feeder, r.reason) for r in parsed.rejections] == [
        (2, "F-1", "feeder F-1 repeats the one at index 0")
    ]


def test_a_projected_file_is_taken_to_wgs84() -> None:
    # Near Helsinki railway station in ETRS-TM35FIN (EPSG:3067), and 1 km east of it.
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3067"}}
    x, y = [385800.0, 386800.0], [6672400.0, 6672400.0]
    parsed = parse_lines(collection(feature(line(*zip(x, y, strict=True))), crs=crs))
    assert parsed.rejections == ()
    lon, lat = to_wgs84_points(x, y, "EPSG:3067")
    got = shapely.get_coordinates(parsed.lines[0].geometry)
    assert got[:, 0].tolist() == pytest.approx(list(lon))
    assert got[:, 1].tolist() == pytest.approx(list(lat))
    assert parsed.lines[0].geometry.coords[0] == pytest.approx((24.94, 60.17), abs=0.005)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"\xff\xfe{}", "not UTF-8", id="not utf-8"),
        pytest.param(b"", "not valid JSON", id="empty"),
        pytest.param(b"F-1,25,60", "not valid JSON", id="csv"),
        pytest.param(b"[" * 100_000, "not valid JSON", id="nested too deep"),
        pytest.param(b"[]", "must be a GeoJSON FeatureCollection", id="a list"),
        pytest.param(json.dumps(feature()).encode(), "FeatureCollection", id="a single feature"),
        pytest.param(b'{"type": "FeatureCollection"}', "no features list", id="no features"),
        pytest.param(
            b'{"type": "FeatureCollection", "features": {}}', "no features list", id="features {}"
        ),
        pytest.param(
            collection(feature(), crs={"type": "name", "properties": {"name": "EPSG:99999"}}),
            "in the file's crs member",
            id="unknown crs",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(data: bytes, reason: str) -> None:
    with pytest.raises(GridFileError, match=reason):
        parse_lines(data)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read() -> None:
    data = collection(feature())
    assert parse_lines(data, max_bytes=len(data)).lines
    with pytest.raises(GridFileError, match=f"larger than {len(data) - 1} bytes"):
        parse_lines(data, max_bytes=len(data) - 1)


def test_a_byte_order_mark_is_allowed() -> None:
    assert parse_lines(b"\xef\xbb\xbf" + collection(feature())).lines


# ---- which feeders cross an area -----------------------------------------------------------------

SQUARE = shapely.box(0.0, 0.0, 2.0, 2.0)


def network(**lines: Any) -> FeederLines:
    return FeederLines.of((name, geometry) for name, geometry in lines.items())


@pytest.mark.parametrize(
    ("geometry", "crosses"),
    [
        pytest.param(LineString([(0.5, 0.5), (1.5, 1.5)]), True, id="inside"),
        pytest.param(LineString([(-1, 1), (3, 1)]), True, id="through"),
        pytest.param(LineString([(-1, 1), (1, 1)]), True, id="in from outside"),
        pytest.param(LineString([(-1, -1), (3, 3)]), True, id="through the corners"),
        pytest.param(LineString([(-1, 1), (0, 1)]), True, id="ends on the boundary"),
        pytest.param(LineString([(-1, 3), (3, -1)]), True, id="diagonal over a corner"),
        pytest.param(LineString([(-1, 2), (3, 2)]), True, id="along an edge"),
        pytest.param(LineString([(-1, -1), (0, 0), (-1, 1)]), True, id="touches a vertex"),
        pytest.param(LineString([(-1, 1), (-0.000001, 1)]), False, id="stops just short"),
        pytest.param(LineString([(3, 3), (4, 5)]), False, id="far off"),
        pytest.param(LineString([(1.5, 3), (3, 1.5)]), False, id="passes by a corner"),
        pytest.param(
            MultiLineString([[(5, 5), (6, 6)], [(1, -1), (1, 0.5)]]), True, id="one branch in"
        ),
        pytest.param(
            MultiLineString([[(5, 5), (6, 6)], [(-2, -2), (-1, -1)]]), False, id="no branch in"
        ),
    ],
)
def test_a_line_crosses_an_area_when_it_meets_it_boundary_included(
    geometry: LineString | MultiLineString, crosses: bool
) -> None:
    assert feeders_crossing(SQUARE, network(F=geometry)) == (("F",) if crosses else ())


def test_crossing_feeders_come_sorted_whatever_order_they_were_given() -> None:
    through = LineString([(-1, 1), (3, 1)])
    away = LineString([(5, 5), (6, 6)])
    lines = FeederLines.of([("F-3", through), ("F-1", through), ("F-9", away), ("F-10", through)])
    assert lines.feeders == ("F-1", "F-10", "F-3", "F-9")
    assert feeders_crossing(SQUARE, lines) == ("F-1", "F-10", "F-3")


def test_a_hole_in_the_area_is_not_the_area() -> None:
    donut = SQUARE.difference(shapely.box(0.5, 0.5, 1.5, 1.5))
    lines = network(
        inside_hole=LineString([(0.8, 0.8), (1.2, 1.2)]), across=LineString([(0.2, 1), (1, 1)])
    )
    assert feeders_crossing(donut, lines) == ("across",)


def test_no_network_or_no_area_crosses_nothing() -> None:
    assert feeders_crossing(SQUARE, FeederLines()) == ()
    assert len(FeederLines()) == 0
    assert feeders_crossing(shapely.Polygon(), network(F=LineString([(0, 0), (1, 1)]))) == ()


def test_a_network_is_immutable() -> None:
    lines = network(F=LineString([(0, 0), (1, 1)]))
    with pytest.raises(AttributeError):
        lines.feeders = ()  # type: ignore[misc]


coordinate = st.floats(min_value=0, max_value=10, allow_nan=False, allow_infinity=False)
point = st.tuples(coordinate, coordinate)
lines_strategy = st.lists(
    st.lists(point, min_size=2, max_size=6, unique=True), min_size=0, max_size=12
)
areas = st.one_of(
    st.tuples(point, point).map(
        lambda ab: shapely.box(
            min(ab[0][0], ab[1][0]),
            min(ab[0][1], ab[1][1]),
            max(ab[0][0], ab[1][0]) + 0.01,
            max(ab[0][1], ab[1][1]) + 0.01,
        )
    ),
    st.lists(point, min_size=3, max_size=10).map(
        lambda ps: shapely.MultiPoint(ps).convex_hull.buffer(0.05)
    ),
    st.lists(point, min_size=4, max_size=10).map(
        lambda ps: shapely.make_valid(shapely.Polygon([*ps, ps[0]]))
    ),
)


@FAST
@given(lines_strategy, areas)
def test_crossing_agrees_with_shapely_feeder_by_feeder(
    raw_lines: list[list[tuple[float, float]]], area: Any
) -> None:
    geometries = [LineString(points) for points in raw_lines]
    lines = FeederLines.of((f"F-{i:02d}", g) for i, g in enumerate(geometries))
    expected = tuple(f"F-{i:02d}" for i, g in enumerate(geometries) if area.intersects(g))
    assert feeders_crossing(area, lines) == expected


# ---- the stored network --------------------------------------------------------------------------


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(database_url)
    yield made
    made.dispose()


def parsed_of(**lines: Any) -> ParsedLines:
    return ParsedLines(tuple(ParsedLine(f, g, f"line {f}") for f, g in lines.items()), ())


def store(engine: Engine, parsed: ParsedLines, now: datetime = T0) -> Any:
    with Session(engine) as session, session.begin():
        return import_lines(session, parsed=parsed, now=now)


def load(engine: Engine) -> FeederLines:
    with Session(engine) as session:
        return load_lines(session)


def stored_rows(engine: Engine) -> dict[str, tuple[Any, str | None, datetime]]:
    with Session(engine) as session:
        rows = session.execute(
            sa.select(
                FeederLine.feeder, FeederLine.geometry, FeederLine.name, FeederLine.imported_at
            )
        )
        return {f: (g, n, at) for f, g, n, at in rows}


TRUNK = LineString([(25.665, 60.3936), (25.67, 60.40)])
BRANCHED = MultiLineString([[(25.665, 60.3936), (25.64, 60.38)], [(25.65, 60.385), (25.66, 60.37)]])


def test_an_import_stores_every_line_and_loads_back_the_same(engine: Engine) -> None:
    report = store(engine, parsed_of(**{"F-2": BRANCHED, "F-1": TRUNK}))
    assert (report.imported, report.removed, report.rejections) == (2, (), ())
    rows = stored_rows(engine)
    assert rows["F-1"] == (line_to_geojson(TRUNK), "line F-1", T0)
    assert rows["F-2"][0]["type"] == "MultiLineString"
    loaded = load(engine)
    assert loaded.feeders == ("F-1", "F-2")
    assert [g.equals_exact(e, 0) for g, e in zip(loaded.lines, (TRUNK, BRANCHED), strict=True)] == [
        True,
        True,
    ]
    assert feeders_crossing(shapely.box(25.655, 60.37, 25.665, 60.38), loaded) == ("F-2",)


def test_an_import_replaces_the_whole_network(engine: Engine) -> None:
    store(engine, parsed_of(**{"F-1": TRUNK, "F-2": BRANCHED, "F-3": TRUNK}))
    moved = LineString([(25.0, 60.0), (25.1, 60.1)])
    later = T0 + timedelta(hours=1)
    report = store(engine, parsed_of(**{"F-2": moved, "F-4": TRUNK}), later)
    assert (report.imported, report.removed) == (2, ("F-1", "F-3"))
    rows = stored_rows(engine)
    assert sorted(rows) == ["F-2", "F-4"]
    assert rows["F-2"] == (line_to_geojson(moved), "line F-2", later)
    assert load(engine).feeders == ("F-2", "F-4")


def test_an_import_reports_the_files_rejections(engine: Engine) -> None:
    parsed = parse_collection(
        {"type": "FeatureCollection", "features": [feature(feeder="F-1"), feature(feeder=None)]}
    )
    report = store(engine, parsed)
    assert (report.imported, report.rejections) == (1, parsed.rejections)
    assert report.as_dict() == {
        "imported": 1,
        "removed": [],
        "rejected": [{"index": 1, "reason": parsed.rejections[0].reason}],
    }


def test_an_import_with_no_line_leaves_the_stored_network_alone(engine: Engine) -> None:
    store(engine, parsed_of(**{"F-1": TRUNK}))
    all_rejected = parse_lines(collection(feature(feeder=None)))
    with pytest.raises(GridFileError, match=r"no feeder line to import \(1 rejected\)"):
        store(engine, all_rejected)
    with pytest.raises(GridFileError, match="no feeder line"):
        store(engine, ParsedLines((), ()))
    assert load(engine).feeders == ("F-1",)


def test_the_cache_reloads_only_after_an_import(engine: Engine) -> None:
    cache = FeederLinesCache()
    with Session(engine) as session:
        empty = cache.get(session)
        assert len(empty) == 0
        assert cache.get(session) is empty
    store(engine, parsed_of(**{"F-1": TRUNK}))
    with Session(engine) as session:
        first = cache.get(session)
        assert first.feeders == ("F-1",)
        assert cache.get(session) is first  # no import since: the same tree
    store(engine, parsed_of(**{"F-1": TRUNK}), T0)  # the same lines at the same time: still news
    with Session(engine) as session:
        again = cache.get(session)
        assert again is not first and again.feeders == ("F-1",)
        cache.invalidate()
        assert cache.get(session) is not again


def test_a_stored_line_that_no_longer_reads_is_left_out_with_a_warning(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store(engine, parsed_of(**{"F-1": TRUNK}))
    with Session(engine) as session, session.begin():
        session.add(FeederLine(feeder="F-X", geometry={"type": "Point"}, imported_at=T0))
    with caplog.at_level(logging.WARNING, logger="outage_notify.matching.grid"):
        assert load(engine).feeders == ("F-1",)
    assert "feeder line F-X left out" in caplog.text


# ---- the demo town's network ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def town_lines() -> ParsedLines:
    return parse_lines((TOWN / "feeders.geojson").read_bytes())


@pytest.fixture(scope="module")
def town_customers() -> list[dict[str, str]]:
    with (TOWN / "customers.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_demo_town_network_reads_whole_and_covers_every_feeder_of_its_customers(
    town_lines: ParsedLines, town_customers: list[dict[str, str]]
) -> None:
    assert town_lines.rejections == ()
    feeders = {line.feeder for line in town_lines.lines}
    assert feeders == {row["feeder"] for row in town_customers}
    assert len(feeders) == 12
    for parsed in town_lines.lines:
        first = shapely.get_parts(parsed.geometry)[0]
        assert first.coords[0] == SUBSTATION, parsed.feeder  # every trunk leaves the substation


def test_the_demo_town_network_passes_by_every_transformer(
    town_lines: ParsedLines, town_customers: list[dict[str, str]]
) -> None:
    """Each transformer of a feeder sits on that feeder's line (the centroid of its homes)."""
    by_feeder = {line.feeder: line.geometry for line in town_lines.lines}
    homes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for row in town_customers:
        homes.setdefault((row["feeder"], row["transformer"]), []).append(
            (float(row["lon"]), float(row["lat"]))
        )
    for (feeder, transformer), points in homes.items():
        site = shapely.Point(shapely.MultiPoint(points).centroid)
        assert by_feeder[feeder].distance(site) < 1e-5, (feeder, transformer)


def test_a_storm_over_open_country_crosses_a_feeder_but_none_of_its_homes(
    town_lines: ParsedLines, town_customers: list[dict[str, str]]
) -> None:
    """The point of grid-aware exposure: F-08 runs from the centre to Tolkkisentie across
    fields where nobody lives; a storm cell on its longest span takes no home in, yet the line."""
    lines = FeederLines.of((p.feeder, p.geometry) for p in town_lines.lines)
    f08 = next(p.geometry for p in town_lines.lines if p.feeder == "F-08")
    spans = [
        LineString(pair)
        for part in shapely.get_parts(f08)
        for pair in zip(part.coords, part.coords[1:], strict=False)
    ]
    longest = max(spans, key=lambda span: span.length)
    middle = longest.interpolate(0.5, normalized=True)
    storm = middle.buffer(0.003)  # about 670 m north to south, 330 m west to east
    homes = shapely.points([(float(r["lon"]), float(r["lat"])) for r in town_customers])
    assert not shapely.intersects(storm, homes).any()
    assert "F-08" in feeders_crossing(storm, lines)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo_town", FIXTURES / "make_demo_town.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_network_is_what_the_generator_makes_of_the_customers(
    town_customers: list[dict[str, str]],
) -> None:
    generator = load_generator()
    made = generator.one_feature_a_line(generator.feeder_network(town_customers))
    assert made == (TOWN / "feeders.geojson").read_text(encoding="utf-8")


def test_the_demo_town_network_imports_on_this_back_end(
    engine: Engine, town_lines: ParsedLines
) -> None:
    report = store(engine, town_lines)
    assert (report.imported, report.removed, report.rejections) == (12, (), ())
    assert len(load(engine)) == 12


def test_radial_paths_draw_the_trunk_first_then_laterals_from_where_they_leave() -> None:
    generator = load_generator()
    # root ─100─ a ─100─ b ─300─ c (the trunk), a ─50─ d ─10─ e, root ─20─ f
    children = {
        "root": [("a", 100.0), ("f", 20.0)],
        "a": [("b", 100.0), ("d", 50.0)],
        "b": [("c", 300.0)],
        "c": [],
        "d": [("e", 10.0)],
        "e": [],
        "f": [],
    }
    assert generator.radial_paths("root", children) == [
        ["root", "a", "b", "c"],
        ["root", "f"],
        ["a", "d", "e"],
    ]
