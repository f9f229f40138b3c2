"""The public outage map (/map): no sign-in. Server-rendered lists that work without any
script, drawn on a map by static/map.js where scripts run."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from outage_notify import paths
from outage_notify.api.deps import get_runtime
from outage_notify.auth.throttle import LoginThrottle
from outage_notify.incidents.model import IncidentKind
from outage_notify.public import words
from outage_notify.public.address import AddressRefused, parse_address
from outage_notify.public.outages import PublicIncident, incidents_at, public_incidents
from outage_notify.public.outlines import read_outlines
from outage_notify.public.reports import MAX_TEXT, ReportRefused, add_report, parse_report
from outage_notify.runtime import Runtime
from outage_notify.web.pages import templates
from outage_notify.web.templating import page_language, page_voice

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
# The map's script files (scripts/build-assets.sh). Without them the lists still work, and
# the page says why there is no map.
VENDOR_FILES = ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css")
REPORTS_PER_IP = 5
REPORT_WINDOW = timedelta(minutes=10)
TOO_MANY = words.N_(
    "Too many reports from your connection: please wait %(minutes)s minutes, or call the "
    "fault line."
)
KIND_WORDS = {
    IncidentKind.UNPLANNED: words.N_("Power outage"),
    IncidentKind.PLANNED: words.N_("Planned work"),
    IncidentKind.WARNING: words.N_("Weather warning"),
}


@dataclass(frozen=True)
class Entry:
    """One incident as the page words it."""

    incident: PublicIncident
    place: str
    customers: str
    status: str
    etr: str
    window: str
    since: str
    updated: str


@dataclass(frozen=True)
class Search:
    address: str
    refused: str | None = None
    found: tuple[Entry, ...] = ()


@dataclass(frozen=True)
class ReportState:
    """The report form's answer: taken, or refused with the reason (in the page's language),
    and what was typed, to correct."""

    taken: bool = False
    refused: str | None = None
    address: str = ""
    text: str = ""


@router.get("/map", response_class=HTMLResponse)
def public_map(
    request: Request,
    address: str | None = None,
    reported: bool = False,
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    return _map_page(request, runtime, address, report=ReportState(taken=reported))


@router.post("/map/report", response_class=HTMLResponse)
def report_outage(
    request: Request,
    address: str = Form("", max_length=1000),
    text: str = Form("", max_length=5000),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """A customer's report that their power is out (no sign-in): placed at our connection at
    the address, shown on the operator console. At most REPORTS_PER_IP accepted reports per
    REPORT_WINDOW from one address (this process's count), so the form cannot flood the map."""
    now = runtime.clock.now()
    voice = page_voice(request)
    typed = ReportState(address=address[:200], text=text[:MAX_TEXT])
    throttle: LoginThrottle = request.app.state.report_throttle
    client = request.client.host if request.client else "unknown"
    if throttle.locked_until(client, now=now) is not None:
        refused = voice.gettext(TOO_MANY, minutes=int(REPORT_WINDOW.total_seconds() // 60))
        return _map_page(
            request, runtime, None, report=replace(typed, refused=refused), status_code=429
        )
    try:
        form = parse_report(address, text)
        with runtime.transaction() as session:
            add_report(session, form=form, now=now)
    except ReportRefused as refused:
        said = voice.gettext(refused.message, **refused.values)
        return _map_page(
            request, runtime, None, report=replace(typed, refused=said), status_code=422
        )
    throttle.failed(client, now=now)  # an accepted report: counted against the address
    return RedirectResponse("/map?reported=true#report", status_code=303)


def _map_page(
    request: Request,
    runtime: Runtime,
    address: str | None,
    *,
    report: ReportState,
    status_code: int = 200,
) -> Response:
    settings = runtime.settings
    now, zone = runtime.clock.now(), settings.zone
    lang = page_language(request)
    voice = page_voice(request)
    outlines = read_outlines(settings.map_outlines)
    with runtime.reading() as session:
        incidents = public_incidents(session, now=now, outlines=outlines)
        search = _search(session, address, incidents) if address is not None else None
    entries = [_entry(i, now, zone, voice) for i in incidents]
    by_id = {e.incident.id: e for e in entries}
    context = {
        "outages": [e for e in entries if e.incident.kind == IncidentKind.UNPLANNED],
        "planned": [e for e in entries if e.incident.kind == IncidentKind.PLANNED],
        "warnings": [e for e in entries if e.incident.kind == IncidentKind.WARNING],
        "customers_out": words.count_words(
            sum(e.incident.customers for e in entries if e.incident.kind == IncidentKind.UNPLANNED),
            voice=voice,
        ),
        "lang": lang,
        "kinds": {kind: voice.gettext(message) for kind, message in KIND_WORDS.items()},
        "search": search and Search(search[0], search[1], tuple(by_id[i.id] for i in search[2])),
        "now": words.clock(now, now=now, zone=zone, voice=voice),
        "map_ready": map_ready(),
        "tile_url": settings.map_tile_url or "",
        "tile_attribution": settings.map_tile_attribution,
        "service_phone": settings.service_phone,
        "sms_number": settings.twilio_from,
        "report": report,
        "report_max": MAX_TEXT,
    }
    refused = search is not None and search[1] is not None
    response = templates.TemplateResponse(
        request, "public_map.html", context, status_code=422 if refused else status_code
    )
    if address is not None or report.address:
        response.headers["Cache-Control"] = "no-store"  # what someone typed stays theirs
    return response


def _search(
    session: Any, address: str, incidents: list[PublicIncident]
) -> tuple[str, str | None, list[PublicIncident]]:
    try:
        query = parse_address(address)
    except AddressRefused as refused:
        typed = "".join(ch for ch in address if ch.isprintable()).strip()[:200]
        return typed, str(refused), []
    return query.prefix, None, incidents_at(session, query=query, incidents=incidents)


def _entry(incident: PublicIncident, now: datetime, zone: ZoneInfo, voice: words.Voice) -> Entry:
    return Entry(
        incident=incident,
        place=", ".join(incident.areas) or _unnamed(incident, voice),
        customers=words.count_words(incident.customers, voice=voice),
        status=words.status_words(incident.kind, incident.status, voice=voice),
        etr=words.etr_words(incident.etr, now=now, zone=zone, voice=voice),
        window=words.window_words(
            incident.starts_at, incident.ends_at, now=now, zone=zone, voice=voice
        ),
        since=words.clock(incident.started_at, now=now, zone=zone, voice=voice),
        updated=f"{words.clock(incident.updated_at, now=now, zone=zone, voice=voice)} "
        f"({words.ago(incident.updated_at, now=now, voice=voice)})",
    )


def _unnamed(incident: PublicIncident, voice: words.Voice) -> str:
    if incident.area is not None:
        return voice.gettext("Area shown on the map")
    return voice.gettext("Area not given")


def map_ready() -> bool:
    """Whether the vendor files of the maps were built (scripts/build-assets.sh)."""
    missing = [f for f in VENDOR_FILES if not (paths.STATIC / f).is_file()]
    if missing:
        log.warning("map files missing (%s): run scripts/build-assets.sh", ", ".join(missing))
    return not missing


@router.get("/map/outlines.geojson")
def outlines(runtime: Runtime = Depends(get_runtime)) -> Response:
    """The plain background's outlines (MAP_OUTLINES), for map.js."""
    document = read_outlines(runtime.settings.map_outlines).document
    return Response(
        document,
        media_type="application/geo+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )
