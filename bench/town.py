"""Customers to measure against: the demo town, and synthetic towns of any size laid over the
Helsinki region's YKR grid, plus irregular storm polygons that catch a chosen number of them.

Synthetic customers are made in EPSG:3067 (metres) and turned into WGS 84 by the project's own
transform, so lon/lat are what an import would have stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from outage_notify import paths
from outage_notify.ingest.customers import CustomerRules, parse_file
from outage_notify.ingest.records import CustomerRecord
from outage_notify.matching.geometry import area_to_geojson, to_wgs84_points

DEMO_DIR = paths.FIXTURES / "demo_town"
YKR_GPKG = (
    paths.HOME.parent / "shared/data/locations/helsinki_region_travel_times_to_railway_station.gpkg"
)
YKR_CELL_M = 250.0
# Bounds of the YKR file (EPSG:3067), for the fallback layout when the file is not there.
HELSINKI_BOX_3067 = (361_500.0, 6_665_250.0, 403_750.0, 6_698_000.0)
SEED = 20261125

LANGUAGES = np.array(["fi", "sv", "en"])
LANGUAGE_SHARES = [0.78, 0.12, 0.10]
# Channel choices and their shares, as in the demo town (None: every channel with an address).
CHANNEL_CHOICES = [None, "sms", "sms;email", "email", "sms;push", "push"]
CHANNEL_SHARES = [0.40, 0.22, 0.13, 0.10, 0.09, 0.06]
PHONE_SHARE, EMAIL_SHARE, PUSH_SHARE, QUIET_SHARE = 0.88, 0.48, 0.12, 0.12
CHANNELS = ("sms", "email", "push")
STREETS = ("Mannerheimintie", "Hämeentie", "Mechelininkatu", "Itäväylä", "Kehä I", "Tapiolantie")


@dataclass
class Town:
    """Customer points (lon/lat, WGS 84) with their feeder and transformer ids."""

    name: str
    source: str
    lon: np.ndarray
    lat: np.ndarray
    feeders: list[str | None]
    transformers: list[str | None]

    def __len__(self) -> int:
        return len(self.lon)


# ---- the demo town -----------------------------------------------------------------------------


def demo_records() -> list[CustomerRecord]:
    """fixtures/demo_town/customers.csv through the project's own parser."""
    data = (DEMO_DIR / "customers.csv").read_bytes()
    parsed = parse_file(data, "customers.csv", CustomerRules("fi", "FI"))
    return [record for _, record in parsed.records]


def demo_town(records: list[CustomerRecord] | None = None) -> Town:
    records = records if records is not None else demo_records()
    return Town(
        name="demo town",
        source=f"fixtures/demo_town/customers.csv ({len(records):,} customers, Porvoo)",
        lon=np.array([r.lon for r in records], dtype=np.float64),
        lat=np.array([r.lat for r in records], dtype=np.float64),
        feeders=[r.feeder for r in records],
        transformers=[r.transformer for r in records],
    )


# ---- synthetic towns ---------------------------------------------------------------------------


def synthetic_town(count: int, seed: int = SEED, gpkg: Path = YKR_GPKG) -> Town:
    """`count` customers: YKR cell centroids jittered inside their 250 m cell, or a seeded
    layout of clustered suburbs when the grid file is missing."""
    rng = np.random.default_rng(seed)
    cells = ykr_cells(gpkg)
    if cells is not None:
        x, y = _jittered_in_cells(rng, count, *cells)
        source = f"YKR 250 m grid, {len(cells[0]):,} cells ({gpkg.name}), jittered in cell"
    else:
        x, y = _clustered_layout(rng, count)
        source = f"seeded synthetic layout: YKR grid file missing ({gpkg})"
    lon, lat = to_wgs84_points(x, y, "EPSG:3067")
    return Town(
        name="synthetic",
        source=source,
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
        feeders=_grid_ids("F", x, y, 3000.0),
        transformers=_grid_ids("T", x, y, YKR_CELL_M),
    )


def ykr_cells(gpkg: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Cell centroids (EPSG:3067) and a weight per cell, or None when the file is missing.

    The grid covers the inhabited region but holds no population: a cell's weight falls with
    its public-transport time to the railway station (pt_r_t), so the centre is denser than the
    fringe (about 12 to 1 between 10 and 120 minutes)."""
    if not gpkg.exists():
        return None
    import geopandas  # heavy: only when the file is there

    frame = geopandas.read_file(gpkg, columns=["pt_r_t"])
    if frame.crs is not None and frame.crs.to_epsg() != 3067:
        frame = frame.to_crs(3067)
    centroids = frame.geometry.centroid
    minutes = frame["pt_r_t"].to_numpy(dtype=np.float64)
    minutes = np.where(minutes > 0, minutes, np.median(minutes[minutes > 0]))
    weights = 1.0 / np.clip(minutes, 10.0, None)
    return centroids.x.to_numpy(), centroids.y.to_numpy(), weights


def _jittered_in_cells(
    rng: np.random.Generator, count: int, cx: np.ndarray, cy: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    per_cell = rng.multinomial(count, weights / weights.sum())
    half = YKR_CELL_M / 2
    x = np.repeat(cx, per_cell) + rng.uniform(-half, half, count)
    y = np.repeat(cy, per_cell) + rng.uniform(-half, half, count)
    order = rng.permutation(count)  # ids must not follow the grid
    return x[order], y[order]


def _clustered_layout(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """40 suburbs of Zipf-like sizes and 10 % scattered, inside the Helsinki region's box."""
    minx, miny, maxx, maxy = HELSINKI_BOX_3067
    centres = rng.uniform((minx, miny), (maxx, maxy), size=(40, 2))
    sizes = 1.0 / np.arange(1, 41)
    clustered = int(count * 0.9)
    which = rng.choice(40, size=clustered, p=sizes / sizes.sum())
    spread = rng.uniform(400.0, 2500.0, 40)[which]
    scattered = count - clustered
    x = centres[which, 0] + rng.normal(0, 1, clustered) * spread
    y = centres[which, 1] + rng.normal(0, 1, clustered) * spread
    x = np.concatenate([x, rng.uniform(minx, maxx, scattered)])
    y = np.concatenate([y, rng.uniform(miny, maxy, scattered)])
    order = rng.permutation(count)
    return x[order], y[order]


def _grid_ids(prefix: str, x: np.ndarray, y: np.ndarray, size: float) -> list[str | None]:
    ix = (x // size).astype(np.int64).tolist()
    iy = (y // size).astype(np.int64).tolist()
    return [f"{prefix}-{a}-{b}" for a, b in zip(ix, iy, strict=True)]


# ---- synthetic customers as database rows -------------------------------------------------------


@dataclass
class Profiles:
    """Per customer: language, chosen channels and which addresses they have, drawn with the
    demo town's shares so that planning renders and writes what a real town would need."""

    language: list[str]
    channels: list[str | None]
    has_phone: np.ndarray
    has_email: np.ndarray
    has_push: np.ndarray
    quiet: np.ndarray


def profiles(count: int, seed: int = SEED) -> Profiles:
    rng = np.random.default_rng(seed + 1)
    choice = rng.choice(len(CHANNEL_CHOICES), size=count, p=CHANNEL_SHARES)
    channels = [CHANNEL_CHOICES[c] for c in choice.tolist()]
    open_ = np.array([c is None for c in channels])
    chose = {name: np.array([bool(c and name in c) for c in channels]) for name in CHANNELS}
    draws = rng.random((count, 3))
    return Profiles(
        language=rng.choice(LANGUAGES, size=count, p=LANGUAGE_SHARES).tolist(),
        channels=channels,
        has_phone=chose["sms"] | (open_ & (draws[:, 0] < PHONE_SHARE)),
        has_email=chose["email"] | (open_ & (draws[:, 1] < EMAIL_SHARE)),
        has_push=chose["push"] | (open_ & (draws[:, 2] < PUSH_SHARE)),
        quiet=rng.random(count) < QUIET_SHARE,
    )


def customer_rows(
    town: Town, people: Profiles, now: datetime, chunk: int
) -> Iterator[list[dict[str, Any]]]:
    """The town as rows of the Customer model's columns, `chunk` at a time."""
    phone, email = people.has_phone.tolist(), people.has_email.tolist()
    quiet = people.quiet.tolist()
    for start in range(0, len(town), chunk):
        yield [
            {
                "customer_id": f"SYN-{i + 1:07d}",
                "name": f"Asiakas {i + 1}",
                "address": f"{STREETS[i % len(STREETS)]} {i % 197 + 1} A {i % 37 + 1}, Helsinki",
                "phone": f"+35840{1_000_000 + i:07d}" if phone[i] else None,
                "email": f"customer{i + 1}@example.net" if email[i] else None,
                "language": people.language[i],
                "lat": float(town.lat[i]),
                "lon": float(town.lon[i]),
                "channels": people.channels[i],
                "feeder": town.feeders[i],
                "transformer": town.transformers[i],
                "quiet_hours": "22:00-07:00" if quiet[i] else None,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, min(start + chunk, len(town)))
        ]


# ---- storm polygons ------------------------------------------------------------------------------


def storm_polygon(
    lon: np.ndarray,
    lat: np.ndarray,
    target: int,
    *,
    vertices: int = 100,
    seed: int = SEED,
    centre: tuple[float, float] | None = None,
) -> Polygon:
    """An irregular, elongated storm front of `vertices` vertices, scaled (by bisection) so that
    it catches as close to `target` of the points as it can.

    The ring is star-shaped about its centre, so a larger scale always holds a smaller one and
    the count grows with the scale."""
    cx, cy = centre if centre is not None else (float(np.median(lon)), float(np.median(lat)))
    unit = _storm_shape(vertices, np.random.default_rng(seed))
    metres_per_lon = 111_320.0 * math.cos(math.radians(cy))
    low, high = 0.0, 200_000.0
    for _ in range(48):
        middle = (low + high) / 2
        if _count_inside(_ring(unit, middle, cx, cy, metres_per_lon), lon, lat) < target:
            low = middle
        else:
            high = middle
    return _ring(unit, high, cx, cy, metres_per_lon)


def _storm_shape(vertices: int, rng: np.random.Generator) -> np.ndarray:
    """Unit ring: an ellipse 2.5:1 turned 35°, its radius rippled at a few frequencies."""
    theta = np.linspace(0.0, 2 * math.pi, vertices, endpoint=False)
    phases = rng.uniform(0, 2 * math.pi, 3)
    radius = (
        1.0
        + 0.20 * np.sin(3 * theta + phases[0])
        + 0.10 * np.sin(7 * theta + phases[1])
        + 0.05 * np.sin(13 * theta + phases[2])
        + rng.uniform(-0.04, 0.04, vertices)
    )
    x, y = 2.5 * radius * np.cos(theta), radius * np.sin(theta)
    turn = math.radians(35)
    return np.column_stack(
        [x * math.cos(turn) - y * math.sin(turn), x * math.sin(turn) + y * math.cos(turn)]
    )


def _ring(unit: np.ndarray, scale: float, cx: float, cy: float, per_lon: float) -> Polygon:
    lon = cx + unit[:, 0] * scale / per_lon
    lat = cy + unit[:, 1] * scale / 110_574.0
    return Polygon(np.column_stack([lon, lat]))


def _count_inside(polygon: Polygon, lon: np.ndarray, lat: np.ndarray) -> int:
    minx, miny, maxx, maxy = polygon.bounds
    near = (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
    shapely.prepare(polygon)
    return int(shapely.intersects_xy(polygon, lon[near], lat[near]).sum())


def geojson(polygon: Polygon) -> dict[str, Any]:
    """As a client sends it: JSON lists, [lon, lat]."""
    return area_to_geojson(polygon)
