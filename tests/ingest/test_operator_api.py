"""The operator's incident body (POST /incidents) and patch (PATCH /incidents/{id})."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outage_notify.incidents.model import IncidentValue
from outage_notify.ingest import operator_api
from outage_notify.ingest.records import RecordError
from outage_notify.matching.geometry import DEFAULT_MAX_VERTICES

# The parsers as the service calls them, with the default MAX_AREA_VERTICES.
incident_from_body = partial(operator_api.incident_from_body, max_vertices=DEFAULT_MAX_VERTICES)
apply_patch = partial(operator_api.apply_patch, max_vertices=DEFAULT_MAX_VERTICES)

AREA = {
    "type": "Polygon",
    "coordinates": [
        [[24.93, 60.17], [24.95, 60.17], [24.95, 60.18], [24.93, 60.18], [24.93, 60.17]]
    ],
}
BOW_TIE = {
    "type": "Polygon",
    "coordinates": [[[24.0, 60.0], [24.2, 60.2], [24.2, 60.0], [24.0, 60.2], [24.0, 60.0]]],
}


def body(**fields: Any) -> dict[str, Any]:
    """The contract's example body; a field given as ... is left out."""
    base: dict[str, Any] = {"external_id": "OMS-2026-000123", "area": AREA}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def planned_body(**fields: Any) -> dict[str, Any]:
    window = {
        "kind": "planned",
        "starts_at": "2026-11-27T09:00:00+02:00",
        "ends_at": "2026-11-27T13:00:00+02:00",
    }
    return body(**(window | fields))


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(RecordError) as info:
        incident_from_body(data)
    assert str(info.value)
    return str(info.value)


def refused_patch(current: IncidentValue, patch: dict[str, Any]) -> str:
    with pytest.raises(RecordError) as info:
        apply_patch(current, patch)
    assert str(info.value)
    return str(info.value)


# ---- a full body ---------------------------------------------------------------------------------


def test_contract_example_body() -> None:
    record = incident_from_body(
        {
            "external_id": "OMS-2026-000123",
            "kind": "unplanned",
            "status": "detected",
            "cause": "storm damage",
            "area": AREA,
            "feeders": ["F-102"],
            "transformers": ["T-5531"],
            "etr": "2026-11-25T18:30:00+02:00",
            "starts_at": None,
            "ends_at": None,
        }
    )
    assert record == IncidentValue(
        external_id="OMS-2026-000123",
        kind="unplanned",
        status="detected",
        cause="storm damage",
        message=None,
        area=AREA_CANONICAL,
        feeders=("F-102",),
        transformers=("T-5531",),
        etr=datetime(2026, 11, 25, 16, 30, tzinfo=UTC),
        starts_at=None,
        ends_at=None,
        started_at=None,
    )


AREA_CANONICAL = {
    "type": "Polygon",
    "coordinates": [
        [[24.93, 60.17], [24.95, 60.17], [24.95, 60.18], [24.93, 60.18], [24.93, 60.17]]
    ],
}


def test_defaults_are_unplanned_and_detected_with_nothing_else() -> None:
    record = incident_from_body(body())
    assert (record.kind, record.status) == ("unplanned", "detected")
    assert record.etr is None and record.cause is None and record.message is None
    assert record.feeders == () and record.transformers == ()


def test_external_id_is_trimmed_and_required() -> None:
    assert incident_from_body(body(external_id="  OMS-1 ")).external_id == "OMS-1"
    for bad in (None, "", "   ", 123, ["OMS-1"]):
        assert "external_id" in refused(body(external_id=bad))
    assert "external_id" in refused(body(external_id=...))
    assert "200" in refused(body(external_id="x" * 201))


# ---- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["etr", "starts_at", "ends_at", "started_at"])
@pytest.mark.parametrize(
    "naive", ["2026-11-25T18:30:00", "2026-11-25 18:30", "2026-11-25T18:30:00.000", "2026-11-25"]
)
def test_time_without_offset_is_refused(field: str, naive: str) -> None:
    message = refused(body(**{field: naive}))
    assert field in message
    assert "offset" in message


@pytest.mark.parametrize("bad", ["tomorrow evening", "25.11.2026 18:30", "", 1764088200, True])
def test_time_that_is_not_iso_8601_is_refused(bad: Any) -> None:
    assert "etr" in refused(body(etr=bad))


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-25T18:30:00Z", datetime(2026, 11, 25, 18, 30, tzinfo=UTC)),
        ("2026-11-25T18:30:00z", datetime(2026, 11, 25, 18, 30, tzinfo=UTC)),
        ("2026-11-25T18:30:00+02:00", datetime(2026, 11, 25, 16, 30, tzinfo=UTC)),
        ("2026-11-25T18:30:00.5-05:00", datetime(2026, 11, 25, 23, 30, 0, 500000, tzinfo=UTC)),
        (" 2026-11-25T18:30+00:00 ", datetime(2026, 11, 25, 18, 30, tzinfo=UTC)),
    ],
)
def test_time_with_offset_or_z_is_read_as_utc(text: str, utc: datetime) -> None:
    etr = incident_from_body(body(etr=text)).etr
    assert etr == utc
    assert etr is not None and etr.utcoffset() == timedelta(0)


def test_absent_etr_means_no_estimate() -> None:
    assert incident_from_body(body(etr=None)).etr is None


# ---- planned work ------------------------------------------------------------------------------


def test_planned_work_with_its_window() -> None:
    record = incident_from_body(planned_body())
    assert record.kind == "planned"
    assert record.starts_at == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert record.ends_at == datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("missing", ["starts_at", "ends_at"])
def test_planned_without_its_window_is_refused(missing: str) -> None:
    message = refused(planned_body(**{missing: None}))
    assert "starts_at and ends_at" in message


def test_planned_without_any_window_is_refused() -> None:
    assert "starts_at and ends_at" in refused(body(kind="planned"))


@pytest.mark.parametrize(
    "ends_at",
    ["2026-11-27T09:00:00+02:00", "2026-11-27T07:00:00Z", "2026-11-27T08:59:59+02:00"],
    ids=["equal", "same-instant-other-offset", "before"],
)
def test_planned_ending_before_or_when_it_starts_is_refused(ends_at: str) -> None:
    assert "ends_at must be after starts_at" in refused(planned_body(ends_at=ends_at))


def test_ordering_is_by_instant_not_by_text() -> None:
    # 10:00+03:00 reads later than a 09:00+02:00 start, but it is the same instant (07:00 UTC).
    assert "after" in refused(planned_body(ends_at="2026-11-27T10:00:00+03:00"))
    # 08:00Z is after 07:00Z although "08:00" < "09:00" as text
    record = incident_from_body(planned_body(ends_at="2026-11-27T08:00:00Z"))
    assert record.ends_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_unplanned_may_carry_a_window_or_not() -> None:
    assert incident_from_body(body(starts_at=None, ends_at=None)).starts_at is None
    record = incident_from_body(body(starts_at="2026-11-25T21:38:00+02:00"))
    assert record.starts_at == datetime(2026, 11, 25, 19, 38, tzinfo=UTC)
    assert record.ends_at is None


# ---- where ---------------------------------------------------------------------------------------


def test_no_area_and_no_grid_ids_is_refused() -> None:
    for data in (
        body(area=None),
        body(area=..., feeders=[], transformers=[]),
        body(area=None, feeders=["", "  "]),
    ):
        assert "area, feeders or transformers" in refused(data)


@pytest.mark.parametrize(
    "where",
    [{"feeders": ["F-102"]}, {"transformers": ["T-5531"]}, {"area": AREA}],
    ids=["feeders", "transformers", "area"],
)
def test_any_one_of_area_feeders_transformers_is_enough(where: dict[str, Any]) -> None:
    record = incident_from_body({"external_id": "X", **where})
    [(name, value)] = where.items()
    assert getattr(record, name) == (tuple(value) if isinstance(value, list) else value)


def test_grid_ids_are_trimmed_deduplicated_and_sorted() -> None:
    record = incident_from_body(body(feeders=[" F-2", "F-1", "F-2 ", "", 7]))
    assert record.feeders == ("7", "F-1", "F-2")


@pytest.mark.parametrize("bad", ["F-102", {"F-102": 1}, [None], [["F-1"]], 5])
def test_grid_ids_must_be_a_list_of_ids(bad: Any) -> None:
    assert "feeders must be a list of ids" in refused(body(feeders=bad))
    assert "transformers must be a list of ids" in refused(body(transformers=bad))


def test_too_many_grid_ids_are_refused() -> None:
    assert "more than" in refused(body(feeders=[f"F{i}" for i in range(10_001)]))


def test_area_is_made_valid_and_canonical() -> None:
    record = incident_from_body(body(area=BOW_TIE))
    assert record.area is not None and record.area["type"] == "MultiPolygon"
    assert isinstance(record.area["coordinates"], list)


@pytest.mark.parametrize(
    ("area", "words"),
    [
        ({"type": "Point", "coordinates": [24.94, 60.17]}, ["Polygon"]),
        (
            {
                "type": "Polygon",
                "coordinates": [[[60.17, 124.9], [60.2, 124.9], [60.2, 125], [60.17, 124.9]]],
            },
            ["out of range"],
        ),
        ({"type": "Polygon", "coordinates": []}, ["empty"]),
        ("POLYGON((0 0, 1 0, 1 1, 0 0))", ["GeoJSON"]),
    ],
    ids=["point", "out-of-range", "empty", "wkt"],
)
def test_bad_area_is_refused_as_a_record_error(area: Any, words: list[str]) -> None:
    message = refused(body(area=area))
    for word in words:
        assert word in message


def test_feature_collection_with_a_bow_tie_is_a_record_or_a_record_error() -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[25.0, 60.0], [25.1, 60.0], [25.1, 60.1], [25.0, 60.1], [25.0, 60.0]]],
    }
    area = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": BOW_TIE},
            {"type": "Feature", "properties": {}, "geometry": square},
        ],
    }
    try:
        record = incident_from_body(body(area=area))
    except RecordError:
        return
    assert record.area is not None


# ---- status, kind, text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", ["detected", "crew_assigned", "in_progress", "restored", "cancelled"]
)
def test_known_statuses_are_accepted(status: str) -> None:
    assert incident_from_body(body(status=status)).status == status


@pytest.mark.parametrize("status", ["fixed", "Detected", "", None, 1, "in progress"])
def test_unknown_status_is_refused(status: Any) -> None:
    assert "status must be one of" in refused(body(status=status))


@pytest.mark.parametrize("kind", ["emergency", "Planned", "", None])
def test_unknown_kind_is_refused(kind: Any) -> None:
    assert "kind must be one of" in refused(body(kind=kind))


def test_cause_is_trimmed_and_blank_is_none() -> None:
    assert incident_from_body(body(cause="  fallen tree ")).cause == "fallen tree"
    assert incident_from_body(body(cause="   ")).cause is None
    assert "cause must be text" in refused(body(cause=["tree"]))
    assert "longer than 300" in refused(body(cause="x" * 301))


def test_plain_message() -> None:
    assert incident_from_body(body(message=" Keep away. ")).message == "Keep away."
    assert "longer than 1000" in refused(body(message="x" * 1001))


def test_message_per_language_is_accepted() -> None:
    message = {"fi": "Pysy kaukana.", "sv": " Håll avstånd. ", "en": "Keep away."}
    record = incident_from_body(body(message=message))
    assert record.message_json == {"fi": "Pysy kaukana.", "sv": "Håll avstånd.", "en": "Keep away."}


def test_message_per_language_drops_blank_texts() -> None:
    record = incident_from_body(body(message={"fi": "Pysy kaukana.", "sv": " ", "en": None}))
    assert record.message_json == {"fi": "Pysy kaukana."}
    assert incident_from_body(body(message={"fi": ""})).message is None
    assert incident_from_body(body(message={})).message is None


@pytest.mark.parametrize(
    "message", [{"de": "Abstand halten."}, {"fi": "x", "se": "y"}, {"FI": "x"}, {"fi-FI": "x"}]
)
def test_message_with_unknown_language_keys_is_refused(message: dict[str, str]) -> None:
    assert "fi, sv, en" in refused(body(message=message))


@pytest.mark.parametrize("message", [["Keep away."], 5, True])
def test_message_that_is_neither_text_nor_object_is_refused(message: Any) -> None:
    assert "message must be text" in refused(body(message=message))


def test_message_text_by_language_must_be_text() -> None:
    assert "message.sv must be text" in refused(body(message={"sv": 5}))


# ---- patch ---------------------------------------------------------------------------------------


@pytest.fixture
def current() -> IncidentValue:
    return incident_from_body(
        body(
            feeders=["F-102"],
            transformers=["T-5531"],
            cause="fallen tree",
            message="Keep away.",
            etr="2026-11-25T23:30:00+02:00",
            started_at="2026-11-25T21:38:00+02:00",
        )
    )


def test_patch_replaces_only_the_fields_given(current: IncidentValue) -> None:
    patched = apply_patch(current, {"etr": "2026-11-26T00:30:00+02:00", "status": "in_progress"})
    assert patched.etr == datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    assert patched.status == "in_progress"
    unchanged = ("external_id", "kind", "cause", "message", "area", "feeders", "started_at")
    for name in unchanged:
        assert getattr(patched, name) == getattr(current, name), name


def test_empty_patch_changes_nothing(current: IncidentValue) -> None:
    assert apply_patch(current, {}) == current


@pytest.mark.parametrize(
    ("patch", "field"),
    [({"kind": "planned"}, "kind"), ({"external_id": "OMS-2"}, "external_id")],
)
def test_patch_cannot_change_kind_or_external_id(
    current: IncidentValue, patch: dict[str, Any], field: str
) -> None:
    assert f"{field} cannot be changed" in refused_patch(current, patch)


def test_patch_naming_the_same_kind_is_still_refused(current: IncidentValue) -> None:
    assert "cannot be changed" in refused_patch(current, {"kind": "unplanned", "etr": None})


def test_patch_with_unknown_field_is_refused(current: IncidentValue) -> None:
    assert "unknown fields: colour" in refused_patch(current, {"colour": "red"})


@pytest.mark.parametrize("field", ["etr", "cause", "message", "started_at", "transformers"])
def test_patch_with_null_clears_a_field(current: IncidentValue, field: str) -> None:
    assert getattr(current, field) not in (None, ())
    patched = apply_patch(current, {field: None})
    assert getattr(patched, field) in (None, ())


def test_patch_clearing_the_area_keeps_the_feeders(current: IncidentValue) -> None:
    patched = apply_patch(current, {"area": None})
    assert patched.area is None and patched.feeders == ("F-102",)


def test_patch_cannot_leave_the_incident_nowhere(current: IncidentValue) -> None:
    message = refused_patch(current, {"area": None, "feeders": None, "transformers": []})
    assert "area, feeders or transformers" in message


def test_status_cannot_be_cleared(current: IncidentValue) -> None:
    assert "status must be one of" in refused_patch(current, {"status": None})


def test_patch_validates_what_it_sets(current: IncidentValue) -> None:
    assert "offset" in refused_patch(current, {"etr": "2026-11-26T00:30:00"})
    assert "status must be one of" in refused_patch(current, {"status": "done"})
    assert "fi, sv, en" in refused_patch(current, {"message": {"de": "x"}})
    assert "Polygon" in refused_patch(current, {"area": {"type": "Point", "coordinates": [0, 0]}})


def test_patch_sets_a_message_per_language(current: IncidentValue) -> None:
    patched = apply_patch(current, {"message": {"sv": "Håll avstånd."}})
    assert patched.message_json == {"sv": "Håll avstånd."}


def test_patch_of_planned_work_keeps_the_window_consistent() -> None:
    current = incident_from_body(planned_body())
    assert "starts_at and ends_at" in refused_patch(current, {"ends_at": None})
    assert "after starts_at" in refused_patch(current, {"ends_at": "2026-11-27T08:00:00+02:00"})
    moved = apply_patch(
        current, {"starts_at": "2026-11-28T09:00:00+02:00", "ends_at": "2026-11-28T12:00:00+02:00"}
    )
    assert moved.starts_at == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert moved.ends_at == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_patch_does_not_change_the_current_record(current: IncidentValue) -> None:
    before = current
    apply_patch(current, {"etr": None, "status": "restored"})
    assert current == before and current.etr is not None and current.status == "detected"


# ---- property ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, database=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(-14 * 60, 14 * 60).filter(lambda m: m % 15 == 0),
)
def test_any_aware_time_reads_back_as_the_same_instant(
    moment: datetime, offset_minutes: int
) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    etr = incident_from_body(body(etr=local.isoformat())).etr
    assert etr == moment
    assert etr is not None and etr.tzinfo is not None and etr.utcoffset() == timedelta(0)
    assert "offset" in refused(body(etr=local.replace(tzinfo=None).isoformat()))
