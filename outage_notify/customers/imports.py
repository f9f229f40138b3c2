"""Importing a customer file: CSV or GeoJSON by our own parser (per-row rejections), or any
format GDAL reads (GeoPackage, Shapefile…) through GeoPandas, reprojected to WGS 84.
Rows outside a configured TERRITORY are rejected; with none, rows far from all the other
customers (see matching/territory.py) are stored and reported."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer
from outage_notify.ingest.customers import CustomerRules, ParsedCustomers, parse_file, validate_all
from outage_notify.ingest.records import CustomerRecord, Rejection
from outage_notify.matching.index_cache import CustomerIndexCache
from outage_notify.matching.territory import DerivedTerritory, derive_from_counts, shifted

GDAL_SUFFIXES = (".gpkg", ".shp", ".fgb", ".zip", ".gml", ".kml")
CHUNK = 500  # ids per IN (…) query


@dataclass(frozen=True)
class ImportWarning:
    """A customer stored but worth a look: one far outside where all the others are."""

    customer_id: str
    warning: str

    def as_dict(self) -> dict[str, str]:
        return {"customer_id": self.customer_id, "warning": self.warning}


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    rejections: list[Rejection]
    warnings: list[ImportWarning] = field(default_factory=list)


def customer_rules(settings: Settings) -> CustomerRules:
    """The rules every customer row is read by: defaults, and a configured TERRITORY."""
    return CustomerRules(
        settings.default_language, settings.default_region, territory=settings.territory_area
    )


def parse_customer_file(data: bytes, filename: str, rules: CustomerRules) -> ParsedCustomers:
    if filename.lower().endswith(GDAL_SUFFIXES):
        return _parse_with_geopandas(data, rules)
    return parse_file(data, filename, rules)


def import_customers(
    session: Session,
    *,
    parsed: ParsedCustomers,
    territory_from: CustomerIndexCache | None = None,
    now: datetime,
) -> ImportReport:
    """Upserts the parsed records. With `territory_from` (TERRITORY unset), also reports the
    records that the territory derived from all customers, these included, counts as strays."""
    records = [r for _, r in parsed.records]
    if territory_from is None or not records:
        result = upsert_customers(session, records=records, now=now)
        return ImportReport(result.created, result.updated, parsed.rejections)
    before = territory_from.cell_counts(session)
    moved_from = _stored_points(session, [r.customer_id for r in records])
    result = upsert_customers(session, records=records, now=now)
    lon = np.array([r.lon for r in records], dtype=np.float64)
    lat = np.array([r.lat for r in records], dtype=np.float64)
    after = shifted(before, removed=moved_from, added=(lon, lat))
    territory_from.remember_cells(session, after)
    warnings = stray_warnings(records, derive_from_counts(after))
    return ImportReport(result.created, result.updated, parsed.rejections, warnings)


def _stored_points(session: Session, customer_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Where the customers of these ids stand now, for those already stored."""
    found: list[tuple[float, float]] = []
    for start in range(0, len(customer_ids), CHUNK):
        chunk = customer_ids[start : start + CHUNK]
        query = select(Customer.lon, Customer.lat).where(Customer.customer_id.in_(chunk))
        found.extend((lon, lat) for lon, lat in session.execute(query))
    points = np.array(found, dtype=np.float64).reshape(-1, 2)
    return points[:, 0], points[:, 1]


def stray_warnings(
    records: Sequence[CustomerRecord], derived: DerivedTerritory
) -> list[ImportWarning]:
    """The records lying in a stray group's cell, and those outside the territory's core whose
    lat and lon exchanged would put them in it (a whole batch swapped is too big to be stray).
    Warned, not refused: with no configured TERRITORY nobody can say a row is wrong, only that
    it stands far from all the others, or looks mirrored."""
    territory = derived.territory
    if territory is None:
        return []
    lon = np.array([r.lon for r in records], dtype=np.float64)
    lat = np.array([r.lat for r in records], dtype=np.float64)
    mirrored_into_core = (np.abs(lon) <= 90) & territory.in_core(lat, lon)
    looks_swapped = ~territory.in_core(lon, lat) & mirrored_into_core
    stray = np.flatnonzero(derived.strays_at(lon, lat) | looks_swapped)
    swapped_inside = territory.holds(lat[stray], lon[stray]) & (np.abs(lon[stray]) <= 90)
    return [
        ImportWarning(records[i].customer_id, _far_outside(records[i], swapped))
        for i, swapped in zip(stray.tolist(), swapped_inside.tolist(), strict=True)
    ]


def _far_outside(record: CustomerRecord, swapped_inside: bool) -> str:
    hint = ": are lat and lon swapped?" if swapped_inside else ""
    return (
        f"{record.customer_id} lies far outside the territory "
        f"(lat {record.lat:.2f}, lon {record.lon:.2f}{hint})"
    )


def _parse_with_geopandas(data: bytes, rules: CustomerRules) -> ParsedCustomers:
    import geopandas  # heavy; only files that need GDAL pay for it

    frame = geopandas.read_file(io.BytesIO(data))
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    rows = []
    for index, (_, row) in enumerate(frame.iterrows()):
        fields: dict[str, Any] = {
            k.lower(): _plain(v) for k, v in row.items() if k != frame.geometry.name
        }
        geometry = row[frame.geometry.name]
        if geometry is not None and geometry.geom_type == "Point":
            fields["lon"], fields["lat"] = geometry.x, geometry.y
        elif geometry is not None:
            fields["__error__"] = f"geometry must be a Point, not {geometry.geom_type}"
        rows.append((index, fields, None))
    return validate_all(rows, rules)


def _plain(value: Any) -> Any:
    """pandas' missing values and numpy scalars → None and Python values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value
