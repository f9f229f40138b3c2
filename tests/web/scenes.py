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
from outage_notify.incidents.model import IncidentKind, IncidentValue, Status, frozen_message
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


def grid_scene(runtime: Runtime, *, now: datetime) -> dict[str, str]:
    """tests/town.py's 50 customers (loaded by the caller) with one of each thing the public
    map shows, and some it must not; returns the incidents' ids by name.

    Shown: `area` (a polygon over C-0..2-0..1, 6 customers), `feeder` (F-7 alone: C-7-0..4, 5
    customers), `pair` (C-9-0 and C-9-1: too few to count), `planned` (transformers T-5-0 and
    T-5-1: C-5-0..3), `warning` (Severe, over C-3..6-3..4). Not shown: `restored`, `unconfirmed`
    (a feed's outage younger than CONFIRM_SECONDS), `expired` (a warning past its expiry)."""
    from tests.town import LAT0, LON0, STEP, box, cells

    def column(col: int, row0: int, row1: int) -> dict[str, Any]:
        lon, margin = LON0 + col * STEP, STEP / 4
        return box(
            lon - margin, LAT0 + row0 * STEP - margin, lon + margin, LAT0 + row1 * STEP + margin
        )

    hours = lambda n: (now + timedelta(hours=n)).isoformat()  # noqa: E731
    bodies = {
        "area": {
            "area": cells(0, 0, 2, 1),
            "cause": "storm",
            "status": "crew_assigned",
            "etr": hours(3),
        },
        "feeder": {"feeders": ["F-7"], "cause": "cable fault"},
        "pair": {"area": column(9, 0, 1), "cause": "fallen tree"},
        "planned": {
            "kind": "planned",
            "transformers": ["T-5-0", "T-5-1"],
            "cause": "maintenance",
            "starts_at": hours(20),
            "ends_at": hours(24),
            "message": {"fi": "Hissit eivät toimi.", "en": "Lifts will not work."},
        },
        "restored": {"area": column(4, 0, 1), "status": "restored"},
        "unconfirmed": {"area": column(6, 0, 1)},
    }
    made: dict[str, str] = {}
    with runtime.transaction() as session:
        for name, body in bodies.items():
            record = incident_from_body(
                {"external_id": f"GRID-{name}", **body},
                max_vertices=runtime.settings.max_area_vertices,
            )
            made[name] = runtime.incidents.upsert(
                session,
                source="feed:test" if name == "unconfirmed" else "operator",
                record=record,
                actor="scene",
                now=now,
                confirmed=name != "unconfirmed",
            ).incident.id
        for name, ends in (("warning", 6), ("expired", -1)):
            record = IncidentValue(
                external_id=f"GRID-{name}",
                kind=IncidentKind.WARNING,
                status=Status.DETECTED,
                cause="Wind warning",
                message=frozen_message(
                    {"en": "Orange wind warning", "fi": "Oranssi tuulivaroitus"}
                ),
                area=cells(3, 3, 6, 4),
                starts_at=now - timedelta(hours=2),
                ends_at=now + timedelta(hours=ends),
                severity="Severe",
            )
            made[name] = runtime.incidents.upsert(
                session,
                source="cap:test",
                record=record,
                actor="scene",
                now=now,
                territory_checked=False,
            ).incident.id
    return made


def load_grid_town(
    runtime: Runtime, *, now: datetime, people: list[dict[str, Any]] | None = None
) -> None:
    """tests/town.py's customers (or `people`), as an import would store them."""
    from outage_notify.customers.service import upsert_customers
    from outage_notify.ingest.customers import CustomerRules, parse_json_list
    from tests.town import town

    parsed = parse_json_list(people if people is not None else town(), CustomerRules())
    assert not parsed.rejections, parsed.rejections
    with runtime.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=now)
