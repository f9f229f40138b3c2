"""Customer records from CSV, GeoJSON or JSON: validate one at a time so one bad row never
stops the good ones. Pure: bytes or dicts in, records and rejections out."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from outage_notify.config import LANGUAGES
from outage_notify.ingest.records import PRIORITIES, CustomerRecord, RecordError, Rejection
from outage_notify.ingest.text import check_text
from outage_notify.planning.rules import CHANNELS, QuietHours

if TYPE_CHECKING:
    from outage_notify.matching.territory import Territory

FIELDS = (
    "customer_id",
    "name",
    "address",
    "phone",
    "email",
    "language",
    "lat",
    "lon",
    "channels",
    "feeder",
    "transformer",
    "quiet_hours",
    "priority",
)
REQUIRED_COLUMNS = ("customer_id", "lat", "lon")


class FileFormatError(ValueError):
    """The file as a whole cannot be read (not a single bad row)."""


@dataclass
class ParsedCustomers:
    records: list[tuple[int, CustomerRecord]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class CustomerRules:
    default_language: str = "fi"
    default_region: str = "FI"
    territory: Territory | None = None  # a configured TERRITORY: a location outside is refused


# ---- one record ------------------------------------------------------------------------------


def validate_customer(raw: Mapping[str, Any], rules: CustomerRules) -> CustomerRecord:
    """One customer as sent → a clean record, or RecordError saying what is wrong."""
    if not isinstance(raw, Mapping):
        raise RecordError("a customer must be an object of fields")
    if "__error__" in raw:
        raise RecordError(str(raw["__error__"]))
    customer_id = _text(raw, "customer_id", max_len=100)
    if not customer_id:
        raise RecordError("customer_id is missing")
    phone = _phone(_text(raw, "phone", max_len=40), rules.default_region)
    email = _email(_text(raw, "email", max_len=320))
    channels = _channels(raw.get("channels"), phone=phone, email=email)
    record = CustomerRecord(
        customer_id=customer_id,
        name=_text(raw, "name", max_len=200),
        address=_text(raw, "address", max_len=300),
        phone=phone,
        email=email,
        language=_language(_text(raw, "language", max_len=20), rules.default_language),
        lat=_coordinate(raw.get("lat"), "lat", 90.0),
        lon=_coordinate(raw.get("lon"), "lon", 180.0),
        channels=channels,
        feeder=_text(raw, "feeder", max_len=64),
        transformer=_text(raw, "transformer", max_len=64),
        quiet_hours=_quiet_hours(_text(raw, "quiet_hours", max_len=20)),
        priority=_priority(_text(raw, "priority", max_len=40)),
    )
    if rules.territory is not None:
        from outage_notify.matching.territory import outside_reason  # geometry: only then

        outside = outside_reason(rules.territory, record.lon, record.lat)
        if outside:
            raise RecordError(outside)
    return record


def _text(raw: Mapping[str, Any], name: str, *, max_len: int) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordError(f"{name} must be text")
    text = check_text(str(value).strip(), name)
    if len(text) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    return text or None


def normalise_phone(text: str, region: str) -> str:
    """E.164, or RecordError: parseable is not enough, the number must be valid."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise RecordError(f"phone {text!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise RecordError(f"phone {text!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone(text: str | None, region: str) -> str | None:
    return normalise_phone(text, region) if text else None


def _email(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise RecordError(f"email {text!r} is not a valid address: {exc}") from exc


def _language(text: str | None, default: str) -> str:
    if not text:
        return default
    code = text.replace("_", "-").split("-")[0].lower()
    if code not in LANGUAGES:
        raise RecordError(f"language {text!r} is not one of fi, sv, en")
    return code


def _coordinate(value: Any, name: str, limit: float) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RecordError(f"{name} is missing")
    try:
        number = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else value
        number = float(number)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{name} {_short(value)} is not a number") from exc
    except OverflowError as exc:  # a JSON integer of hundreds of digits
        raise RecordError(f"{name} {_short(value)} is out of range") from exc
    if isinstance(value, bool) or not math.isfinite(number) or abs(number) > limit:
        raise RecordError(f"{name} {value!r} is out of range -{limit:g}..{limit:g}")
    return number


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _channels(value: Any, *, phone: str | None, email: str | None) -> str | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else str(value).replace(",", ";").split(";")
    chosen = {str(item).strip().lower() for item in items if str(item).strip()}
    if not chosen:
        return None
    unknown = chosen - set(CHANNELS)
    if unknown:
        raise RecordError(f"channels has {', '.join(sorted(unknown))}: allowed are sms;email;push")
    if "sms" in chosen and not phone:
        raise RecordError("channels lists sms but there is no phone")
    if "email" in chosen and not email:
        raise RecordError("channels lists email but there is no email")
    return ";".join(ch for ch in CHANNELS if ch in chosen)


def _quiet_hours(text: str | None) -> str | None:
    if not text:
        return None
    try:
        hours = QuietHours.parse(text)
    except ValueError as exc:
        raise RecordError(str(exc)) from exc
    return f"{hours.start:%H:%M}-{hours.end:%H:%M}"


def _priority(text: str | None) -> str | None:
    if not text:
        return None
    priority = text.lower()
    if priority not in PRIORITIES:
        raise RecordError(f"priority {text!r} is not one of {', '.join(PRIORITIES)} (or empty)")
    return priority


# ---- many records ----------------------------------------------------------------------------


def validate_all(
    rows: Iterable[tuple[int, Any, int | None]], rules: CustomerRules
) -> ParsedCustomers:
    """(index, raw, line) rows → records and rejections. A customer_id repeated within one
    batch keeps its first record and rejects the repeat, naming the first: the sender must
    say which one is meant."""
    parsed = ParsedCustomers()
    seen: dict[str, str] = {}  # customer_id → where it first stood, as the sender counts
    for index, raw, line in rows:
        try:
            record = validate_customer(raw, rules)
        except RecordError as exc:
            parsed.rejections.append(Rejection(index, str(exc), _raw_id(raw), line))
            continue
        if record.customer_id in seen:
            error = f"customer_id repeats the one at {seen[record.customer_id]}"
            parsed.rejections.append(Rejection(index, error, record.customer_id, line))
            continue
        seen[record.customer_id] = f"line {line}" if line is not None else f"index {index}"
        parsed.records.append((index, record))
    return parsed


def _raw_id(raw: Any) -> str | None:
    if isinstance(raw, Mapping) and isinstance(raw.get("customer_id"), str | int):
        return str(raw["customer_id"]).strip() or None
    return None


def parse_json_list(items: Any, rules: CustomerRules) -> ParsedCustomers:
    if not isinstance(items, list):
        raise FileFormatError("expected a JSON list of customers")
    return validate_all(((i, item, None) for i, item in enumerate(items)), rules)


def parse_file(data: bytes, filename: str, rules: CustomerRules) -> ParsedCustomers:
    """CSV (comma, semicolon or tab separated) or GeoJSON, told apart by content."""
    text = _decode(data)
    if text.lstrip().startswith(("{", "[")):
        return parse_geojson(text, rules)
    return parse_csv(text, rules)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"file is not UTF-8 text (byte {exc.start})") from exc


def parse_csv(text: str, rules: CustomerRules) -> ParsedCustomers:
    lines = text.splitlines()
    if not lines:
        raise FileFormatError("file is empty")
    delimiter = _delimiter(lines[0])
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FileFormatError(f"CSV header lacks {', '.join(missing)} (has {', '.join(header)})")
    reader.fieldnames = header
    rows = ((i, _csv_row(row), reader.line_num) for i, row in enumerate(reader))
    return validate_all(rows, rules)


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _csv_row(row: dict[str | None, Any]) -> dict[str, Any]:
    if None in row:  # more cells than header columns
        return {"__error__": "row has more cells than the header has columns"}
    return {k: v for k, v in row.items() if k is not None}


def parse_geojson(text: str, rules: CustomerRules) -> ParsedCustomers:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"not valid JSON: {exc}") from exc
    if isinstance(document, list):
        return parse_json_list(document, rules)
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise FileFormatError("GeoJSON customers must be a FeatureCollection of Point features")
    features = document.get("features")
    if not isinstance(features, list):
        raise FileFormatError("FeatureCollection has no features list")
    crs = _crs_name(document)
    raws = [_feature_fields(f, crs) for f in features]
    return validate_all(((i, raw, None) for i, raw in enumerate(raws)), rules)


def _crs_name(document: Mapping[str, Any]) -> str | None:
    crs = document.get("crs")
    if not isinstance(crs, Mapping):
        return None
    name = (crs.get("properties") or {}).get("name")
    if not isinstance(name, str) or name.upper().endswith(("CRS84", "4326")):
        return None
    return name


def _feature_fields(feature: Any, crs: str | None) -> Any:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        return {"__error__": "not a GeoJSON Feature"}
    fields = dict(feature.get("properties") or {})
    if "customer_id" not in fields and feature.get("id") is not None:
        fields["customer_id"] = feature["id"]
    geometry = feature.get("geometry")
    if geometry is None:
        return fields  # lat/lon may be among the properties
    point = _point(geometry, crs)
    if isinstance(point, str):
        return {"__error__": point, "customer_id": fields.get("customer_id")}
    fields["lon"], fields["lat"] = point
    return fields


def _point(geometry: Any, crs: str | None) -> tuple[float, float] | str:
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
        return "geometry must be a Point"
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        return "Point coordinates must be [lon, lat]"
    x, y = coords[0], coords[1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)):
        return "Point coordinates must be numbers"
    if crs is None:
        return float(x), float(y)
    # pyproj and shapely only for the rare projected file: a CSV import should not load them.
    from outage_notify.matching.geometry import AreaError, to_wgs84_points

    try:
        lon, lat = to_wgs84_points(float(x), float(y), crs)
    except AreaError as exc:
        return str(exc)
    return float(lon), float(lat)
