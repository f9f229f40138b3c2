"""The operator's incident body (POST/PATCH /incidents) → IncidentValue. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from outage_notify.config import LANGUAGES
from outage_notify.incidents.model import (
    OPERATOR_KINDS,
    OPERATOR_STATUSES,
    IncidentKind,
    IncidentValue,
    Status,
    frozen_message,
    grid_ids,
)
from outage_notify.ingest.records import RecordError
from outage_notify.ingest.text import check_text
from outage_notify.matching.geometry import AreaError, area_to_geojson, parse_area
from outage_notify.timeutil import TimeRangeError, parse_iso_aware

PATCHABLE = (
    "etr",
    "status",
    "area",
    "cause",
    "message",
    "feeders",
    "transformers",
    "starts_at",
    "ends_at",
    "started_at",
)
MAX_GRID_IDS = 10_000
MAX_ID_LENGTH = 64  # as customers' feeder and transformer ids
MAX_EXTERNAL_ID = 200


def incident_from_body(body: Mapping[str, Any], *, max_vertices: int) -> IncidentValue:
    """A full incident body: what is absent is absent (no ETR, no cause), not "unchanged"."""
    external_id = body.get("external_id")
    if not isinstance(external_id, str) or not external_id.strip():
        raise RecordError("external_id is required", code="external_id_required")
    if len(external_id) > MAX_EXTERNAL_ID:
        raise RecordError(
            f"external_id is longer than {MAX_EXTERNAL_ID} characters",
            code="text_too_long",
            field="external_id",
            limit=MAX_EXTERNAL_ID,
        )
    check_text(external_id, "external_id")
    record = IncidentValue(
        external_id=external_id.strip(),
        kind=_choice(body.get("kind", IncidentKind.UNPLANNED), "kind", OPERATOR_KINDS),
        status=_choice(body.get("status", Status.DETECTED), "status", OPERATOR_STATUSES),
        cause=_optional_text(body.get("cause"), "cause", 300),
        message=frozen_message(_message(body.get("message"))),
        area=_area(body.get("area"), max_vertices),
        feeders=grid_ids(_ids(body.get("feeders"), "feeders")),
        transformers=grid_ids(_ids(body.get("transformers"), "transformers")),
        etr=parse_time(body.get("etr"), "etr"),
        starts_at=parse_time(body.get("starts_at"), "starts_at"),
        ends_at=parse_time(body.get("ends_at"), "ends_at"),
        started_at=parse_time(body.get("started_at"), "started_at"),
    )
    return check_consistent(record)


def apply_patch(
    current: IncidentValue, patch: Mapping[str, Any], *, max_vertices: int
) -> IncidentValue:
    """The fields given replace the current ones; a field given as null clears it."""
    fixed = {"external_id", "kind"} & set(patch)
    if fixed:
        raise RecordError(f"{', '.join(sorted(fixed))} cannot be changed", code="field_fixed")
    unknown = set(patch) - set(PATCHABLE)
    if unknown:
        raise RecordError(f"unknown fields: {', '.join(sorted(unknown))}", code="fields_unknown")
    parsers = {
        "etr": lambda v: parse_time(v, "etr"),
        "starts_at": lambda v: parse_time(v, "starts_at"),
        "ends_at": lambda v: parse_time(v, "ends_at"),
        "started_at": lambda v: parse_time(v, "started_at"),
        "status": lambda v: _choice(v, "status", OPERATOR_STATUSES),
        "cause": lambda v: _optional_text(v, "cause", 300),
        "message": lambda v: frozen_message(_message(v)),
        "area": lambda v: _area(v, max_vertices),
        "feeders": lambda v: grid_ids(_ids(v, "feeders")),
        "transformers": lambda v: grid_ids(_ids(v, "transformers")),
    }
    changes: dict[str, Any] = {name: parsers[name](value) for name, value in patch.items()}
    return check_consistent(replace(current, **changes))


def check_consistent(record: IncidentValue) -> IncidentValue:
    if record.area is None and not record.feeders and not record.transformers:
        raise RecordError(
            "an incident needs an area, feeders or transformers", code="incident_needs_area"
        )
    if record.kind == "planned":
        if record.starts_at is None or record.ends_at is None:
            raise RecordError(
                "planned work needs starts_at and ends_at", code="planned_needs_window"
            )
        if record.ends_at <= record.starts_at:
            raise RecordError("ends_at must be after starts_at", code="window_order")
    return record


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise RecordError(f"{name} must be one of {', '.join(allowed)}", code="choice", field=name)
    return str(value)


def _optional_text(value: Any, name: str, max_len: int, *, multiline: bool = False) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{name} must be text", code="text_type", field=name)
    text = check_text(value.strip(), name, multiline=multiline)
    if len(text) > max_len:
        raise RecordError(
            f"{name} is longer than {max_len} characters",
            code="text_too_long",
            field=name,
            limit=max_len,
        )
    return text or None


def _message(value: Any) -> str | dict[str, str] | None:
    if value is None or isinstance(value, str):
        return _optional_text(value, "message", 1000, multiline=True)
    if isinstance(value, Mapping):
        unknown = set(value) - set(LANGUAGES)
        if unknown:
            raise RecordError("message by language takes the keys fi, sv, en")
        texts = {
            lang: _optional_text(text, f"message.{lang}", 1000, multiline=True)
            for lang, text in value.items()
        }
        return {lang: text for lang, text in texts.items() if text} or None
    raise RecordError("message must be text, or an object of texts by language (fi, sv, en)")


def _area(value: Any, max_vertices: int) -> dict[str, object] | None:
    if value is None:
        return None
    try:
        return area_to_geojson(parse_area(value, max_vertices=max_vertices))
    except AreaError as exc:
        raise RecordError(exc.message, code=exc.code, **exc.params) from exc


def _ids(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise RecordError(f"{name} must be a list of ids")
    if len(value) > MAX_GRID_IDS:
        raise RecordError(f"{name} lists more than {MAX_GRID_IDS} ids")
    ids = {check_text(str(v).strip(), name) for v in value}
    if any(len(i) > MAX_ID_LENGTH for i in ids):
        raise RecordError(f"{name} holds an id longer than {MAX_ID_LENGTH} characters")
    return tuple(sorted(i for i in ids if i))


def parse_time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(
            f"{name} must be an ISO 8601 time with offset", code="time_format", field=name
        )
    try:
        return parse_iso_aware(value)
    except TimeRangeError as exc:
        raise RecordError(f"{name} {exc}", code="time_range", field=name) from exc
    except ValueError as exc:
        raise RecordError(
            f"{name} must be an ISO 8601 time with a UTC offset, e.g. 2026-11-25T18:30:00+02:00",
            code="time_format",
            field=name,
        ) from exc
