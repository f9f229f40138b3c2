"""GET /dashboard: the storm dashboard for operators, server-rendered, its charts inline SVG.

`?partial=1` answers only the figures (an HTML fragment), which static/dashboard.js fetches
every ten seconds to replace them in place; without JavaScript the page has a Refresh link.
`?span=1h|6h|24h` chooses the period (per minute, per 5 minutes, per 15 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from outage_notify.api.dashboard import shared_stats
from outage_notify.api.deps import get_runtime
from outage_notify.auth.sessions import SignedIn
from outage_notify.runtime import Runtime
from outage_notify.timeline.dashboard import CHANNELS, STATUSES, StormStats
from outage_notify.web.charts import Chart, columns, horizontal_bars
from outage_notify.web.signin import require_user
from outage_notify.web.templating import templates

router = APIRouter(include_in_schema=False)
viewer = require_user("operator")  # admin always


@dataclass(frozen=True)
class Span:
    label: str
    window: timedelta
    bucket: timedelta
    marks: int  # minutes between the time labels under a series chart (on the clock's round)


SPANS = {
    "1h": Span("last hour, per minute", timedelta(hours=1), timedelta(minutes=1), 10),
    "6h": Span("last 6 hours, per 5 minutes", timedelta(hours=6), timedelta(minutes=5), 60),
    "24h": Span("last 24 hours, per 15 minutes", timedelta(hours=24), timedelta(minutes=15), 240),
}
DEFAULT_SPAN = "6h"
CHANNEL_NAMES = {"sms": "SMS", "email": "Email", "push": "Push", "in_app": "In-app"}
KIND_NAMES = {"unplanned": "outages", "planned": "planned work", "warning": "weather warnings"}
SERIES = (
    ("replies", "Replies", "replies per minute"),
    ("reports", "Outage reports", "reports per minute"),
    ("opt_outs", "Opt-outs", "opt-outs per minute"),
)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    span: str = Query(DEFAULT_SPAN, max_length=8),
    partial: bool = Query(False),
    user: SignedIn = Depends(viewer),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    span = span if span in SPANS else DEFAULT_SPAN
    chosen = SPANS[span]
    stats = shared_stats(request).get(runtime, window=chosen.window, bucket=chosen.bucket)
    context = {
        "span": span,
        "spans": SPANS,
        "figures": figures(stats, runtime.settings.zone, marks=chosen.marks),
        "zone": runtime.settings.zone,
    }
    name = "dashboard_figures.html" if partial else "dashboard.html"
    response = templates.TemplateResponse(request, name, context)
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- what the templates show ------------------------------------------------------------------


def figures(stats: StormStats, zone: ZoneInfo, *, marks: int = 60) -> dict[str, Any]:
    """The figures as the page shows them: numbers in words, charts as geometry."""
    first = stats.first_message
    return {
        "stats": stats,
        "as_of": _clock(stats.now, zone, seconds=True),
        "since": _clock(stats.since, zone),
        "affected": [(KIND_NAMES[kind], kind, count) for kind, count in stats.affected.items()],
        "p50": duration(first.p50_seconds),
        "p95": duration(first.p95_seconds),
        "channels": _channel_rows(stats),
        "channel_charts": _channel_charts(stats),
        "status_totals": {status: stats.messages_total(status) for status in STATUSES},
        "series": _series_charts(stats, zone, marks),
        "series_rows": _series_rows(stats, zone),
        "per_minute": stats.buckets.seconds / 60,
    }


def _channel_rows(stats: StormStats) -> list[tuple[str, str, dict[str, int], int]]:
    """(channel, name, counts by status, total) for the table, known channels first."""
    order = [c for c in CHANNELS if c in stats.messages] + sorted(
        c for c in stats.messages if c not in CHANNELS
    )
    return [
        (c, CHANNEL_NAMES.get(c, c), stats.messages[c], sum(stats.messages[c].values()))
        for c in order
    ]


def _channel_charts(stats: StormStats) -> list[tuple[str, str, Chart]]:
    """A chart per channel, one bar per status, on one scale so channels compare at a look
    (the longest bar is the largest count of all)."""
    top = max((n for c in stats.messages.values() for n in c.values()), default=0)
    charts = []
    for channel, name, counts, _ in _channel_rows(stats):
        rows = [(status, float(counts.get(status, 0)), f"tone-{status}") for status in STATUSES]
        chart = horizontal_bars(rows, top=top, title=f"{name} messages by status")
        charts.append((channel, name, chart))
    return charts


def _series_charts(stats: StormStats, zone: ZoneInfo, marks: int) -> list[tuple[str, str, Chart]]:
    starts = [start.astimezone(zone) for start in stats.buckets.starts()]
    labels = [start.strftime("%H:%M") for start in starts]
    # Labelled: the buckets that start on the clock's round (every `marks` minutes, local).
    on_round = [i for i, t in enumerate(starts) if (t.hour * 60 + t.minute) % marks == 0]
    minutes = _bucket_minutes(stats)
    charts = []
    for key, name, unit in SERIES:
        rates = [count / span for count, span in zip(getattr(stats, key), minutes, strict=True)]
        chart = columns(rates, labels, title=name, unit=unit, marks=on_round)
        charts.append((key, name, chart))
    return charts


def _bucket_minutes(stats: StormStats) -> list[float]:
    """The minutes each bucket has counted: all of them but the last, which holds now and has
    counted only since its start (at least a minute, so that one early reply is no spike)."""
    buckets = stats.buckets
    full = buckets.seconds / 60
    so_far = (stats.now - buckets.starts()[-1]).total_seconds() / 60
    return [full] * (buckets.count - 1) + [min(max(so_far, 1.0), full)]


def _series_rows(stats: StormStats, zone: ZoneInfo) -> list[tuple[str, int, int, int]]:
    """(time, replies, reports, opt-outs) per bucket, latest first, for the table."""
    starts = stats.buckets.starts()
    return [
        (_clock(starts[i], zone), stats.replies[i], stats.reports[i], stats.opt_outs[i])
        for i in reversed(range(len(starts)))
    ]


def duration(seconds: float | None) -> str:
    """45 s, 2 min 5 s, 1 h 3 min; an en dash for none."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _clock(moment: datetime, zone: ZoneInfo, *, seconds: bool = False) -> str:
    return moment.astimezone(zone).strftime("%H:%M:%S" if seconds else "%H:%M")
