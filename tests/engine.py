"""Driving the engine from tests: change an incident as a request would, at a given moment,
then let the planning worker do its background work at that same moment."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from outage_notify.clock import ManualClock
from outage_notify.incidents.service import IncidentOutcome
from outage_notify.ingest.operator_api import incident_from_body
from outage_notify.matching.geometry import DEFAULT_MAX_VERTICES
from outage_notify.runtime import Runtime

ACTOR = "apikey:test"


def at(runtime: Runtime, now: datetime) -> None:
    """Moves the runtime's clock (a ManualClock) to `now`."""
    clock = runtime.clock
    assert isinstance(clock, ManualClock), "build the runtime with a ManualClock"
    clock.set(now)


def upsert_incident(
    runtime: Runtime,
    body: Mapping[str, Any],
    *,
    now: datetime,
    source: str = "operator",
    plan: bool = True,
) -> IncidentOutcome:
    at(runtime, now)
    record = incident_from_body(dict(body), max_vertices=DEFAULT_MAX_VERTICES)
    with runtime.transaction() as session:
        outcome = runtime.incidents.upsert(
            session, source=source, record=record, actor=ACTOR, now=now
        )
    if plan:
        runtime.planner.drain()
    return outcome


def patch_incident(
    runtime: Runtime,
    incident_id: str,
    fields: Mapping[str, Any],
    *,
    now: datetime,
    plan: bool = True,
) -> IncidentOutcome:
    at(runtime, now)
    with runtime.transaction() as session:
        outcome = runtime.incidents.patch(
            session, incident_id=incident_id, patch=fields, actor=ACTOR, now=now
        )
    if plan:
        runtime.planner.drain()
    return outcome


def run_sweep(runtime: Runtime, name: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Runs one scheduled job now (as the scheduler would, at the runtime's clock, or `now`),
    then lets the planning worker do what it recorded. Returns the job's result."""
    from outage_notify.scheduler.jobs import JOBS, run_job

    if now is not None:
        at(runtime, now)
    ctx = runtime.job_context("test")
    outcome = run_job(JOBS[name], ctx)
    assert outcome.ok, outcome.error
    runtime.planner.drain()
    assert outcome.result is not None
    return outcome.result
