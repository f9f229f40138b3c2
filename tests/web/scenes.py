"""Scenes for page tests: the demo town (fixtures/demo_town) in a storm as it stands now.

`storm_now` loads the town's 5,699 customers and feeder lines, then puts it in the middle of
the demo's storm night at the real present (page times are read against the real clock):
- the fallen tree north-west of the centre (the feed's polygon of 19:45), repair under way,
  an estimate two hours ahead;
- feeder F-03 out after an equipment failure, given by feeder only (no area), a crew on its
  way;
- the planned transformer maintenance (T-051314, T-022222), 04:00-06:00 tomorrow;
- the weather service's wind warning (fixtures/demo_town/cap/alert.xml, its times moved to
  now), read by the real poll-cap sweep, so feeder F-08's customers are exposed too.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from outage_notify.db.models import Incident
from outage_notify.demo import CAP, FEED, _load_town
from outage_notify.incidents.model import IncidentKind
from outage_notify.ingest.operator_api import incident_from_body
from outage_notify.runtime import Runtime
from outage_notify.scheduler.jobs import JOBS, run_job

CAP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
WARNING_ONSET = datetime.fromisoformat("2026-11-24T20:00:00+02:00")  # alert.xml's onset


def warning_document(now: datetime, *, run: str = "SCENE") -> bytes:
    """alert.xml with its times moved so that the warning came into force an hour ago."""
    shift = now.replace(second=0, microsecond=0) - timedelta(hours=1) - WARNING_ONSET
    text = (CAP / "alert.xml").read_text(encoding="utf-8")
    moved = CAP_TIME.sub(lambda m: (datetime.fromisoformat(m.group(0)) + shift).isoformat(), text)
    return moved.replace(".RUN", f".{run}").encode()


def storm_now(runtime: Runtime, *, cap_file: Path) -> dict[str, str]:
    """The scene, in `runtime` (whose CAP_FEEDS must be cap_file's URI); returns the
    incidents' ids by name: tree, feeder, planned, warning."""
    now = runtime.clock.now()
    zone = runtime.settings.zone
    _load_town(runtime)
    tree = _feature(FEED / "165.geojson", "OMS-7001")
    tomorrow = (now.astimezone(zone) + timedelta(days=1)).date()
    bodies = {
        "tree": {
            "external_id": "SCENE-TREE",
            "status": "in_progress",
            "cause": "fallen tree",
            "area": tree["geometry"],
            "etr": (now + timedelta(hours=2, minutes=10)).isoformat(),
        },
        "feeder": {
            "external_id": "SCENE-F03",
            "status": "crew_assigned",
            "cause": "equipment failure",
            "feeders": ["F-03"],
            "etr": (now + timedelta(minutes=50)).isoformat(),
        },
        "planned": {
            "external_id": "SCENE-PLANNED",
            "kind": "planned",
            "cause": "transformer maintenance",
            "transformers": ["T-051314", "T-022222"],
            "starts_at": datetime(
                tomorrow.year, tomorrow.month, tomorrow.day, 4, tzinfo=zone
            ).isoformat(),
            "ends_at": datetime(
                tomorrow.year, tomorrow.month, tomorrow.day, 6, tzinfo=zone
            ).isoformat(),
        },
    }
    made: dict[str, str] = {}
    with runtime.transaction() as session:
        for name, body in bodies.items():
            record = incident_from_body(body, max_vertices=runtime.settings.max_area_vertices)
            outcome = runtime.incidents.upsert(
                session, source="operator", record=record, actor="scene", now=now
            )
            made[name] = outcome.incident.id
    cap_file.write_bytes(warning_document(now))
    outcome = run_job(JOBS["poll-cap"], runtime.job_context("scene"))
    assert outcome.ok, outcome.error
    with runtime.reading() as session:
        made["warning"] = session.scalars(
            select(Incident.id).where(Incident.kind == IncidentKind.WARNING)
        ).one()
    runtime.drain()
    return made


def _feature(path: Path, feature_id: str) -> dict[str, Any]:
    collection = json.loads(path.read_text(encoding="utf-8"))
    return next(f for f in collection["features"] if f["id"] == feature_id)
