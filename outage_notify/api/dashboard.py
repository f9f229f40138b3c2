"""/api/v1/dashboard: the storm dashboard's figures as JSON, for operators (the page at
/dashboard shows the same). Shared by every viewer for a moment when they are costly to read
(SharedStats): a room of operators refreshing every ten seconds costs the database one read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from outage_notify.api.deps import Caller, as_operator, get_runtime
from outage_notify.api.errors import ApiError, error_responses
from outage_notify.api.schemas import Out, Timestamp
from outage_notify.runtime import Runtime
from outage_notify.timeline.dashboard import StormStats, stats_dict, storm_stats

router = APIRouter(prefix="/api/v1", tags=["dashboard"])

# A computation that took this long or more is served again, to anyone asking for the same
# window, for REUSE_FACTOR times as long (at most MAX_REUSE_SECONDS): the database then spends
# at most a third of its time on the dashboard, however many watch it. Cheaper ones (a small
# database) are read afresh every time.
COSTLY_SECONDS = 0.25
REUSE_FACTOR = 2.0
MAX_REUSE_SECONDS = 10.0


@dataclass(frozen=True)
class _Entry:
    at: float
    cost: float
    stats: StormStats


class SharedStats:
    """The latest figures per (window, bucket), read by one request at a time: the others wait
    for it and take its answer rather than read the same again."""

    def __init__(self, timer: Callable[[], float] = time.monotonic) -> None:
        self._timer = timer
        self._lock = threading.Lock()
        self._entries: dict[tuple[timedelta, timedelta], _Entry] = {}

    def get(self, runtime: Runtime, *, window: timedelta, bucket: timedelta) -> StormStats:
        key = (window, bucket)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._timer() - entry.at < _reuse_seconds(entry.cost):
                return entry.stats
            started = self._timer()
            with runtime.reading() as session:
                stats = storm_stats(session, now=runtime.clock.now(), window=window, bucket=bucket)
            finished = self._timer()
            self._entries[key] = _Entry(finished, finished - started, stats)
            return stats


def _reuse_seconds(cost: float) -> float:
    return 0.0 if cost < COSTLY_SECONDS else min(cost * REUSE_FACTOR, MAX_REUSE_SECONDS)


def shared_stats(request: Request) -> SharedStats:
    """The app's one SharedStats (made on first use), for this API and the page alike."""
    state = request.app.state
    shared: SharedStats | None = getattr(state, "dashboard_stats", None)
    if shared is None:
        shared = state.dashboard_stats = SharedStats()
    return shared


# ---- what it answers -------------------------------------------------------------------------


class AffectedOut(Out):
    unplanned: int = Field(description="Customers affected by an open outage")
    planned: int = Field(description="Customers in planned work that has begun")
    warning: int = Field(description="Customers exposed to a weather warning not yet expired")
    total: int = Field(description="Distinct customers, whatever the kind")


class KindCountsOut(Out):
    unplanned: int
    planned: int
    warning: int


class IncidentCountsOut(Out):
    open: int = Field(description="Incidents detected, with a crew or in progress")
    overdue: int = Field(description="Open incidents whose ETR has passed")
    open_by_kind: KindCountsOut


class MessageCountsOut(Out):
    queued: int
    sent: int = Field(description="Accepted by the provider, no receipt yet")
    delivered: int
    failed: int
    suppressed: int = Field(description="Not sent, on purpose (opted out, no address, …)")


class FirstMessageOut(Out):
    measured: int = Field(description="Outages confirmed in the window that have a first message")
    awaiting: int = Field(
        description="Open outages confirmed in the window with customers still waiting for "
        "their first message (queued or being planned)"
    )
    p50_seconds: float | None = Field(description="Median, nearest rank; null: none measured")
    p95_seconds: float | None
    max_seconds: float | None


class BucketOut(Out):
    start: Timestamp
    replies: int = Field(description="SMS replies received")
    reports: int = Field(description="Outages reported by customers (still out)")
    opt_outs: int = Field(description="Contacts that opted out (and have not opted back in)")


class InboundTotalsOut(Out):
    replies: int
    reports: int
    opt_outs: int


class DashboardOut(Out):
    now: Timestamp
    since: Timestamp = Field(description="Start of the window: its first bucket's start")
    until: Timestamp = Field(description="End of the last bucket (it holds now)")
    bucket_seconds: int
    affected: AffectedOut = Field(description="Customers affected now, by incident kind")
    incidents: IncidentCountsOut
    messages: dict[str, MessageCountsOut] = Field(
        description="Messages created in the window by channel (sms, email, push, in_app) "
        "and status"
    )
    first_message: FirstMessageOut = Field(
        description="Time from an unplanned outage's confirmation (when its customers may "
        "first be told) to its first message accepted by a provider on SMS, email or push, "
        "over the outages confirmed in the window"
    )
    buckets: list[BucketOut] = Field(description="Oldest first; counts per bucket_seconds")
    inbound_totals: InboundTotalsOut = Field(description="Over the whole window")
    notes: list[str]


@router.get(
    "/dashboard",
    summary="Storm dashboard: affected now, messages by channel and status, time to first "
    "message, replies and reports per bucket",
    response_model=DashboardOut,
    responses=error_responses(401, 403, 422),
)
def get_dashboard(
    request: Request,
    window_minutes: int = Query(360, ge=5, le=1440, description="How far back, in minutes"),
    bucket_minutes: int = Query(5, ge=1, le=60, description="Series bucket size, in minutes"),
    _: Caller = Depends(as_operator),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    if bucket_minutes > window_minutes:
        raise ApiError(422, "bucket_minutes must not exceed window_minutes")
    stats = shared_stats(request).get(
        runtime, window=timedelta(minutes=window_minutes), bucket=timedelta(minutes=bucket_minutes)
    )
    return stats_dict(stats)
