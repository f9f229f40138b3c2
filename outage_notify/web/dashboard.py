"""GET /dashboard: the storm dashboard for operators, server-rendered, its charts inline SVG, in
the reader's language (the pages' catalogs).

`?partial=1` answers only the figures (an HTML fragment), which static/dashboard.js fetches
every ten seconds to replace them in place; without JavaScript the page has a Refresh link.
`?span=1h|6h|24h` chooses the period (per minute, per 5 minutes, per 15 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from outage_notify.api.dashboard import shared_stats
from outage_notify.api.deps import get_runtime
from outage_notify.auth.sessions import SignedIn
from outage_notify.public.words import N_, Voice
from outage_notify.runtime import Runtime
from outage_notify.timeline.dashboard import CHANNELS, STATUSES, StormStats
from outage_notify.web.charts import Chart, Row, columns, horizontal_bars, peak
from outage_notify.web.signin import require_user
from outage_notify.web.templating import page_voice, templates

router = APIRouter(include_in_schema=False)
viewer = require_user("operator")  # admin always


@dataclass(frozen=True)
class Span:
    label: str
    window: timedelta
    bucket: timedelta
    marks: int  # minutes between the time labels under a series chart (on the clock's round)


SPANS = {
    "1h": Span(N_("last hour, per minute"), timedelta(hours=1), timedelta(minutes=1), 10),
    "6h": Span(N_("last 6 hours, per 5 minutes"), timedelta(hours=6), timedelta(minutes=5), 60),
    "24h": Span(
        N_("last 24 hours, per 15 minutes"), timedelta(hours=24), timedelta(minutes=15), 240
    ),
}
DEFAULT_SPAN = "6h"
CHANNEL_NAMES = {"sms": N_("SMS"), "email": N_("Email"), "push": N_("Push"), "in_app": N_("In-app")}
STATUS_NAMES = {
    "queued": N_("queued"),
    "sent": N_("sent"),
    "delivered": N_("delivered"),
    "failed": N_("failed"),
    "suppressed": N_("suppressed"),
}
KIND_PHRASES = {
    "unplanned": N_("in outages"),
    "planned": N_("in planned work that has begun"),
    "warning": N_("in weather warnings"),
}
SERIES = (
    ("replies", N_("Replies per minute")),
    ("reports", N_("Outage reports per minute")),
    ("opt_outs", N_("Opt-outs per minute")),
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
    voice = page_voice(request)
    context = {
        "span": span,
        "spans": {key: voice.gettext(s.label) for key, s in SPANS.items()},
        "figures": figures(stats, runtime.settings.zone, voice=voice, marks=chosen.marks),
        "zone": runtime.settings.zone,
    }
    name = "dashboard_figures.html" if partial else "dashboard.html"
    response = templates.TemplateResponse(request, name, context)
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- what the templates show ------------------------------------------------------------------


def figures(stats: StormStats, zone: ZoneInfo, *, voice: Voice, marks: int = 60) -> dict[str, Any]:
    """The figures as the page shows them: numbers written in the reader's language, charts
    as geometry with their words."""
    first = stats.first_message

    def number(value: float) -> str:
        return format_decimal(value, format="#,##0.#", locale=voice.locale)

    return {
        "stats": stats,
        "n": number,
        "as_of": _clock(stats.now, zone, voice, seconds=True),
        "since": _clock(stats.since, zone, voice),
        "affected": [
            (kind, voice.gettext(KIND_PHRASES.get(kind, kind)), number(count))
            for kind, count in stats.affected.items()
        ],
        "p50": duration(first.p50_seconds, voice),
        "p95": duration(first.p95_seconds, voice),
        "statuses": [(status, voice.gettext(STATUS_NAMES[status])) for status in STATUSES],
        "channels": _channel_rows(stats, voice),
        "channel_charts": _channel_charts(stats, voice, number),
        "status_totals": [number(stats.messages_total(status)) for status in STATUSES],
        "series": _series_charts(stats, zone, voice, number, marks),
        "series_rows": _series_rows(stats, zone, voice),
        "bucket_minutes": stats.buckets.seconds // 60,
    }


def _channel_rows(stats: StormStats, voice: Voice) -> list[tuple[str, str, dict[str, int]]]:
    """(channel, its name, counts by status) for the table and charts, known channels first."""
    order = [c for c in CHANNELS if c in stats.messages] + sorted(
        c for c in stats.messages if c not in CHANNELS
    )
    return [
        (c, voice.gettext(CHANNEL_NAMES[c]) if c in CHANNEL_NAMES else c, stats.messages[c])
        for c in order
    ]


def _channel_charts(stats: StormStats, voice: Voice, number: Any) -> list[tuple[str, str, Chart]]:
    """A chart per channel, one bar per status, on one scale so channels compare at a look
    (the longest bar is the largest count of all)."""
    top = max((n for c in stats.messages.values() for n in c.values()), default=0)
    charts = []
    for channel, name, counts in _channel_rows(stats, voice):
        rows = [
            Row(
                voice.gettext(STATUS_NAMES[s]),
                counts.get(s, 0),
                f"tone-{s}",
                number(counts.get(s, 0)),
            )
            for s in STATUSES
        ]
        parts = ", ".join(f"{row.text} {row.label}" for row in rows)
        title = voice.gettext("%(channel)s messages by status", channel=name)
        summary = voice.gettext("%(title)s: %(counts)s.", title=title, counts=parts)
        charts.append((channel, title, horizontal_bars(rows, top=top, summary=summary)))
    return charts


def _series_charts(
    stats: StormStats, zone: ZoneInfo, voice: Voice, number: Any, marks: int
) -> list[tuple[str, str, Chart]]:
    starts = [start.astimezone(zone) for start in stats.buckets.starts()]
    labels = [_clock(start, zone, voice) for start in starts]
    # Labelled: the buckets that start on the clock's round (every `marks` minutes, local).
    on_round = [i for i, t in enumerate(starts) if (t.hour * 60 + t.minute) % marks == 0]
    minutes = _bucket_minutes(stats)
    charts = []
    for key, name in SERIES:
        title = voice.gettext(name)
        rates = [count / span for count, span in zip(getattr(stats, key), minutes, strict=True)]
        summary = _series_summary(title, rates, labels, voice, number)
        chart = columns(rates, labels, summary=summary, marks=on_round, number=number)
        charts.append((key, title, chart))
    return charts


def _series_summary(
    title: str, rates: list[float], labels: list[str], voice: Voice, number: Any
) -> str:
    highest = peak(rates)
    if highest is None:
        return voice.gettext("%(title)s: none in this period.", title=title)
    return voice.gettext(
        "%(title)s: highest %(peak)s at %(peak_time)s; latest %(latest)s (%(latest_time)s).",
        title=title,
        peak=number(rates[highest]),
        peak_time=labels[highest],
        latest=number(rates[-1]),
        latest_time=labels[-1],
    )


def _bucket_minutes(stats: StormStats) -> list[float]:
    """The minutes each bucket has counted: all of them but the last, which holds now and has
    counted only since its start (at least a minute, so that one early reply is no spike)."""
    buckets = stats.buckets
    full = buckets.seconds / 60
    so_far = (stats.now - buckets.starts()[-1]).total_seconds() / 60
    return [full] * (buckets.count - 1) + [min(max(so_far, 1.0), full)]


def _series_rows(
    stats: StormStats, zone: ZoneInfo, voice: Voice
) -> list[tuple[str, int, int, int]]:
    """(time, replies, reports, opt-outs) per bucket, latest first, for the table."""
    starts = stats.buckets.starts()
    return [
        (_clock(starts[i], zone, voice), stats.replies[i], stats.reports[i], stats.opt_outs[i])
        for i in reversed(range(len(starts)))
    ]


def duration(seconds: float | None, voice: Voice) -> str:
    """45 s, 2 min 5 s, 1 h 3 min (in the reader's abbreviations); an en dash for none."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return voice.gettext("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    if minutes and secs:
        return voice.gettext("%(minutes)s min %(seconds)s s", minutes=minutes, seconds=secs)
    if minutes:
        return voice.gettext("%(minutes)s min", minutes=minutes)
    return voice.gettext("%(seconds)s s", seconds=secs)


def _clock(moment: datetime, zone: ZoneInfo, voice: Voice, *, seconds: bool = False) -> str:
    return format_skeleton("Hms" if seconds else "Hm", moment.astimezone(zone), locale=voice.locale)
