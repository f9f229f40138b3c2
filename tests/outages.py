"""The real PG&E outage-map snapshots kept under tests/data/outages."""

from __future__ import annotations

import gzip
from pathlib import Path

OUTAGES = Path(__file__).parent / "data" / "outages"
EARLIER = "pge_outages_2019_psps_snapshot_prev.json"
LATER = "pge_outages_2019_psps_snapshot.json"


def pge_snapshot(name: str) -> bytes:
    return gzip.decompress((OUTAGES / f"{name}.gz").read_bytes())
