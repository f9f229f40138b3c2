"""CAP (Common Alerting Protocol) documents → frozen alerts, or one CapError. Pure: no database,
no HTTP; the poller fetches the bytes, this reads them.

A document is one CAP 1.2 or 1.1 `alert`, or any other element holding several (SMHI's
non-standard `<alerts>` wrapper, a "fat" Atom feed with the CAP embedded): a list of alerts
comes back, in document order.

Reading is in three steps, each refusing the whole document with a one-line CapError:
1. defusedxml reads the bytes first, so a DTD (and with it every entity and external reference:
   the billion laughs, XXE) is refused before any other parser sees them;
2. lxml reads them again, with entities, DTDs and the network off, and every alert is
   validated against the OASIS CAP 1.2 schema (lxml gives the line of a failure, and skips an
   XML signature as the schema's `lax` asks, where xmlschema would reject a real Canadian
   alert for its signature's Id). A CAP 1.1 alert is validated against the same schema made
   1.1: its namespace, times without the 1.2 offset pattern, mimeType optional,
   altitude/ceiling free text. That is looser than the 1.1 schema in one place only: it also
   accepts the 1.2 responseType values Avoid and AllClear;
3. the alerts are read into dataclasses. Geometry the schema cannot check (polygon, circle,
   reference text) is repaired or dropped here with a note, never failing the document: an
   unclosed ring is closed, a self-crossing one made valid (shapely make_valid, "structure"
   method, through outage_notify.matching.geometry), one that cannot be dropped. Notes are on
   the Area and, with where they come from, on the Alert for the ingest log.

GeoJSON is (lon, lat); CAP is "lat,lon": every coordinate here is already swapped to GeoJSON.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as StdET
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import defusedxml
import defusedxml.ElementTree as DefusedET
import shapely
from lxml import etree

from outage_notify.matching.geometry import (
    AreaError,
    area_to_geojson,
    circle_polygon,
    parse_area,
)

NS12 = "urn:oasis:names:tc:emergency:cap:1.2"
NS11 = "urn:oasis:names:tc:emergency:cap:1.1"
VERSIONS = {NS12: "1.2", NS11: "1.1"}
SCHEMA_12 = Path(__file__).parent / "schemas" / "cap12.xsd"
# A CAP alert is kilobytes; a "fat" Atom feed is larger and its poller passes its own limit.
DEFAULT_MAX_BYTES = 10 * 2**20
# No warning area is wider than this: past it a circle round any point covers a pole.
MAX_RADIUS_KM = 5_000.0
# An invalid polygon is repaired only up to this size: GEOS's repair of a ring cut into
# thousands of lobes takes seconds (bench/cap.py), and a real sender's broken polygon is small.
MAX_REPAIR_VERTICES = 5_000
DEFAULT_LANGUAGE = "en-US"  # CAP: an info block with no <language> is in en-US

Pair = tuple[str, str]  # (valueName, value)
GeoJSON = dict[str, Any]


class CapError(ValueError):
    """The document cannot be read as CAP; the message is one line saying why (and where)."""


class Reference(NamedTuple):
    """One "sender,identifier,sent" of <references>: equal to the alert_key of the alert cited."""

    sender: str
    identifier: str
    sent: datetime


@dataclass(frozen=True)
class Circle:
    lon: float
    lat: float
    radius_km: float
    polygon: GeoJSON | None  # the circle drawn as a GeoJSON Polygon; None for radius 0 (a point)


@dataclass(frozen=True)
class Area:
    description: str
    polygons: tuple[GeoJSON, ...]  # GeoJSON Polygons, (lon, lat); a repaired bow-tie gives two
    circles: tuple[Circle, ...]
    geocodes: tuple[Pair, ...]
    notes: tuple[str, ...] = ()  # what was repaired or dropped, for the ingest log


@dataclass(frozen=True)
class Info:
    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    event_codes: tuple[Pair, ...]
    effective: datetime  # CAP: when absent, the alert's sent time
    onset: datetime | None
    expires: datetime | None
    sender_name: str | None
    headline: str | None
    description: str | None
    instruction: str | None
    web: str | None
    parameters: tuple[Pair, ...]  # e.g. ("awareness_level", "2; yellow; Moderate")
    areas: tuple[Area, ...]


@dataclass(frozen=True)
class Alert:
    identifier: str
    sender: str
    sent: datetime  # aware, in the offset the sender wrote
    status: str
    msg_type: str
    scope: str
    references: tuple[Reference, ...]
    infos: tuple[Info, ...]
    version: str  # "1.2" or "1.1"
    notes: tuple[str, ...] = ()  # every repair or drop in the alert, saying where


def alert_key(alert: Alert) -> tuple[str, str, datetime]:
    """What identifies a CAP message (and what <references> cite): (sender, identifier, sent)."""
    return (alert.sender, alert.identifier, alert.sent)


def info_for(alert: Alert, language: str) -> Info | None:
    """The alert's info block in this language ("fi", "sv-FI", "en", …): the same tag first,
    else the same primary language (an "en" customer gets en-GB or en-US); None if neither."""
    wanted = language.strip().lower()
    primary = wanted.split("-")[0]
    for info in alert.infos:
        if info.language.lower() == wanted:
            return info
    for info in alert.infos:
        if info.language.lower().split("-")[0] == primary:
            return info
    return None


def parse_cap(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Alert]:
    """Every CAP alert in the document, or CapError (and no other exception)."""
    if not isinstance(data, bytes | bytearray):
        raise CapError(f"a CAP document is bytes, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise CapError(f"document of {len(data)} bytes is over the limit of {max_bytes}")
    _refuse_unsafe(bytes(data))
    root = _lxml_root(bytes(data))
    elements = _alert_elements(root)
    for element in elements:
        _validate(element)
    return [_alert(element) for element in elements]


# ---- reading and validating ------------------------------------------------------------------


def _refuse_unsafe(data: bytes) -> None:
    """defusedxml's reading, only to refuse what no CAP document needs and attacks use."""
    defused_root(data, what="document")


def defused_root(data: bytes, *, what: str) -> Any:
    """defusedxml's reading of a document or feed (`what` names it in errors): a DTD, and so
    every entity bomb and external reference, is refused with a CapError."""
    try:
        return DefusedET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden as exc:
        detail = (
            ", which CAP never needs and entity bombs and external references come in"
            if what == "document"
            else ""
        )
        raise CapError(
            f"refused: the {what} declares a DTD (<!DOCTYPE {exc.name}>){detail}"
        ) from exc
    except defusedxml.EntitiesForbidden as exc:
        raise CapError(f"refused: the document declares the entity {exc.name!r}") from exc
    except defusedxml.DefusedXmlException as exc:
        raise CapError(f"refused: {exc}") from exc
    except StdET.ParseError as exc:
        raise CapError(f"not XML: {exc}") from exc
    except (ValueError, LookupError) as exc:  # an unknown or impossible encoding
        raise CapError(f"not XML: {exc}") from exc


def _lxml_root(data: bytes) -> Any:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise CapError(f"not XML: {exc}") from exc
    except (ValueError, LookupError) as exc:
        raise CapError(f"not XML: {exc}") from exc
    if root is None:
        raise CapError("not XML: the document has no root element")
    return root


def _alert_elements(root: Any) -> list[Any]:
    if etree.QName(root).localname == "alert" and etree.QName(root).namespace in VERSIONS:
        return [root]
    found = list(root.iter(f"{{{NS12}}}alert", f"{{{NS11}}}alert"))
    if not found:
        raise CapError(
            f"not CAP: the root element {_short(root.tag)} (line {root.sourceline}) is not a "
            f"CAP 1.2 or 1.1 alert and holds none"
        )
    return found


def _validate(element: Any) -> None:
    namespace = etree.QName(element).namespace
    schema = _schema(namespace)
    if schema.validate(element):
        return
    first = next(iter(schema.error_log), None)  # the first error: later ones may follow from it
    where = f"line {first.line}: {_short(first.message)}" if first else "the schema says no"
    raise CapError(f"not valid CAP {VERSIONS[namespace]}: {where}")


@cache
def _schema(namespace: str) -> Any:
    """The OASIS CAP 1.2 schema, or that schema made CAP 1.1 (see the module's docstring)."""
    source = SCHEMA_12.read_bytes()
    if namespace == NS11:
        source = source.replace(NS12.encode(), NS11.encode())
    document = etree.fromstring(source, etree.XMLParser(resolve_entities=False, no_network=True))
    if namespace == NS11:
        _loosen_to_cap11(document)
    return etree.XMLSchema(document)


def _loosen_to_cap11(schema: Any) -> None:
    xs = "{http://www.w3.org/2001/XMLSchema}"
    schema.set("version", "1.1")
    for pattern in list(schema.iter(f"{xs}pattern")):  # 1.1 times: any xs:dateTime
        pattern.getparent().remove(pattern)
    for element in schema.iter(f"{xs}element"):
        name = element.get("name")
        if name == "mimeType":
            element.set("minOccurs", "0")
        elif name in ("altitude", "ceiling"):
            element.set("type", "xs:string")


def _short(text: str) -> str:
    """Namespaces shortened to cap: and the message to one line."""
    for namespace in VERSIONS:
        text = text.replace(f"{{{namespace}}}", "cap:")
    return " ".join(text.split())


# ---- the alert ---------------------------------------------------------------------------------


class _Reader:
    """Reads one validated alert element; collects the notes for the ingest log."""

    def __init__(self, element: Any) -> None:
        self.ns = etree.QName(element).namespace
        self.notes: list[str] = []

    def children(self, element: Any, name: str) -> list[Any]:
        return list(element.iterfind(f"{{{self.ns}}}{name}"))

    def text(self, element: Any, name: str) -> str | None:
        """The child's text, stripped; None when the child is absent or empty."""
        child = element.find(f"{{{self.ns}}}{name}")
        if child is None:
            return None
        return (child.text or "").strip() or None

    def required(self, element: Any, name: str) -> str:
        # The schema requires the element; its text may still be empty.
        return self.text(element, name) or ""

    def time(self, element: Any, name: str) -> datetime | None:
        text = self.text(element, name)
        if text is None:
            return None
        child = element.find(f"{{{self.ns}}}{name}")
        return _time(text, f"{name} (line {child.sourceline})")

    def pairs(self, element: Any, name: str) -> tuple[Pair, ...]:
        return tuple(
            (self.text(child, "valueName") or "", self.text(child, "value") or "")
            for child in self.children(element, name)
        )


def _alert(element: Any) -> Alert:
    reader = _Reader(element)
    sent = reader.time(element, "sent")
    if sent is None:  # the schema requires it, and an xs:dateTime is never empty
        raise CapError(f"alert (line {element.sourceline}) has no sent time")
    references = _references(reader.text(element, "references"), reader.notes)
    infos = tuple(
        _info(reader, info, sent, number)
        for number, info in enumerate(reader.children(element, "info"), start=1)
    )
    return Alert(
        identifier=reader.required(element, "identifier"),
        sender=reader.required(element, "sender"),
        sent=sent,
        status=reader.required(element, "status"),
        msg_type=reader.required(element, "msgType"),
        scope=reader.required(element, "scope"),
        references=references,
        infos=infos,
        version=VERSIONS[reader.ns],
        notes=tuple(reader.notes),
    )


def _time(text: str, where: str) -> datetime:
    """An xs:dateTime with its offset. The 1.2 schema's pattern insists on one; a 1.1 time
    without it could be anywhere in the world, so it is refused rather than guessed."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CapError(f"{where}: {text!r} is not a date-time") from exc
    if value.tzinfo is None:
        raise CapError(f"{where}: {text!r} has no time-zone offset")
    return value


def _references(text: str | None, notes: list[str]) -> tuple[Reference, ...]:
    """Space-separated "sender,identifier,sent" triples (CAP forbids spaces and commas in the
    first two); one that does not read is left out with a note, the others kept."""
    found = []
    for triple in (text or "").split():
        parts = triple.split(",")
        try:
            if len(parts) != 3 or not parts[0] or not parts[1]:
                raise CapError("not sender,identifier,sent")
            found.append(Reference(parts[0], parts[1], _time(parts[2], "sent")))
        except CapError as exc:
            notes.append(f"reference {triple!r} left out: {exc}")
    return tuple(found)


def _info(reader: _Reader, element: Any, sent: datetime, number: int) -> Info:
    language = reader.text(element, "language") or DEFAULT_LANGUAGE
    areas = []
    for area_element in reader.children(element, "area"):
        area = _area(reader, area_element)
        areas.append(area)
        reader.notes.extend(
            f"info {number} ({language}), area {area.description!r}: {note}" for note in area.notes
        )
    return Info(
        language=language,
        categories=tuple(
            (child.text or "").strip() for child in reader.children(element, "category")
        ),
        event=reader.required(element, "event"),
        urgency=reader.required(element, "urgency"),
        severity=reader.required(element, "severity"),
        certainty=reader.required(element, "certainty"),
        event_codes=reader.pairs(element, "eventCode"),
        effective=reader.time(element, "effective") or sent,
        onset=reader.time(element, "onset"),
        expires=reader.time(element, "expires"),
        sender_name=reader.text(element, "senderName"),
        headline=reader.text(element, "headline"),
        description=reader.text(element, "description"),
        instruction=reader.text(element, "instruction"),
        web=reader.text(element, "web"),
        parameters=reader.pairs(element, "parameter"),
        areas=tuple(areas),
    )


# ---- areas -------------------------------------------------------------------------------------

# "lat, lon" with spaces round the comma is read as "lat,lon" (seen in hand-edited feeds).
_COMMA = re.compile(r"\s*,\s*")


def _area(reader: _Reader, element: Any) -> Area:
    notes: list[str] = []
    polygons: list[GeoJSON] = []
    for number, child in enumerate(reader.children(element, "polygon"), start=1):
        label = f"polygon {number} (line {child.sourceline})"
        polygons.extend(_polygons(child.text or "", label, notes))
    circles = []
    for number, child in enumerate(reader.children(element, "circle"), start=1):
        label = f"circle {number} (line {child.sourceline})"
        circle = _circle(child.text or "", label, notes)
        if circle is not None:
            circles.append(circle)
    return Area(
        description=reader.required(element, "areaDesc"),
        polygons=tuple(polygons),
        circles=tuple(circles),
        geocodes=reader.pairs(element, "geocode"),
        notes=tuple(notes),
    )


def _point(text: str) -> tuple[float, float]:
    """A CAP "lat,lon" as (lon, lat); ValueError saying what is wrong."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"{text[:40]!r} is not a lat,lon pair")
    lat, lon = float(parts[0]), float(parts[1])
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError(f"{text[:40]!r} is not a pair of finite numbers")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"{text[:40]!r} is out of range (CAP is lat,lon: swapped?)")
    return lon, lat


def _polygons(text: str, label: str, notes: list[str]) -> list[GeoJSON]:
    """The polygon as GeoJSON Polygons: itself when valid, its parts once repaired, none when
    it cannot be (with a note). An empty <polygon/> (NWS sends them) is no polygon at all."""
    tokens = _COMMA.sub(",", text.strip()).split()
    if not tokens:
        return []
    try:
        ring = [_point(token) for token in tokens]
    except ValueError as exc:
        notes.append(f"{label} dropped: {exc}")
        return []
    if ring[0] != ring[-1]:
        ring.append(ring[0])
        notes.append(f"{label} was not closed (first point not repeated last): closed")
    if len(ring) < 4:
        notes.append(f"{label} dropped: fewer than 3 distinct points")
        return []
    geojson: GeoJSON = {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}
    polygon = shapely.Polygon(ring)
    if polygon.is_valid:
        return [geojson]
    reason = shapely.is_valid_reason(polygon)
    if len(ring) > MAX_REPAIR_VERTICES:
        notes.append(
            f"{label} dropped: invalid ({reason}) with {len(ring) - 1} vertices, more than "
            f"{MAX_REPAIR_VERTICES} to repair"
        )
        return []
    try:
        repaired = parse_area(geojson)
    except AreaError as exc:
        notes.append(f"{label} dropped: invalid ({reason}) and cannot be repaired: {exc}")
        return []
    parts = _polygons_of(area_to_geojson(repaired))
    notes.append(f"{label} was invalid ({reason}): repaired into {len(parts)} polygon(s)")
    return parts


def _polygons_of(area: GeoJSON) -> list[GeoJSON]:
    """A GeoJSON Polygon or MultiPolygon as Polygons, converted once as a whole (a ring
    repaired into thousands of lobes would otherwise be converted lobe by lobe)."""
    if area["type"] == "Polygon":
        return [area]
    return [{"type": "Polygon", "coordinates": rings} for rings in area["coordinates"]]


def _circle(text: str, label: str, notes: list[str]) -> Circle | None:
    """A "lat,lon radius-km" circle, drawn as a polygon in a local azimuthal equidistant
    projection; radius 0 is a point, kept without a polygon."""
    parts = _COMMA.sub(",", text.strip()).split()
    try:
        if len(parts) != 2:
            raise ValueError(f"{text.strip()[:40]!r} is not 'lat,lon radius'")
        lon, lat = _point(parts[0])
        radius = float(parts[1])
        if not (math.isfinite(radius) and 0 <= radius <= MAX_RADIUS_KM):
            raise ValueError(f"radius {parts[1][:20]!r} km is not between 0 and {MAX_RADIUS_KM:g}")
    except ValueError as exc:
        notes.append(f"{label} dropped: {exc}")
        return None
    if radius == 0:
        return Circle(lon=lon, lat=lat, radius_km=0.0, polygon=None)
    try:
        polygon = circle_polygon(lon, lat, radius * 1000.0)
    except AreaError as exc:
        notes.append(f"{label} dropped: {exc}")
        return None
    return Circle(lon=lon, lat=lat, radius_km=radius, polygon=polygon)
