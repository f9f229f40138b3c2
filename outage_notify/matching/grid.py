"""Where the feeders run: a GeoJSON file of feeder lines in, the feeders crossing an area out.

A customer is exposed to a weather warning when their own point is in its area, or when the
line of the feeder that supplies them crosses it: a storm over the forest an overhead line runs
through cuts the power of houses kilometres away. Feeder lines are optional; with none stored,
exposure is the area alone.

- Pure (no database): `parse_lines` reads a FeatureCollection of LineString / MultiLineString
  features into lines and per-feature rejections with their reasons; `FeederLines` is a loaded
  network with an STRtree over its lines, built once; `feeders_crossing` asks it which feeders
  cross an area.
- Database: `import_lines` replaces the stored network with a file's lines in the caller's
  transaction (`outage-notify grid import`); `load_lines` reads it back, and
  `FeederLinesCache` keeps it until an import moves the network's revision.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from outage_notify.db import meta
from outage_notify.db.models import FeederLine
from outage_notify.ingest.records import RecordError
from outage_notify.ingest.text import check_text, one_line
from outage_notify.matching.geometry import (
    AreaError,
    check_ranges,
    position_array,
    read_crs,
    to_wgs84,
)

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_FEEDER_CHARS = 64  # as customers.feeder and feeder_lines.feeder hold
MAX_NAME_CHARS = 200
# Where a feature names its feeder, in the order they are read: the first one present counts.
ID_SOURCES = ("properties.feeder", "properties.feeder_id", "id")
LINE_TYPES = ("LineString", "MultiLineString")
Line: TypeAlias = LineString | MultiLineString


class GridFileError(ValueError):
    """The file as a whole cannot be used (not a single bad feature); the message says why."""


@dataclass(frozen=True)
class ParsedLine:
    feeder: str
    geometry: Line  # WGS 84 lon/lat
    name: str | None = None


@dataclass(frozen=True)
class LineRejection:
    index: int  # position of the feature in the file's features (0-based)
    reason: str
    feeder: str | None = None  # as the feature named it, made printable; None if it named none

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"index": self.index, "reason": self.reason}
        if self.feeder:
            out["feeder"] = self.feeder
        return out


@dataclass(frozen=True)
class ParsedLines:
    lines: tuple[ParsedLine, ...]
    rejections: tuple[LineRejection, ...]


# ---- reading a file (pure) -----------------------------------------------------------------------


def parse_lines(data: bytes, *, max_bytes: int = MAX_FILE_BYTES) -> ParsedLines:
    """A GeoJSON FeatureCollection of feeder lines, as bytes → lines and rejections.

    GridFileError when the file as a whole cannot be read: too large, not UTF-8, not JSON, not
    a FeatureCollection, or a crs member that cannot be honoured."""
    if len(data) > max_bytes:
        raise GridFileError(f"file is larger than {max_bytes} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GridFileError(f"file is not UTF-8 text (byte {exc.start})") from exc
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise GridFileError(f"not valid JSON: {exc}") from exc
    return parse_collection(document)


def parse_collection(document: Any) -> ParsedLines:
    """A decoded FeatureCollection → lines and rejections. A feeder named twice keeps its
    first line; the repeat is rejected, naming the first: the file must say which is meant."""
    if not isinstance(document, Mapping) or document.get("type") != "FeatureCollection":
        raise GridFileError(
            "feeder lines must be a GeoJSON FeatureCollection of LineString or MultiLineString "
            "features"
        )
    features = document.get("features")
    if not isinstance(features, list):
        raise GridFileError("FeatureCollection has no features list")
    try:
        crs_name = read_crs(document["crs"], what="file") if "crs" in document else None
    except AreaError as exc:
        raise GridFileError(str(exc)) from exc
    lines: list[ParsedLine] = []
    rejections: list[LineRejection] = []
    first_at: dict[str, int] = {}
    for index, feature in enumerate(features):
        try:
            line = parse_feature(feature, crs_name=crs_name)
        except RecordError as exc:
            rejections.append(LineRejection(index, str(exc), _printable_id(feature)))
            continue
        if line.feeder in first_at:
            reason = f"feeder {line.feeder} repeats the one at index {first_at[line.feeder]}"
            rejections.append(LineRejection(index, reason, line.feeder))
            continue
        first_at[line.feeder] = index
        lines.append(line)
    return ParsedLines(tuple(lines), tuple(rejections))


def parse_feature(feature: Any, *, crs_name: str | None = None) -> ParsedLine:
    """One Feature → its feeder's line, or RecordError saying what is wrong with it."""
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise RecordError("not a GeoJSON Feature")
    properties = feature.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping):
        raise RecordError("properties must be an object")
    feeder = _feeder_id(feature, properties)
    name = _text(properties.get("name"), "name", MAX_NAME_CHARS)
    if "crs" in feature:
        crs_name = _feature_crs(feature["crs"])
    return ParsedLine(feeder, line_geometry(feature.get("geometry"), crs_name=crs_name), name)


def _feeder_id(feature: Mapping[str, Any], properties: Mapping[str, Any]) -> str:
    for source, raw in _id_sources(feature, properties):
        feeder = _text(raw, source, MAX_FEEDER_CHARS)
        if feeder:
            return feeder
    raise RecordError(f"feature names no feeder (looked at {', '.join(ID_SOURCES)})")


def _id_sources(feature: Mapping[str, Any], properties: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(where, value) of each place a feeder id may stand, in ID_SOURCES order."""
    return [
        ("properties.feeder", properties.get("feeder")),
        ("properties.feeder_id", properties.get("feeder_id")),
        ("id", feature.get("id")),
    ]


def _text(value: Any, name: str, max_len: int) -> str | None:
    """Text or an integer (a feature id may be a number), stripped; None when absent or empty."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError(f"{name} must be text or an integer")
    text = check_text(str(value).strip(), name)
    if len(text) > max_len:
        raise RecordError(f"{name} is longer than {max_len} characters")
    return text or None


def _printable_id(feature: Any) -> str | None:
    """The feeder a rejected feature names, whatever is wrong with it, fit for a terminal."""
    if not isinstance(feature, Mapping):
        return None
    properties = feature.get("properties")
    for _, raw in _id_sources(feature, properties if isinstance(properties, Mapping) else {}):
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw).strip():
            text = one_line(str(raw).strip())
            return text if len(text) <= MAX_FEEDER_CHARS else text[: MAX_FEEDER_CHARS - 1] + "…"
    return None


def _feature_crs(member: Any) -> str | None:
    try:
        return read_crs(member, what="feature")
    except AreaError as exc:
        raise RecordError(str(exc)) from exc


def line_geometry(geojson: Any, *, crs_name: str | None = None) -> Line:
    """A GeoJSON LineString / MultiLineString → the shapely line in WGS 84, or RecordError:
    every part at least two distinct positions, every coordinate a longitude and latitude."""
    if geojson is None:
        raise RecordError("feature has no geometry")
    if not isinstance(geojson, Mapping):
        raise RecordError("geometry must be a GeoJSON object")
    kind = geojson.get("type")
    if kind not in LINE_TYPES:
        raise RecordError(f"geometry must be a LineString or MultiLineString, not {_short(kind)}")
    coordinates = geojson.get("coordinates")
    parts = [coordinates] if kind == "LineString" else coordinates
    if not isinstance(parts, list) or not parts:
        raise RecordError(f"{kind} coordinates are empty or not a list")
    try:
        arrays = [_part_array(part, kind) for part in parts]
        geometry: Line = (
            shapely.linestrings(arrays[0])
            if kind == "LineString"
            else shapely.multilinestrings([shapely.linestrings(a) for a in arrays])
        )
        if crs_name is not None:
            geometry = to_wgs84(geometry, crs_name)
        check_ranges(geometry, what="line")
    except AreaError as exc:
        raise RecordError(str(exc)) from exc
    return geometry


def _part_array(part: Any, kind: str) -> np.ndarray:
    if not isinstance(part, list) or not part:
        raise RecordError(f"{kind} coordinates are empty or not a list")
    positions = position_array(part, what="line", forms="line")
    if len(np.unique(positions, axis=0)) < 2:
        raise RecordError("a line needs at least 2 distinct positions")
    return positions


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def line_to_geojson(geometry: Line) -> dict[str, Any]:
    """The stored form: GeoJSON in lists, as the JSON column keeps it."""
    if isinstance(geometry, LineString):
        return {"type": "LineString", "coordinates": shapely.get_coordinates(geometry).tolist()}
    return {
        "type": "MultiLineString",
        "coordinates": [shapely.get_coordinates(part).tolist() for part in geometry.geoms],
    }


# ---- which feeders cross an area (pure) --------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FeederLines:
    """A loaded network: feeder ids in sorted order, their lines, and an STRtree over the
    lines built once, when the value is made. Build it with `FeederLines.of`."""

    feeders: tuple[str, ...] = ()
    lines: tuple[Line, ...] = ()
    _tree: shapely.STRtree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.feeders) != len(self.lines):
            raise ValueError("one line per feeder")
        object.__setattr__(self, "_tree", shapely.STRtree(self.lines))

    @classmethod
    def of(cls, lines: Iterable[tuple[str, Line]]) -> FeederLines:
        ordered = sorted(lines, key=lambda pair: pair[0])
        return cls(tuple(f for f, _ in ordered), tuple(g for _, g in ordered))

    def __len__(self) -> int:
        return len(self.feeders)

    def crossing(self, area: BaseGeometry) -> tuple[str, ...]:
        """Sorted ids of the feeders whose line meets the area: inside it, crossing it, or
        touching its boundary."""
        if not self.feeders or area.is_empty:
            return ()
        found = self._tree.query(area, predicate="intersects")
        return tuple(self.feeders[i] for i in np.sort(found))


def feeders_crossing(area: BaseGeometry, lines: FeederLines) -> tuple[str, ...]:
    """Sorted ids of the feeders whose line meets the (valid) area, boundary included."""
    return lines.crossing(area)


# ---- the stored network (database) --------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    imported: int
    removed: tuple[str, ...]  # feeders stored before whose line the file no longer has
    rejections: tuple[LineRejection, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "removed": list(self.removed),
            "rejected": [r.as_dict() for r in self.rejections],
        }


def import_lines(session: Session, *, parsed: ParsedLines, now: datetime) -> ImportReport:
    """Replaces the whole stored network with the parsed lines, in the caller's transaction:
    a feeder the file has no (valid) line for is removed. A file with no valid line at all is
    refused (GridFileError) and nothing changes: a broken export must not wipe the network."""
    if not parsed.lines:
        raise GridFileError(
            f"no feeder line to import ({len(parsed.rejections)} rejected); "
            "the stored lines were left as they were"
        )
    # The revision first: on PostgreSQL its row lock makes a concurrent import wait for this
    # one to commit, so that one replaces what this one wrote instead of colliding with it.
    meta.bump_feeder_lines_revision(session)
    session.flush()
    before = set(session.scalars(select(FeederLine.feeder)))
    session.execute(delete(FeederLine))
    rows = [
        {
            "feeder": line.feeder,
            "geometry": line_to_geojson(line.geometry),
            "name": line.name,
            "imported_at": now,
        }
        for line in parsed.lines
    ]
    session.execute(insert(FeederLine), rows)
    removed = tuple(sorted(before - {line.feeder for line in parsed.lines}))
    return ImportReport(len(rows), removed, parsed.rejections)


def load_lines(session: Session) -> FeederLines:
    """Every stored feeder line, read afresh. A stored geometry that no longer reads as a line
    (written by hand, say) is left out with a warning in the log, not raised."""
    pairs: list[tuple[str, Line]] = []
    for feeder, geojson in session.execute(select(FeederLine.feeder, FeederLine.geometry)):
        try:
            pairs.append((feeder, line_geometry(geojson)))
        except RecordError as exc:
            log.warning("feeder line %s left out: %s", feeder, exc)
    return FeederLines.of(pairs)


class FeederLinesCache:
    """This process's loaded network, read again only when an import has moved the network's
    revision (db/meta.py), so a poll does not rebuild the tree each time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._lines: FeederLines | None = None

    def get(self, session: Session) -> FeederLines:
        # The revision is read before the lines: an import committed in between is loaded
        # under the older revision and so read again next time, never missed.
        revision = meta.feeder_lines_revision(session)
        with self._lock:
            if self._lines is None or revision != self._revision:
                self._lines = load_lines(session)
                self._revision = revision
            return self._lines

    def invalidate(self) -> None:
        with self._lock:
            self._lines, self._revision = None, None
