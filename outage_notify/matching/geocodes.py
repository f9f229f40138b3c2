"""The geocode table: CAP `<geocode>` (valueName, value) pairs → areas. Pure: no database.

A warning may name its area only by codes (the NWS sends UGC zones and SAME counties with no
polygon; FMI adds municipality numbers; MeteoAlarm uses EMMA_ID). The table is a GeoJSON
FeatureCollection whose features carry a Polygon or MultiPolygon and
`properties.geocodes: [{"valueName": ..., "value": ...}, ...]`: one area may be known by
several codes ("kuntanumero" 638 and "FI-kuntanumero" 638 are both Porvoo), one code names
one area only.

valueNames are matched without regard to case ("UGC", "ugc"): publishers spell them both
ways; values are matched exactly (after trimming spaces), as codes are case-significant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import shapely
from shapely.geometry import MultiPolygon, Polygon

from outage_notify.matching.geometry import AreaError, parse_area

Pair = tuple[str, str]  # (valueName, value), as CAP writes them


class GeocodeTableError(ValueError):
    """The table cannot be used; the message names the feature (0-based index) at fault."""


def _key(value_name: str, value: str) -> Pair:
    return (value_name.strip().casefold(), value.strip())


@dataclass(frozen=True)
class GeocodeTable:
    areas: Mapping[Pair, Polygon | MultiPolygon]  # keyed by _key(valueName, value)

    @classmethod
    def load(cls, path: str | Path) -> GeocodeTable:
        try:
            document = json.loads(Path(path).read_bytes())
        except OSError as exc:
            raise GeocodeTableError(f"geocode table {path}: cannot be read: {exc}") from exc
        except ValueError as exc:
            raise GeocodeTableError(f"geocode table {path}: not JSON: {exc}") from exc
        return cls.from_geojson(document, source=str(path))

    @classmethod
    def from_geojson(cls, document: Any, *, source: str = "geocode table") -> GeocodeTable:
        if not isinstance(document, Mapping) or document.get("type") != "FeatureCollection":
            raise GeocodeTableError(f"{source}: not a GeoJSON FeatureCollection")
        features = document.get("features")
        if not isinstance(features, list):
            raise GeocodeTableError(f"{source}: the FeatureCollection has no list of features")
        areas: dict[Pair, Polygon | MultiPolygon] = {}
        owner: dict[Pair, int] = {}
        for index, feature in enumerate(features):
            where = f"{source}: feature {index}"
            geometry, pairs = _feature(feature, where)
            for pair in pairs:
                if pair in owner:
                    raise GeocodeTableError(
                        f"{where}: geocode {pair[0]}={pair[1]} is already feature "
                        f"{owner[pair]}'s: a code must name one area"
                    )
                owner[pair] = index
                areas[pair] = geometry
        return cls(areas=areas)

    def __len__(self) -> int:
        return len(self.areas)

    def __contains__(self, pair: object) -> bool:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            return False
        return _key(str(pair[0]), str(pair[1])) in self.areas

    def resolve(
        self, pairs: Iterable[Pair]
    ) -> tuple[Polygon | MultiPolygon | None, tuple[Pair, ...]]:
        """The union of the areas the pairs name (None when none is known), and the pairs
        the table does not know, as given and without repeats, for the ingest log."""
        known: list[Polygon | MultiPolygon] = []
        seen: set[Pair] = set()
        unknown: list[Pair] = []
        for value_name, value in pairs:
            key = _key(value_name, value)
            if key in seen:
                continue
            seen.add(key)
            area = self.areas.get(key)
            if area is None:
                unknown.append((value_name, value))
            else:
                known.append(area)
        if not known:
            return None, tuple(unknown)
        union = known[0] if len(known) == 1 else shapely.union_all(known)
        return _polygonal(union), tuple(unknown)


def _feature(feature: Any, where: str) -> tuple[Polygon | MultiPolygon, list[Pair]]:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise GeocodeTableError(f"{where}: not a GeoJSON Feature")
    properties = feature.get("properties")
    codes = properties.get("geocodes") if isinstance(properties, Mapping) else None
    if not isinstance(codes, list) or not codes:
        raise GeocodeTableError(
            f"{where}: properties.geocodes must be a non-empty list of "
            '{"valueName": ..., "value": ...}'
        )
    pairs: list[Pair] = []
    for number, code in enumerate(codes):
        name = code.get("valueName") if isinstance(code, Mapping) else None
        value = code.get("value") if isinstance(code, Mapping) else None
        if not (_filled(name) and _filled(value)):
            raise GeocodeTableError(
                f"{where}: geocodes[{number}] needs a non-empty valueName and value, both text"
            )
        pairs.append(_key(name, value))
    geometry = feature.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, Mapping) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise GeocodeTableError(f"{where}: geometry must be a Polygon or MultiPolygon")
    try:
        return parse_area(geometry), pairs
    except AreaError as exc:
        raise GeocodeTableError(f"{where}: {exc}") from exc


def _filled(text: object) -> TypeGuard[str]:
    return isinstance(text, str) and bool(text.strip())


def _polygonal(geometry: Any) -> Polygon | MultiPolygon:
    """A union of polygons is a (Multi)Polygon; keep only polygon parts should GEOS hand back
    a collection holding slivers of lower dimension."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    parts = [p for p in shapely.get_parts(geometry) if isinstance(p, Polygon)]
    return MultiPolygon(parts)
