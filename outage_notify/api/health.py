"""Liveness, readiness and metrics: no authentication, nothing personal."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy import text

from outage_notify.api.deps import get_runtime
from outage_notify.api.schemas import HealthOut, ReadyOut
from outage_notify.db.migrate import at_head
from outage_notify.delivery.outbox import backlog
from outage_notify.runtime import Runtime
from outage_notify.scheduler import lease, runs
from outage_notify.scheduler.background import LEASE
from outage_notify.timeutil import iso

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
OUTBOX = Gauge("outage_notify_outbox", "Outbox rows by state", ["state"])


@router.get("/healthz", summary="The process is up", response_model=HealthOut)
async def healthz() -> dict[str, str]:
    # async: answered on the event loop itself, so it needs no worker thread and still answers
    # when every thread is busy (checking big areas, say).
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Database reachable, schema at head, dispatcher alive",
    response_model=ReadyOut,
    response_description="Ready",
    responses={503: {"model": ReadyOut, "description": "Not ready: the checks say why"}},
)
def readyz(runtime: Runtime = Depends(get_runtime)) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if at_head(runtime.engine) else "not at head"
    except Exception as exc:  # any failure to reach the database means not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["dispatcher"] = _dispatcher_state(runtime)
    ready = all(v in ("ok", "disabled") for v in checks.values())
    body: dict[str, Any] = {"ready": ready, "checks": checks}
    if checks["database"] == "ok":
        try:
            body["clock"] = _clock_state(runtime)
        except Exception:  # informational only: never what makes readiness fail
            log.warning("reading the clock's state failed", exc_info=True)
    return JSONResponse(body, status_code=200 if ready else 503)


def _dispatcher_state(runtime: Runtime) -> str:
    if not runtime.settings.dispatcher_enabled:
        return "disabled"
    dispatcher = runtime.dispatcher
    beat = dispatcher.last_beat
    stale_after = max(30.0, runtime.settings.lease_seconds * 2)
    if not dispatcher.alive or beat is None or time.monotonic() - beat > stale_after:
        return "not running"
    if not runtime.planner.alive:  # planning and delivery run side by side; both must live
        return "planner not running"
    return "ok"


def _clock_state(runtime: Runtime) -> dict[str, Any]:
    """Two small reads (the lease row, one row per job); nothing personal, no host names."""
    with runtime.reading() as session:
        holder = lease.holder(session, name=LEASE, now=runtime.clock.now())
        last = runs.last_runs(session)
    scheduler = runtime.scheduler
    if not runtime.settings.scheduler_enabled:
        state = "disabled"
    else:
        state = "running" if scheduler.running else "stopped"
    if holder is None:
        held = "nobody"
    else:
        held = "this process" if holder.owner == scheduler.owner else "another process"
    jobs = {
        name: {
            "runs": run.runs,
            "last_started_at": iso(run.started_at),
            "last_finished_at": iso(run.finished_at),
            "ok": None if run.running else run.error is None,
        }
        for name, run in last.items()
    }
    return {"scheduler": state, "lease": held, "jobs": jobs}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    response_description="Prometheus text exposition format",
)
def metrics(runtime: Runtime = Depends(get_runtime)) -> Response:
    with runtime.reading() as session:
        for state, count in backlog(session, now=runtime.clock.now()).items():
            OUTBOX.labels(state).set(count)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
