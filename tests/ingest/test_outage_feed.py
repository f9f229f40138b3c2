"""The outage feed parser: a snapshot of an OMS feed → outages, or rejections with reasons."""

from __future__ import annotations

import contextlib
import json
import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Point, shape

from outage_notify.incidents.model import Status
from outage_notify.ingest import outage_feed
from outage_notify.ingest.outage_feed import (
    MAPPINGS,
    FeedError,
    FeedRejection,
    FeedSnapshot,
    parse_outage_feed,
)
from tests.outages import EARLIER, LATER, pge_snapshot

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[24.93, 60.17], [24.95, 60.17], [24.95, 60.18], [24.93, 60.18], [24.93, 60.17]]
    ],
}
ETR = "2026-11-25T18:30:00+02:00"


def feature(fid: Any = "OMS-1", geometry: Any = SQUARE, **properties: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": properties}
    if fid is not None:
        out["id"] = fid
    return out


def collection(*features: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def point(lon: Any, lat: Any) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def one(snapshot: FeedSnapshot) -> outage_feed.FeedOutage:
    assert snapshot.rejected == ()
    (outage,) = snapshot.outages
    return outage


def rejection(snapshot: FeedSnapshot) -> FeedRejection:
    assert snapshot.outages == ()
    (rejected,) = snapshot.rejected
    assert "\n" not in rejected.reason and rejected.reason
    return rejected


def pge_item(**changes: Any) -> dict[str, Any]:
    item = {
        "outageNumber": "689846",
        "outageStartTime": "1572214468",
        "crewCurrentStatus": "PG&E has assigned a crew to assess the outage.",
        "cause": "Unknown - PG&E will be assessing the cause.",
        "estCustAffected": "12",
        "lastUpdateTime": "1572236077",
        "hazardFlag": "1",
        "latitude": "37.90816",
        "longitude": "-122.07466",
        "regionName": "Acalanes Ridge",
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


def pge(*items: Any) -> bytes:
    return json.dumps(list(items)).encode()


# ---- the canonical GeoJSON form ------------------------------------------------------------------


def test_a_polygon_feature_becomes_the_incident_the_operator_api_would_make() -> None:
    outage = one(
        parse_outage_feed(
            collection(
                feature(
                    "OMS-2026-000123",
                    status="crew_assigned",
                    cause="storm damage",
                    etr=ETR,
                    feeders=["F-102"],
                    started_at="2026-11-25T15:02:00+02:00",
                    updated_at="2026-11-25T15:10:00Z",
                    customers_affected=1234,
                    crew_status="crew on the way",
                    message={"fi": "Myrsky", "en": "Storm"},
                )
            )
        )
    )
    record = outage.record
    assert record.external_id == "OMS-2026-000123"
    assert (record.kind, record.status, record.cause) == (
        "unplanned",
        "crew_assigned",
        "storm damage",
    )
    assert record.etr == datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
    assert record.started_at == datetime(2026, 11, 25, 13, 2, tzinfo=UTC)
    assert record.feeders == ("F-102",)
    assert record.message == (("en", "Storm"), ("fi", "Myrsky"))
    assert shape(record.area).equals(shape(SQUARE))
    assert outage.customers_affected == 1234
    assert outage.crew_status == "crew on the way"
    assert outage.location is None
    assert outage.updated_at == datetime(2026, 11, 25, 15, 10, tzinfo=UTC)


def test_the_id_may_be_in_the_properties_and_an_integer() -> None:
    outage = one(parse_outage_feed(collection(feature(None, id=42))))
    assert outage.record.external_id == "42"
    assert outage.record.status == Status.DETECTED  # no status: as the incident body


def test_a_point_with_grid_ids_is_matched_by_them_and_keeps_its_location() -> None:
    outage = one(
        parse_outage_feed(collection(feature("P-1", point(24.94, 60.17), transformers=["T-5531"])))
    )
    assert outage.record.area is None
    assert outage.record.transformers == ("T-5531",)
    assert outage.location == (24.94, 60.17)


def test_a_bare_point_affects_the_circle_of_the_point_radius() -> None:
    outage = one(
        parse_outage_feed(collection(feature("P-1", point(24.94, 60.17))), point_radius_m=500)
    )
    assert outage.location == (24.94, 60.17)
    area = shape(outage.record.area)
    geod = Geod(ellps="WGS84")
    lon, lat = 24.94, 60.17
    inside = geod.fwd(lon, lat, 45, 480)[:2]
    outside = geod.fwd(lon, lat, 45, 520)[:2]
    assert area.covers(Point(*inside))
    assert not area.covers(Point(*outside))


def test_planned_work_from_the_feed() -> None:
    outage = one(
        parse_outage_feed(
            collection(
                feature(
                    "W-1",
                    kind="planned",
                    starts_at="2026-12-01T08:00:00+02:00",
                    ends_at="2026-12-01T12:00:00+02:00",
                )
            )
        )
    )
    assert outage.record.planned
    assert outage.record.ends_at == datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_a_past_etr_is_kept_for_the_poller_to_mark_overdue() -> None:
    outage = one(parse_outage_feed(collection(feature(etr="2001-01-01T00:00:00+00:00"))))
    assert outage.record.etr == datetime(2001, 1, 1, tzinfo=UTC)


# ---- hostile items: each rejected with its reason, the others kept ----------------------------

GOOD = feature("GOOD", status="detected")
HOSTILE = [
    pytest.param(feature(None), "#0", "id", id="missing id"),
    pytest.param(feature(True), "#0", "id", id="boolean id"),
    pytest.param(feature(1.5), "#0", "id", id="float id"),
    pytest.param(feature("A\x1b[2J"), "#0", "control", id="control character in the id"),
    pytest.param(feature(cause="fell\x00over"), "OMS-1", "control character", id="NUL in cause"),
    pytest.param(feature(cause=["storm"]), "OMS-1", "cause must be text", id="cause not text"),
    pytest.param(feature(status="fixed"), "OMS-1", "status must be one of", id="unknown status"),
    pytest.param(feature(status=3), "OMS-1", "status must be one of", id="status a number"),
    pytest.param(
        feature(etr="2026-11-25T18:30:00"), "OMS-1", "UTC offset", id="ETR without offset"
    ),
    pytest.param(feature(etr=1764088200), "OMS-1", "etr must be an ISO 8601", id="ETR a number"),
    pytest.param(
        feature(etr="9999-12-31T23:59:59+14:00"), "OMS-1", "must lie between", id="ETR far"
    ),
    pytest.param(feature(feeders="F-1"), "OMS-1", "feeders must be a list", id="feeders not list"),
    pytest.param(feature(customers_affected=-3), "OMS-1", "customers", id="negative customers"),
    pytest.param(feature(customers_affected="many"), "OMS-1", "customers", id="customers as words"),
    pytest.param(
        feature(crew_status=7), "OMS-1", "crew status must be text", id="crew status number"
    ),
    pytest.param(feature(geometry=None), "OMS-1", "area, feeders or transformers", id="no extent"),
    pytest.param(feature(geometry=point(math.nan, 60.17)), "OMS-1", "finite", id="NaN longitude"),
    pytest.param(
        feature(geometry=point(24.9, math.inf)), "OMS-1", "finite", id="Infinity latitude"
    ),
    pytest.param(feature(geometry=point(60.17, 124.94)), "OMS-1", "swapped", id="lat out of range"),
    pytest.param(
        feature(geometry=point("24.9", 60.1)), "OMS-1", "finite", id="coordinates as text"
    ),
    pytest.param(feature(customers_affected="12"), "OMS-1", "customers", id="customers as text"),
    pytest.param(
        feature(geometry=point(179.9999, 60.1)), "OMS-1", "antimeridian", id="circle over 180°"
    ),
    pytest.param(
        feature(geometry=point(None, 60.1)), "OMS-1", "finite", id="point coordinate null"
    ),
    pytest.param(
        feature(geometry={"type": "Point"}), "OMS-1", "[lon, lat]", id="point without coordinates"
    ),
    pytest.param(
        feature(geometry={"type": "LineString", "coordinates": [[24, 60], [25, 60]]}),
        "OMS-1",
        "not 'LineString'",
        id="line geometry",
    ),
    pytest.param(
        feature(
            geometry={
                "type": "Polygon",
                "coordinates": [[[24.9, 60.1], [math.nan, 60.2], [25, 60.2], [24.9, 60.1]]],
            }
        ),
        "OMS-1",
        "finite numbers",
        id="NaN in a polygon",
    ),
    pytest.param(
        feature(kind="planned"), "OMS-1", "starts_at and ends_at", id="planned without window"
    ),
    pytest.param(feature(message=["x"]), "OMS-1", "message", id="message a list"),
    pytest.param(
        {"type": "Feature", "id": "X", "properties": [1]}, "X", "properties", id="properties a list"
    ),
    pytest.param(["not", "a", "feature"], "#0", "Feature", id="item a list"),
]


@pytest.mark.parametrize(("item", "label", "reason"), HOSTILE)
def test_a_hostile_item_is_rejected_and_the_next_one_kept(
    item: Any, label: str, reason: str
) -> None:
    payload = json.dumps({"type": "FeatureCollection", "features": [item, GOOD]}).encode()
    snapshot = parse_outage_feed(payload)
    assert [o.record.external_id for o in snapshot.outages] == ["GOOD"]
    (rejected,) = snapshot.rejected
    assert rejected.item == label
    assert reason in rejected.reason
    assert "\n" not in rejected.reason


def test_an_area_over_the_vertex_limit_is_rejected() -> None:
    ring = [[24.0 + i * 1e-4, 60.0 + (i % 2) * 1e-4] for i in range(60)]
    ring += [[24.0, 61.0], ring[0]]
    big = {"type": "Polygon", "coordinates": [ring]}
    assert (
        "more than 50 vertices"
        in rejection(parse_outage_feed(collection(feature(geometry=big)), max_vertices=50)).reason
    )


def test_a_duplicate_id_rejects_the_second_even_when_the_first_was_bad() -> None:
    snapshot = parse_outage_feed(
        collection(
            feature("A", cause="first"),
            feature("A", cause="second"),
            feature("B", status="nonsense"),
            feature("B"),
        )
    )
    assert [o.record.cause for o in snapshot.outages] == ["first"]
    assert [(r.item, r.reason) for r in snapshot.rejected] == [
        ("A", "duplicate id: item #0 has the same id"),
        ("B", "status must be one of detected, crew_assigned, in_progress, restored, cancelled"),
        ("B", "duplicate id: item #2 has the same id"),
    ]


def test_numbers_too_long_for_python_reject_the_item_not_the_feed() -> None:
    payload = (
        b'{"type": "FeatureCollection", "features": ['
        b'{"type": "Feature", "id": '
        + b"9" * 5000
        + b', "geometry": null, "properties": {}},'
        + json.dumps(GOOD).encode()
        + b"]}"
    )
    snapshot = parse_outage_feed(payload)
    assert [o.record.external_id for o in snapshot.outages] == ["GOOD"]
    assert snapshot.rejected[0].item == "#0"


# ---- payloads that cannot be read at all -------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "mapping", "says"),
    [
        pytest.param(b"\xff\xfe{}", "geojson", "UTF-8", id="not UTF-8"),
        pytest.param(collection(GOOD)[:-7], "geojson", "not valid JSON", id="truncated"),
        pytest.param(b"", "geojson", "not valid JSON", id="empty"),
        pytest.param(b"<html>502 Bad Gateway</html>", "pge", "not valid JSON", id="an error page"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "pge", "nested too deeply", id="nested"),
        pytest.param(b"[]", "geojson", "FeatureCollection", id="a list for geojson"),
        pytest.param(b'{"type": "Feature"}', "geojson", "FeatureCollection", id="one feature"),
        pytest.param(
            b'{"type": "FeatureCollection"}', "geojson", "features list", id="no features"
        ),
        pytest.param(collection(GOOD), "pge", "JSON list", id="an object for pge"),
        pytest.param(b"NaN", "pge", "JSON list", id="a bare NaN"),
    ],
)
def test_an_unreadable_payload_is_a_feed_error(payload: bytes, mapping: str, says: str) -> None:
    with pytest.raises(FeedError, match=says):
        parse_outage_feed(payload, mapping=mapping)


def test_more_items_than_allowed_is_a_feed_error() -> None:
    payload = collection(*(feature(f"O-{i}") for i in range(11)))
    assert len(parse_outage_feed(payload, max_items=11).outages) == 11
    with pytest.raises(FeedError, match="11 outages, more than the 10 allowed"):
        parse_outage_feed(payload, max_items=10)


def test_an_unknown_mapping_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown outage feed mapping 'esri'"):
        parse_outage_feed(b"[]", mapping="esri")


# ---- the pge mapping -----------------------------------------------------------------------------


def test_a_pge_outage() -> None:
    outage = one(
        parse_outage_feed(
            pge(pge_item(currentEtor="1572240600")), mapping="pge", point_radius_m=300
        )
    )
    record = outage.record
    assert record.external_id == "689846"
    assert record.status == Status.CREW_ASSIGNED
    assert record.cause == "Unknown - PG&E will be assessing the cause."
    assert record.started_at == datetime.fromtimestamp(1572214468, UTC)
    assert record.etr == datetime.fromtimestamp(1572240600, UTC)  # long past: kept
    assert outage.updated_at == datetime.fromtimestamp(1572236077, UTC)
    assert outage.customers_affected == 12
    assert outage.crew_status == "PG&E has assigned a crew to assess the outage."
    assert outage.location == (-122.07466, 37.90816)
    assert shape(record.area).covers(Point(-122.07466, 37.90816 + 0.0025))  # ~280 m north
    assert not shape(record.area).covers(Point(-122.07466, 37.90816 + 0.0029))  # ~320 m


@pytest.mark.parametrize(
    ("crew", "status"),
    [
        ("PG&E has assigned a crew to assess the outage.", Status.CREW_ASSIGNED),
        ("PG&E is sending a repair crew to the outage location.", Status.CREW_ASSIGNED),
        ("PG&E assessment crew is en route to the outage.", Status.CREW_ASSIGNED),
        ("PG&E repair crew is en route to the outage location.", Status.CREW_ASSIGNED),
        ("Crew DISPATCHED", Status.CREW_ASSIGNED),
        ("PG&E repair crew is on-site working to restore power.", Status.IN_PROGRESS),
        ("Crew on site", Status.IN_PROGRESS),
        ("Repairing the line", Status.IN_PROGRESS),
        ("PG&E is assessing the cause at the outage location.", Status.DETECTED),
        ("PG&E is unable to access the affected equipment.", Status.DETECTED),
        ("", Status.DETECTED),
        (None, Status.DETECTED),
    ],
)
def test_pge_status_comes_from_the_crew_text(crew: str | None, status: Status) -> None:
    payload = pge(
        pge_item(crewCurrentStatus=crew) if crew is not None else _without("crewCurrentStatus")
    )
    assert one(parse_outage_feed(payload, mapping="pge")).record.status == status


def _without(key: str) -> dict[str, Any]:
    item = pge_item()
    del item[key]
    return item


def test_pge_status_rules_are_data_in_the_mapping() -> None:
    rules = MAPPINGS["pge"].status_rules
    assert {status for _, status in rules} == {Status.CREW_ASSIGNED, Status.IN_PROGRESS}
    # "on-site working" must be read before anything that would call it only assigned.
    first = {needle: i for i, (needle, _) in enumerate(rules)}
    assert first["on-site"] < first["assigned"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param({"latitude": "NaN"}, "latitude must be a finite number", id="NaN text"),
        pytest.param(
            {"longitude": "-Infinity"}, "longitude must be a finite number", id="Infinity"
        ),
        pytest.param({"latitude": None}, "latitude must be a finite number", id="no latitude"),
        pytest.param({"latitude": "37,9"}, "latitude must be a finite number", id="decimal comma"),
        pytest.param({"latitude": "-122.07", "longitude": "37.9"}, "swapped", id="swapped"),
        pytest.param({"longitude": "237.9"}, "out of range", id="out of range"),
        pytest.param({"outageStartTime": "yesterday"}, "started_at must be", id="start as words"),
        pytest.param({"outageStartTime": "99999999999"}, "between 2000 and 2099", id="start far"),
        pytest.param({"lastUpdateTime": True}, "updated_at must be", id="update a boolean"),
        pytest.param({"currentEtor": "1e400"}, "etr must be", id="ETR infinite"),
        pytest.param({"estCustAffected": "1.5"}, "customers", id="half a customer"),
        pytest.param({"cause": "x" * 301}, "longer than 300", id="long cause"),
        pytest.param({"crewCurrentStatus": "a\u2028b"}, "control character", id="line separator"),
        pytest.param({"outageNumber": None}, "id is missing", id="no id"),
        pytest.param({"outageNumber": {"n": 1}}, "id is missing", id="id an object"),
    ],
)
def test_a_bad_pge_item_is_rejected(changes: dict[str, Any], reason: str) -> None:
    snapshot = parse_outage_feed(
        pge(pge_item(**changes), pge_item(outageNumber="2")), mapping="pge"
    )
    assert [o.record.external_id for o in snapshot.outages] == ["2"]
    (rejected,) = snapshot.rejected
    assert reason in rejected.reason


def test_pge_numbers_may_be_json_numbers() -> None:
    item = pge_item(
        outageNumber=7,
        outageStartTime=1572214468,
        estCustAffected=3,
        latitude=37.9,
        longitude=-122.0,
    )
    outage = one(parse_outage_feed(pge(item), mapping="pge"))
    assert (outage.record.external_id, outage.customers_affected, outage.location) == (
        "7",
        3,
        (-122.0, 37.9),
    )


@pytest.mark.parametrize(("name", "count"), [(LATER, 4060), (EARLIER, 4040)])
def test_the_real_pge_snapshots_parse_without_a_rejection(name: str, count: int) -> None:
    snapshot = parse_outage_feed(pge_snapshot(name), mapping="pge")
    # Every one of the October 2019 outages is well formed: ids unique, times, points in
    # California, numbers as strings.
    assert snapshot.rejected == ()
    assert len(snapshot.outages) == count
    statuses = Counter(o.record.status for o in snapshot.outages)
    assert set(statuses) == {Status.DETECTED, Status.CREW_ASSIGNED, Status.IN_PROGRESS}
    assert all(o.record.area is not None and o.location is not None for o in snapshot.outages)
    lons = [o.location[0] for o in snapshot.outages if o.location]
    lats = [o.location[1] for o in snapshot.outages if o.location]
    assert -124.5 < min(lons) < max(lons) < -114 and 32 < min(lats) < max(lats) < 42.1
    assert sum(o.customers_affected or 0 for o in snapshot.outages) > 0
    assert all(o.record.started_at and o.updated_at for o in snapshot.outages)


# ---- anything at all ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["detected", "planned", ETR, "2026-11-25T18:30:00", "1572214468", "NaN"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
GEOJSON_KEYS = st.sampled_from(
    [
        "id",
        "status",
        "cause",
        "etr",
        "feeders",
        "transformers",
        "kind",
        "starts_at",
        "ends_at",
        "message",
        "started_at",
        "updated_at",
        "customers_affected",
        "crew_status",
    ]
)
PGE_KEYS = st.sampled_from(
    [
        "outageNumber",
        "outageStartTime",
        "lastUpdateTime",
        "crewCurrentStatus",
        "cause",
        "estCustAffected",
        "latitude",
        "longitude",
        "currentEtor",
    ]
)
geometries = st.none() | json_values | st.builds(point, json_values, json_values) | st.just(SQUARE)


def _settled(payload: bytes, mapping: str, items: int) -> None:
    snapshot = parse_outage_feed(payload, mapping=mapping)
    assert len(snapshot.outages) + len(snapshot.rejected) == items
    assert all(r.reason and "\n" not in r.reason for r in snapshot.rejected)


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(json_values, geometries, st.dictionaries(GEOJSON_KEYS, json_values)), max_size=4
    )
)
def test_any_geojson_properties_give_an_outage_or_a_rejection(items: list[Any]) -> None:
    features = [
        {"type": "Feature", "id": fid, "geometry": geometry, "properties": props}
        for fid, geometry, props in items
    ]
    _settled(collection(*features), "geojson", len(features))


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.dictionaries(PGE_KEYS, json_values) | json_values, max_size=4))
def test_any_pge_items_give_an_outage_or_a_rejection(items: list[Any]) -> None:
    _settled(pge(*items), "pge", len(items))


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional=dict.fromkeys(
                [
                    "outageNumber",
                    "latitude",
                    "longitude",
                    "outageStartTime",
                    "currentEtor",
                    "estCustAffected",
                    "crewCurrentStatus",
                ],
                json_values,
            ),
        ).map(lambda d: {**pge_item(), **d}),
        max_size=4,
    )
)
def test_pge_items_with_some_values_replaced_give_an_outage_or_a_rejection(
    items: list[Any],
) -> None:
    _settled(pge(*items), "pge", len(items))


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=200) | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_any_bytes_give_a_snapshot_or_a_feed_error(payload: bytes) -> None:
    for mapping in MAPPINGS:
        with contextlib.suppress(FeedError):
            parse_outage_feed(payload, mapping=mapping)


def test_the_mapping_document_names_every_field_each_mapping_reads() -> None:
    doc = outage_feed.__doc__ or ""
    for spec in MAPPINGS.values():
        assert f"`{spec.name}`" in doc
        for field in (
            "id",
            "crew_status",
            "cause",
            "etr",
            "started_at",
            "updated_at",
            "customers",
            "lat",
            "lon",
        ):
            source = getattr(spec, field)
            if source is not None:
                assert f"`{source}`" in doc, (spec.name, field, source)
    assert "To add a mapping" in doc
