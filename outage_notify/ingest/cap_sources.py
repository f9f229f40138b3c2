"""What a CAP_FEEDS URL returned, read into work for the poller. Pure: no database, no HTTP.

A source is one of:
- a CAP 1.2 / 1.1 document (one `alert`, or a wrapper holding several, SMHI style);
- an Atom or RSS index whose entries link to CAP documents (FMI style): the links come back
  for the poller to fetch;
- a "fat" Atom (or RSS) feed whose entries embed the CAP alert;
- a GeoJSON FeatureCollection of alerts with CAP properties (US NWS api.weather.gov), read into
  the same Alert model as CAP.

A source that is none of these is refused with one CapError. Inside a feed, one bad entry (or
NWS feature) is a note and the rest is kept: a feed of fifty warnings must not be lost to one.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as StdET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import shapely
import shapely.errors
from shapely.geometry import shape

from outage_notify.ingest.cap import (
    DEFAULT_LANGUAGE,
    DEFAULT_MAX_BYTES,
    NS11,
    NS12,
    Alert,
    Area,
    CapError,
    GeoJSON,
    Info,
    Pair,
    Reference,
    defused_root,
    parse_cap,
)
from outage_notify.matching.geometry import AreaError, area_to_geojson, parse_area

ATOM = "{http://www.w3.org/2005/Atom}"
CAP_TAGS = (f"{{{NS12}}}alert", f"{{{NS11}}}alert")
# Media types that say "this link is a CAP document" (the first is the registered one).
CAP_TYPES = frozenset({"application/cap+xml", "application/common-alerting-protocol+xml"})
# Atom link relations that can point at the entry's document (an absent rel is "alternate").
CAP_RELS = frozenset({"alternate", "related", "enclosure"})
FETCHABLE_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class IndexEntry:
    """One CAP document an index links to: the poller fetches `url` (absolute, http(s))."""

    url: str
    updated: datetime | None  # the entry's updated/published/pubDate, when given and readable
    entry_id: str | None  # Atom id or RSS guid


@dataclass(frozen=True)
class Source:
    kind: str  # "cap", "atom", "rss" or "geojson": what the bytes were read as
    alerts: tuple[Alert, ...]  # embedded or converted alerts, in document order
    links: tuple[IndexEntry, ...]  # documents still to fetch (an index), in document order
    notes: tuple[str, ...] = ()  # per-entry problems, for the ingest log


def read_source(
    data: bytes,
    *,
    content_type: str | None,
    base_url: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Source:
    """The alerts and links in what a feed URL returned, or CapError (and no other exception).

    The bytes decide (a document starting with "<" is XML, "{" or "[" is JSON); the content
    type only breaks the tie when they do not say."""
    if not isinstance(data, bytes | bytearray):
        raise CapError(f"a source is bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise CapError(f"source of {len(data)} bytes is over the limit of {max_bytes}")
    if _looks_like_json(data, content_type):
        return _read_geojson(data)
    return _read_xml(data, base_url, max_bytes)


def _looks_like_json(data: bytes, content_type: str | None) -> bool:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"{", b"["):
        return True
    if head == b"<":
        return False
    return "json" in (content_type or "").lower()


# ---- XML: CAP, Atom, RSS -----------------------------------------------------------------------


def _read_xml(data: bytes, base_url: str, max_bytes: int) -> Source:
    root = defused_root(data, what="source")
    if root.tag in CAP_TAGS:
        return Source(kind="cap", alerts=tuple(parse_cap(data, max_bytes=max_bytes)), links=())
    if root.tag == f"{ATOM}feed":
        return _read_feed("atom", root.iterfind(f"{ATOM}entry"), _atom_entry, base_url)
    if root.tag == "rss":
        return _read_feed("rss", root.iterfind("channel/item"), _rss_item, base_url)
    if _cap_alerts(root):
        # A wrapper of alerts (SMHI's <alerts>): read alert by alert, so one bad one is a note.
        alerts, notes = _embedded(root, "alert")
        return Source(kind="cap", alerts=tuple(alerts), links=(), notes=tuple(notes))
    raise CapError(
        f"not a CAP source: the root element {root.tag[:80]} is not a CAP alert, an Atom feed "
        "or an RSS channel, and holds no CAP alert"
    )


def _cap_alerts(element: Any) -> list[Any]:
    """The CAP alert elements in (or being) the element. ElementTree walks the tree without
    recursion, so a hostile nesting depth costs time, not the stack."""
    return [child for child in element.iter() if child.tag in CAP_TAGS]


def _embedded(element: Any, label: str) -> tuple[list[Alert], list[str]]:
    """The CAP alerts inside the element, each parsed on its own (schema and all)."""
    alerts: list[Alert] = []
    notes: list[str] = []
    for number, alert in enumerate(_cap_alerts(element), start=1):
        try:
            alerts.extend(parse_cap(StdET.tostring(alert, encoding="utf-8")))
        except CapError as exc:
            notes.append(f"{label} {number} left out: {exc}")
        except RecursionError:  # ElementTree writes recursively: absurd nesting
            notes.append(f"{label} {number} left out: nested too deep to be CAP")
    return alerts, notes


class _Entry:
    """What one feed entry gave: its embedded alerts, or the links to fetch, or a note."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.links: list[IndexEntry] = []
        self.notes: list[str] = []


def _read_feed(
    kind: str,
    entries: Iterable[Any],
    read_entry: Callable[[Any, str, _Entry, str], None],
    base_url: str,
) -> Source:
    alerts: list[Alert] = []
    links: list[IndexEntry] = []
    notes: list[str] = []
    for number, element in enumerate(entries, start=1):
        entry = _Entry()
        read_entry(element, base_url, entry, f"entry {number}")
        alerts.extend(entry.alerts)
        links.extend(entry.links)
        notes.extend(entry.notes)
    return Source(kind=kind, alerts=tuple(alerts), links=tuple(links), notes=tuple(notes))


def _atom_entry(element: Any, base_url: str, entry: _Entry, label: str) -> None:
    entry_id = _text(element.find(f"{ATOM}id"))
    where = f"{label} ({entry_id})" if entry_id else label
    if _cap_alerts(element):
        # The CAP is here: a link beside it would only fetch the same document again.
        entry.alerts, entry.notes = _embedded(element, f"{where}: alert")
        return
    updated = _rfc3339(
        _text(element.find(f"{ATOM}updated")) or _text(element.find(f"{ATOM}published"))
    )
    candidates = [
        (link.get("href"), link.get("rel") or "alternate", (link.get("type") or "").lower())
        for link in element.iterfind(f"{ATOM}link")
        if link.get("href")
    ]
    # Out-of-line content (RFC 4287 4.1.3.2, <content src=…>) counts as a link of its type.
    candidates.extend(
        (content.get("src"), "alternate", (content.get("type") or "").lower())
        for content in element.iterfind(f"{ATOM}content")
        if content.get("src")
    )
    cap_typed = [href for href, rel, kind in candidates if rel in CAP_RELS and kind in CAP_TYPES]
    alternates = [href for href, rel, _ in candidates if rel == "alternate"]
    # Typed CAP links when the feed says which they are; else the entry's own page, which in
    # an index of CAP documents is the document.
    chosen = cap_typed or alternates[:1] or [href for href, _, _ in candidates][:1]
    _add_links(chosen, base_url, updated, entry_id, entry, where)


def _rss_item(element: Any, base_url: str, entry: _Entry, label: str) -> None:
    guid = _text(element.find("guid"))
    where = f"{label} ({guid})" if guid else label
    if _cap_alerts(element):
        entry.alerts, entry.notes = _embedded(element, f"{where}: alert")
        return
    updated = _rfc822(_text(element.find("pubDate")))
    enclosures = [
        (enclosure.get("url"), (enclosure.get("type") or "").lower())
        for enclosure in element.iterfind("enclosure")
        if enclosure.get("url")
    ]
    cap_typed = [url for url, kind in enclosures if kind in CAP_TYPES]
    link = _text(element.find("link"))
    chosen = cap_typed or ([link] if link else [url for url, _ in enclosures][:1])
    _add_links(chosen, base_url, updated, guid, entry, where)


def _add_links(
    hrefs: list[str],
    base_url: str,
    updated: datetime | None,
    entry_id: str | None,
    entry: _Entry,
    where: str,
) -> None:
    if not hrefs:
        entry.notes.append(f"{where} left out: no CAP embedded and no link to one")
    urls: dict[str, None] = {}  # each once, in order
    for href in hrefs:
        try:
            url = urljoin(base_url, href.strip())
            parts = urlsplit(url)
        except ValueError as exc:  # "http://[oops/": urllib refuses it
            entry.notes.append(f"{where}: link {href[:120]!r} left out: {exc}")
            continue
        # A feed must not send the poller to file:, ftp: or a data: URL.
        if parts.scheme.lower() not in FETCHABLE_SCHEMES or not parts.netloc:
            entry.notes.append(f"{where}: link {url[:120]!r} left out: not an http(s) URL")
            continue
        urls[url] = None
    entry.links.extend(IndexEntry(url=url, updated=updated, entry_id=entry_id) for url in urls)


def _text(element: Any) -> str | None:
    if element is None:
        return None
    return (element.text or "").strip() or None


def _rfc3339(text: str | None) -> datetime | None:
    """An Atom date; None (not an error) when absent, unreadable or without an offset: it only
    orders the work, the CAP document carries the times that count."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _rfc822(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo is not None else None


# ---- GeoJSON: the NWS api.weather.gov shape ----------------------------------------------------


def _read_geojson(data: bytes) -> Source:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise CapError(f"not JSON: {str(exc)[:200]}") from exc
    if isinstance(document, Mapping) and document.get("type") == "Feature":
        features: Any = [document]  # api.weather.gov/alerts/{id} answers one Feature
    elif isinstance(document, Mapping) and document.get("type") == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise CapError("not a CAP source: the FeatureCollection has no list of features")
    else:
        raise CapError("not a CAP source: the JSON is not a GeoJSON FeatureCollection of alerts")
    alerts: list[Alert] = []
    notes: list[str] = []
    for number, feature in enumerate(features, start=1):
        try:
            alerts.append(_nws_alert(feature, notes, f"feature {number}"))
        except CapError as exc:
            notes.append(f"feature {number} left out: {exc}")
    return Source(kind="geojson", alerts=tuple(alerts), links=(), notes=tuple(notes))


def _nws_alert(feature: Any, feed_notes: list[str], label: str) -> Alert:
    if not isinstance(feature, Mapping) or not isinstance(feature.get("properties"), Mapping):
        raise CapError("not a Feature with properties")
    props = feature["properties"]
    identifier = _string(props, "identifier", required=False) or _string(props, "id")
    where = f"{label} ({identifier[:100]})"
    notes: list[str] = []
    sent = _nws_time(props, "sent")
    assert sent is not None  # required: _nws_time raised otherwise
    area = Area(
        description=_string(props, "areaDesc", required=False) or "",
        polygons=_nws_polygons(feature.get("geometry"), notes),
        circles=(),
        geocodes=_pairs(props.get("geocode"), "geocode"),
        notes=tuple(notes),
    )
    category = _string(props, "category", required=False)
    info = Info(
        language=_string(props, "language", required=False) or DEFAULT_LANGUAGE,
        categories=(category,) if category else (),
        event=_string(props, "event"),
        urgency=_string(props, "urgency"),
        severity=_string(props, "severity"),
        certainty=_string(props, "certainty"),
        event_codes=_pairs(props.get("eventCode"), "eventCode"),
        effective=_nws_time(props, "effective", required=False) or sent,
        onset=_nws_time(props, "onset", required=False),
        expires=_nws_time(props, "expires", required=False),
        sender_name=_optional(props, "senderName"),
        headline=_optional(props, "headline"),
        description=_optional(props, "description"),
        instruction=_optional(props, "instruction"),
        web=_optional(props, "web"),
        parameters=_pairs(props.get("parameters"), "parameters"),
        areas=(area,),
    )
    alert_notes = [f"area {area.description[:60]!r}: {note}" for note in notes]
    references = _nws_references(props.get("references"), alert_notes)
    alert = Alert(
        identifier=identifier,
        sender=_string(props, "sender"),
        sent=sent,
        status=_string(props, "status"),
        msg_type=_string(props, "messageType"),
        scope=_string(props, "scope", required=False) or "Public",
        references=references,
        infos=(info,),
        version="1.2",  # the NWS API serves its CAP 1.2 messages as JSON
        notes=tuple(alert_notes),
    )
    feed_notes.extend(f"{where}: {note}" for note in alert_notes)  # only once it is kept
    return alert


def _string(props: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = props.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CapError(f"{name} is missing")
        return ""
    if not isinstance(value, str):
        raise CapError(f"{name} is {type(value).__name__}, not text")
    return value.strip()


def _optional(props: Mapping[str, Any], name: str) -> str | None:
    """An optional text: None when absent, null (as the NWS sends it) or blank."""
    return _string(props, name, required=False) or None


def _nws_time(props: Mapping[str, Any], name: str, *, required: bool = True) -> datetime | None:
    text = _string(props, name, required=required)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CapError(f"{name} {text[:40]!r} is not a date-time") from exc
    if value.tzinfo is None:
        raise CapError(f"{name} {text[:40]!r} has no time-zone offset")
    return value


def _pairs(value: Any, name: str) -> tuple[Pair, ...]:
    """NWS {"SAME": ["002122"], "UGC": ["AKZ724", …]} as CAP (valueName, value) pairs."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise CapError(f"{name} is not an object of lists")
    pairs: list[Pair] = []
    for key, values in value.items():
        items = values if isinstance(values, list) else [values]
        for item in items:
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                raise CapError(f"{name} {key!r} holds {type(item).__name__}, not text")
            pairs.append((str(key), str(item)))
    return tuple(pairs)


def _nws_references(value: Any, notes: list[str]) -> tuple[Reference, ...]:
    """[{identifier, sender, sent}, …]; one that does not read is left out with a note."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise CapError("references is not a list")
    found: list[Reference] = []
    for number, item in enumerate(value, start=1):
        try:
            if not isinstance(item, Mapping):
                raise CapError("not an object")
            sent = _nws_time(item, "sent")
            assert sent is not None
            found.append(Reference(_string(item, "sender"), _string(item, "identifier"), sent))
        except CapError as exc:
            notes.append(f"reference {number} left out: {exc}")
    return tuple(found)


def _nws_polygons(geometry: Any, notes: list[str]) -> tuple[GeoJSON, ...]:
    """The feature's geometry as GeoJSON Polygons (already lon,lat); null is none (the NWS
    then names the area by its geocodes); an invalid one repaired, an unusable one dropped."""
    if geometry is None:
        return ()
    kind = geometry.get("type") if isinstance(geometry, Mapping) else None
    if kind not in ("Polygon", "MultiPolygon"):
        notes.append(f"geometry of type {str(kind)[:40]} dropped: not a Polygon or MultiPolygon")
        return ()
    try:
        area = parse_area(geometry)
    except AreaError as exc:
        notes.append(f"geometry dropped: {exc}")
        return ()
    parts = tuple(area_to_geojson(part) for part in shapely.get_parts(area))
    if not _was_valid(geometry):
        notes.append(f"geometry was invalid: repaired into {len(parts)} polygon(s)")
    return parts


def _was_valid(geometry: Mapping[str, Any]) -> bool:
    """Whether the geometry as sent was valid (parse_area has already checked its shape)."""
    try:
        return bool(shape(geometry).is_valid)
    except (ValueError, TypeError, shapely.errors.ShapelyError):
        return False
