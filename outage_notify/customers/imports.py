"""Importing a customer file: CSV or GeoJSON by our own parser (per-row rejections), or any
format GDAL reads (GeoPackage, Shapefile…) through GeoPandas, reprojected to WGS 84."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from outage_notify.customers.contacts import ContactHasher
from outage_notify.customers.service import upsert_customers
from outage_notify.ingest.customers import CustomerRules, ParsedCustomers, parse_file, validate_all
from outage_notify.ingest.records import Rejection
from outage_notify.timeutil import utcnow

GDAL_SUFFIXES = (".gpkg", ".shp", ".fgb", ".zip", ".gml", ".kml")


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    rejections: list[Rejection]


def parse_customer_file(data: bytes, filename: str, rules: CustomerRules) -> ParsedCustomers:
    if filename.lower().endswith(GDAL_SUFFIXES):
        return _parse_with_geopandas(data, rules)
    return parse_file(data, filename, rules)


def import_customers(
    session: Session, *, parsed: ParsedCustomers, hasher: ContactHasher
) -> ImportReport:
    records = [r for _, r in parsed.records]
    result = upsert_customers(session, records=records, hasher=hasher, now=utcnow())
    return ImportReport(result.created, result.updated, parsed.rejections)


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
