"""An outage management system's feed (one snapshot of it) → outages, or rejections. Pure:
no database, no HTTP; the poller fetches the bytes and diffs what this returns.

Each OMS names things its own way, so a feed is read through a named, declarative mapping
(`MAPPINGS`): which property holds the id, the status, the ETR, …, and how times are written.
Every item is turned into the operator's incident body and validated by the same code as
POST /incidents (`incident_from_body`), so a feed can say nothing an operator could not.
One bad item is rejected with a one-line reason and the others go on; only a payload that
cannot be read at all (not UTF-8 JSON, truncated, the wrong top-level shape, too many items)
raises FeedError.

What each mapping reads (pasted into the README):

- `geojson` (a bare URL in OUTAGE_FEEDS; the canonical form): a GeoJSON FeatureCollection, one
  feature an outage. The feature `id` (or `properties.id`, text or integer) is the external id;
  the geometry is a Polygon / MultiPolygon (the area) or a Point (the device location: its
  customers are those of `feeders` / `transformers`, or with neither, those within
  POINT_RADIUS_METERS), or null with feeders / transformers. `properties`: `status`, `kind`,
  `cause`, `message`, `etr`, `starts_at`, `ends_at`, `started_at`, `updated_at` (ISO 8601 with
  offset), `feeders`, `transformers` (lists of ids), `customers_affected` (integer),
  `crew_status` (text shown to operators). Other properties are ignored.
- `pge` (`pge+URL`): the PG&E outage-map JSON, a top-level list of objects. `outageNumber` is
  the id; `outageStartTime` → started_at, `lastUpdateTime` → updated_at, `currentEtor` → ETR
  (epoch seconds, as numbers or strings); `cause`; `estCustAffected` → customers affected;
  `latitude` / `longitude` → the point, whose area is the circle of POINT_RADIUS_METERS;
  `crewCurrentStatus` is kept as the crew status and gives the status: text naming a crew
  assigned, sent or en route → crew_assigned; on site, working or repairing → in_progress;
  anything else → detected.

To add a mapping: (1) add a `FeedMapping(name=…)` to `MAPPINGS` in
outage_notify/ingest/outage_feed.py, naming the property of each field (None: the feed has no
such field) and `items` ("features" or "list"); (2) set `time_format` ("iso" or "epoch");
(3) if the feed has no status word, list `status_rules` (substring of the crew text → status);
(4) add a recorded payload and a test in tests/ingest/test_outage_feed.py;
(5) configure it as `NAME+URL` in OUTAGE_FEEDS.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from outage_notify.incidents.model import IncidentValue, Status
from outage_notify.ingest.operator_api import incident_from_body, parse_time
from outage_notify.ingest.records import RecordError
from outage_notify.ingest.text import check_text, has_control
from outage_notify.matching.geometry import AreaError, circle_polygon
from outage_notify.timeutil import EARLIEST, LATEST

MAX_ID_LENGTH = 200  # as the incident body's external_id
MAX_CREW_STATUS = 300
# Integers longer than this are read as floats by the JSON reader (then refused as a value):
# Python refuses to read integers of more than 4,300 digits, which would fail the whole payload.
MAX_INT_DIGITS = 40


class FeedError(ValueError):
    """The whole payload cannot be read; the message says why."""


@dataclass(frozen=True)
class FeedOutage:
    record: IncidentValue
    customers_affected: int | None  # as the feed says (informational: we match ourselves)
    crew_status: str | None  # OMS free text, shown to operators
    location: tuple[float, float] | None  # (lon, lat) of a Point feature: the device location
    updated_at: datetime | None  # the feed's own last-update time of this outage


@dataclass(frozen=True)
class FeedRejection:
    item: str  # the outage's id when it could be read, else "#<index>"
    reason: str  # one line, for the operator's ingest log


@dataclass(frozen=True)
class FeedSnapshot:
    outages: tuple[FeedOutage, ...]
    rejected: tuple[FeedRejection, ...]


@dataclass(frozen=True)
class FeedMapping:
    """Where each field of an outage is in one item of a feed. A field named None is one the
    feed does not have. With items "features" the properties are read from each feature's
    `properties` and the geometry from its `geometry` (and the id from its `id` first); with
    "list" the payload is a list of flat objects and the point comes from `lat` / `lon`."""

    name: str
    items: Literal["features", "list"]
    id: str
    time_format: Literal["iso", "epoch"]
    status: str | None = None
    crew_status: str | None = None
    # (substring, status), case-insensitive, the first that the crew text contains wins; used
    # when the feed gives no status word. No rule matching (or no crew text): default_status.
    status_rules: tuple[tuple[str, Status], ...] = ()
    default_status: Status = Status.DETECTED
    kind: str | None = None
    cause: str | None = None
    message: str | None = None
    etr: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    feeders: str | None = None
    transformers: str | None = None
    customers: str | None = None
    lat: str | None = None
    lon: str | None = None
    numbers_as_text: bool = False  # numbers may come as strings ("37.90816"); GeoJSON's may not


GEOJSON = FeedMapping(
    name="geojson",
    items="features",
    id="id",
    time_format="iso",
    status="status",
    crew_status="crew_status",
    kind="kind",
    cause="cause",
    message="message",
    etr="etr",
    starts_at="starts_at",
    ends_at="ends_at",
    started_at="started_at",
    updated_at="updated_at",
    feeders="feeders",
    transformers="transformers",
    customers="customers_affected",
)

PGE = FeedMapping(
    name="pge",
    items="list",
    id="outageNumber",
    time_format="epoch",
    crew_status="crewCurrentStatus",
    # Texts seen in October 2019: "PG&E has assigned a crew to assess the outage.", "… is
    # sending a repair crew …", "… crew is en route …", "… repair crew is on-site working to
    # restore power.", "… is assessing the cause at the outage location." (no crew named: a
    # first look, still detected), "… is unable to access the affected equipment.".
    status_rules=(
        ("on-site", Status.IN_PROGRESS),
        ("on site", Status.IN_PROGRESS),
        ("working", Status.IN_PROGRESS),
        ("repairing", Status.IN_PROGRESS),
        ("assigned", Status.CREW_ASSIGNED),
        ("sending", Status.CREW_ASSIGNED),
        ("dispatched", Status.CREW_ASSIGNED),
        ("en route", Status.CREW_ASSIGNED),
    ),
    cause="cause",
    etr="currentEtor",
    started_at="outageStartTime",
    updated_at="lastUpdateTime",
    customers="estCustAffected",
    lat="latitude",
    lon="longitude",
    numbers_as_text=True,
)

MAPPINGS: dict[str, FeedMapping] = {m.name: m for m in (GEOJSON, PGE)}


def parse_outage_feed(
    payload: bytes,
    *,
    mapping: str = "geojson",
    point_radius_m: float = 300.0,
    max_vertices: int = 20000,
    max_items: int = 50000,
) -> FeedSnapshot:
    """Every item of the payload read as an outage or rejected with its reason, in order.
    An id seen twice keeps the first and rejects the second."""
    if mapping not in MAPPINGS:
        raise ValueError(f"unknown outage feed mapping {mapping!r}: one of {', '.join(MAPPINGS)}")
    spec = MAPPINGS[mapping]
    items = _items(_load(payload), spec, max_items)
    outages: list[FeedOutage] = []
    rejected: list[FeedRejection] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        label = f"#{index}"
        try:
            label = _item_id(item, spec)
            if label in seen:  # even when the first was rejected: which one is right is unknown
                raise RecordError(f"duplicate id: item #{seen[label]} has the same id")
            seen[label] = index
            fields, geometry = _fields(item, spec)
            outages.append(_outage(label, fields, geometry, spec, point_radius_m, max_vertices))
        except (RecordError, AreaError) as exc:
            rejected.append(FeedRejection(item=label, reason=_one_line(str(exc))))
    return FeedSnapshot(outages=tuple(outages), rejected=tuple(rejected))


# ---- the payload ---------------------------------------------------------------------------------


def _load(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedError(f"feed is not UTF-8 text (byte {exc.start})") from exc
    try:
        # NaN and Infinity are read (the item holding one is rejected, not the feed).
        return json.loads(text, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise FeedError(f"feed is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    except RecursionError as exc:
        raise FeedError("feed JSON is nested too deeply") from exc


def _int(digits: str) -> int | float:
    return int(digits) if len(digits) <= MAX_INT_DIGITS else float(digits)


def _items(document: Any, spec: FeedMapping, max_items: int) -> list[Any]:
    if spec.items == "features":
        if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
            raise FeedError(f"{spec.name} feed must be a GeoJSON FeatureCollection")
        items = document.get("features")
        if not isinstance(items, list):
            raise FeedError(f"{spec.name} feed's FeatureCollection has no features list")
    else:
        if not isinstance(document, list):
            raise FeedError(f"{spec.name} feed must be a JSON list of outages")
        items = document
    if len(items) > max_items:
        raise FeedError(f"feed holds {len(items)} outages, more than the {max_items} allowed")
    return items


# ---- one item ------------------------------------------------------------------------------------


def _item_id(item: Any, spec: FeedMapping) -> str:
    """The id of an item, read first: a rejection is better named by its id."""
    if spec.items == "features":
        if not isinstance(item, dict) or item.get("type") != "Feature":
            raise RecordError("item is not a GeoJSON Feature")
        raw_id = item.get("id")
        properties = item.get("properties")
        if raw_id is None and isinstance(properties, dict):
            raw_id = properties.get(spec.id)
        return _external_id(raw_id)
    if not isinstance(item, dict):
        raise RecordError("item is not an object")
    return _external_id(item.get(spec.id))


def _fields(item: dict[str, Any], spec: FeedMapping) -> tuple[Mapping[str, Any], Any]:
    """(the properties, the geometry or None) of an item whose id was read."""
    if spec.items == "list":
        return item, None
    properties = item.get("properties")
    if properties is None:
        return {}, item.get("geometry")
    if not isinstance(properties, dict):
        raise RecordError("Feature properties must be an object")
    return properties, item.get("geometry")


def _external_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError("id is missing, or not text or an integer")
    text = str(value).strip()
    if not text:
        raise RecordError("id is empty")
    if len(text) > MAX_ID_LENGTH or has_control(text):
        raise RecordError(f"id is longer than {MAX_ID_LENGTH} characters or has control characters")
    return text


def _outage(
    external_id: str,
    fields: Mapping[str, Any],
    geometry: Any,
    spec: FeedMapping,
    point_radius_m: float,
    max_vertices: int,
) -> FeedOutage:
    def get(name: str | None) -> Any:
        return None if name is None else fields.get(name)

    crew_status = _crew_status(get(spec.crew_status))
    area, location = _extent(geometry, fields, spec)
    body: dict[str, Any] = {
        "external_id": external_id,
        "status": _status(get(spec.status), crew_status, spec),
        "cause": get(spec.cause),
        "message": get(spec.message),
        "area": area,
        "feeders": get(spec.feeders),
        "transformers": get(spec.transformers),
    }
    if get(spec.kind) is not None:
        body["kind"] = get(spec.kind)
    for name in ("etr", "starts_at", "ends_at", "started_at"):
        moment = _moment(get(getattr(spec, name)), name, spec)
        body[name] = moment.isoformat() if moment else None
    on_grid = body["feeders"] or body["transformers"]
    if location is not None and body["area"] is None and not on_grid:
        body["area"] = circle_polygon(*location, point_radius_m)
    return FeedOutage(
        record=incident_from_body(body, max_vertices=max_vertices),
        customers_affected=_count(get(spec.customers), spec),
        crew_status=crew_status,
        location=location,
        updated_at=_moment(get(spec.updated_at), "updated_at", spec),
    )


def _extent(
    geometry: Any, fields: Mapping[str, Any], spec: FeedMapping
) -> tuple[dict[str, Any] | None, tuple[float, float] | None]:
    """(the area as given, the point) of an item: a feature's geometry, or its lat/lon."""
    if spec.items == "list":
        if spec.lat is None or spec.lon is None:
            return None, None
        return None, _point(fields.get(spec.lon), fields.get(spec.lat), spec)
    if geometry is None:
        return None, None
    if not isinstance(geometry, dict):
        raise RecordError("geometry must be a GeoJSON geometry object or null")
    kind = geometry.get("type")
    if kind in ("Polygon", "MultiPolygon"):
        return geometry, None
    if kind == "Point":
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
            raise RecordError("Point coordinates must be [lon, lat]")
        return None, _point(coordinates[0], coordinates[1], spec)
    raise RecordError(f"geometry must be a Polygon, MultiPolygon or Point, not {kind!r}"[:200])


def _point(lon: Any, lat: Any, spec: FeedMapping) -> tuple[float, float]:
    x, y = _number(lon, "longitude", spec), _number(lat, "latitude", spec)
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        raise RecordError(
            "point out of range: lon must be in -180..180 and lat in -90..90 (swapped?)"
        )
    return x, y


def _number(value: Any, name: str, spec: FeedMapping) -> float:
    """A finite number, or a text holding one where the feed writes numbers as strings."""
    if spec.numbers_as_text and isinstance(value, str) and len(value) <= 40:
        with contextlib.suppress(ValueError):  # not a number: refused below
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RecordError(f"{name} must be a finite number")
    return float(value)


def _count(value: Any, spec: FeedMapping) -> int | None:
    if value is None:
        return None
    text = spec.numbers_as_text and isinstance(value, str)
    if text and value.strip().isdecimal() and len(value) <= 12:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        return value
    raise RecordError("customers affected must be a whole number of customers")


def _crew_status(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError("crew status must be text")
    text = check_text(value.strip(), "crew status")
    if len(text) > MAX_CREW_STATUS:
        raise RecordError(f"crew status is longer than {MAX_CREW_STATUS} characters")
    return text or None


def _status(value: Any, crew_status: str | None, spec: FeedMapping) -> Any:
    """The feed's status word when it has one (validated with the body), else the first rule
    the crew text matches, else the default."""
    if value is not None:
        return value
    if crew_status:
        folded = crew_status.casefold()
        for needle, status in spec.status_rules:
            if needle.casefold() in folded:
                return status.value
    return spec.default_status.value


def _moment(value: Any, name: str, spec: FeedMapping) -> datetime | None:
    if value is None:
        return None
    if spec.time_format == "epoch":
        return _epoch(value, name, spec)
    return parse_time(value, name)


def _epoch(value: Any, name: str, spec: FeedMapping) -> datetime:
    seconds = _number(value, name, spec)
    if not EARLIEST.timestamp() <= seconds < LATEST.timestamp():
        raise RecordError(
            f"{name} must be epoch seconds between {EARLIEST.year} and {LATEST.year - 1}"
        )
    return datetime.fromtimestamp(seconds, UTC)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
