"""A small town laid on a grid, for tests that must know exactly who is where.

Customers sit on a 0.01° grid around Helsinki (lon 24.90–24.99, lat 60.15–60.19); their ids say
where: C-<col>-<row>. Feeders run by column (F-<col>), transformers by pairs of rows.
"""

from __future__ import annotations

from typing import Any

LON0, LAT0, STEP = 24.90, 60.15, 0.01
COLS, ROWS = 10, 5
LANGUAGES = ("fi", "sv", "en")


def customer(col: int, row: int, **fields: Any) -> dict[str, Any]:
    n = row * COLS + col
    base = {
        "customer_id": f"C-{col}-{row}",
        "name": f"Customer {col}/{row}",
        "address": f"Testikatu {n + 1}, Helsinki",
        "phone": f"+35840{1000000 + n}",
        "email": f"c{col}.{row}@example.com",
        "language": LANGUAGES[n % 3],
        "lat": _lat(row),
        "lon": _lon(col),
        "channels": "sms;email",
        "feeder": f"F-{col}",
        "transformer": f"T-{col}-{row // 2}",
    }
    base.update(fields)
    return base


def town(**fields: Any) -> list[dict[str, Any]]:
    return [customer(c, r, **fields) for r in range(ROWS) for c in range(COLS)]


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    """A GeoJSON Polygon (lon, lat order) covering the given rectangle."""
    return {
        "type": "Polygon",
        "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]],
    }


def cells(col0: int, row0: int, col1: int, row1: int) -> dict[str, Any]:
    """A polygon whose edges pass exactly through the grid points of cols/rows col0..col1,
    row0..row1: the customers on its boundary count as inside."""
    return box(_lon(col0), _lat(row0), _lon(col1), _lat(row1))


def _lon(col: int) -> float:
    return round(LON0 + col * STEP, 6)


def _lat(row: int) -> float:
    return round(LAT0 + row * STEP, 6)


def ids(col0: int, row0: int, col1: int, row1: int) -> set[str]:
    return {f"C-{c}-{r}" for c in range(col0, col1 + 1) for r in range(row0, row1 + 1)}
