"""The operator console (/console, issue 12 item 1): a map of the open incidents and warnings
(overdue estimates standing out) over the customers, clustered; an area drawn on it, or an
incident's area edited, becomes an incident through the same rules as the API
(ingest/operator_api.py, IncidentService), after a preview of how many customers will be told
and the exact SMS in each language.

Progressively enhanced: without scripts the form still works, the area as GeoJSON in a text
box, "Preview" and "Send" both posting the form to /console. With scripts (static/console.js)
the area is drawn on the map into that box, and the preview comes from /console/preview
without leaving the page.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from shapely.geometry import Point, shape
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from outage_notify.api.deps import get_runtime
from outage_notify.api.errors import error_response
from outage_notify.auth.sessions import SignedIn
from outage_notify.db.models import Customer, Incident, OutageReport
from outage_notify.errors import CodedError
from outage_notify.incidents import views
from outage_notify.incidents.model import (
    OPERATOR_KINDS,
    OPERATOR_STATUSES,
    IncidentKind,
    value_of,
)
from outage_notify.incidents.preview import ADDRESS_SHOWN, Preview, preview
from outage_notify.incidents.service import (
    IncidentClosed,
    IncidentError,
    IncidentNotFound,
    get_incident,
)
from outage_notify.ingest.operator_api import apply_patch, incident_from_body
from outage_notify.ingest.records import RecordError
from outage_notify.public.reports import Proposal, ReportPoint, propose
from outage_notify.runtime import Runtime
from outage_notify.web.clusters import Bounds, BoundsError, Grid, clusters, grid_for
from outage_notify.web.console_words import refusal_words
from outage_notify.web.public_map import map_ready
from outage_notify.web.signin import PageRefusal, require_user
from outage_notify.web.templating import page_voice, templates

router = APIRouter(include_in_schema=False)
as_operator = require_user("operator")
SOURCE = "operator"  # the API's: one external id names one incident, however it was sent
LISTED = 200  # open incidents on the map and beside it
LOCAL_TIME_EXAMPLE = "2026-11-25T18:30"
REPORTS_SHOWN = timedelta(hours=6)  # customers' reports on the map: the last hours'
MAX_REPORTS = 2_000


@dataclass(frozen=True)
class Draft:
    """The console's form as typed: times in the deployment's zone, the area as GeoJSON text.
    incident_id empty: a new incident."""

    incident_id: str = ""
    external_id: str = ""
    kind: str = IncidentKind.UNPLANNED
    status: str = "detected"
    cause: str = ""
    etr: str = ""
    starts_at: str = ""
    ends_at: str = ""
    message: str = ""
    area: str = ""


def draft_form(
    incident_id: str = Form(""),
    external_id: str = Form(""),
    kind: str = Form(IncidentKind.UNPLANNED),
    status: str = Form("detected"),
    cause: str = Form(""),
    etr: str = Form(""),
    starts_at: str = Form(""),
    ends_at: str = Form(""),
    message: str = Form(""),
    area: str = Form(""),
) -> Draft:
    return Draft(
        incident_id=incident_id.strip(),
        external_id=external_id,
        kind=kind,
        status=status,
        cause=cause,
        etr=etr.strip(),
        starts_at=starts_at.strip(),
        ends_at=ends_at.strip(),
        message=message,
        area=area.strip(),
    )


# ---- the page ---------------------------------------------------------------------------------


@router.get("/console", response_class=HTMLResponse)
def console_page(
    request: Request,
    incident: str | None = Query(None, max_length=100),
    area: str | None = Query(None, max_length=20_000),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_operator),
) -> Response:
    """The map and the form: a new incident (?area=<GeoJSON> to start from a proposed
    cluster's area), or with ?incident=<id> that incident to change."""
    zone = runtime.settings.zone
    with runtime.reading() as session:
        if incident:
            draft = draft_of(_found(session, incident), zone)
        else:
            draft = Draft(
                external_id=default_external_id(runtime.clock.now(), zone), area=area or ""
            )
    return _page(request, runtime, draft)


@router.post("/console", response_class=HTMLResponse)
def console_submit(
    request: Request,
    action: str = Form("preview"),
    draft: Draft = Depends(draft_form),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_operator),
) -> Response:
    """The form without scripts: "preview" shows the page again with the preview under the
    form; "send" makes the change and goes to the incident's page."""
    if action == "send":
        return _send(request, runtime, draft, actor=f"user:{user.username}")
    try:
        shown = _preview(runtime, draft)
    except (RecordError, IncidentError) as refused:
        return _refused(request, runtime, draft, refused)
    return _page(request, runtime, draft, preview=shown)


@router.post("/console/preview")
def console_preview(
    request: Request,
    draft: Draft = Depends(draft_form),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_operator),
) -> Response:
    """The preview for the page's script: {affected, kind, address, sms: [{language, text,
    encoding, segments}]}, or 422 {error: {code, message}} saying what is wrong in the page's
    language."""
    try:
        shown = _preview(runtime, draft)
    except (RecordError, IncidentError) as refused:
        words = refusal_words(refused, voice=page_voice(request))
        return error_response(_status(refused), words, refused.code)
    return JSONResponse(preview_dict(shown))


def _send(request: Request, runtime: Runtime, draft: Draft, *, actor: str) -> Response:
    now = runtime.clock.now()
    runtime.warm_index()
    try:
        with runtime.transaction() as session:
            if draft.incident_id:
                patch = patch_of(draft, runtime.settings.zone)
                outcome = runtime.incidents.patch(
                    session, incident_id=draft.incident_id, patch=patch, actor=actor, now=now
                )
            else:
                record = incident_from_body(
                    body_of(draft, runtime.settings.zone),
                    max_vertices=runtime.settings.max_area_vertices,
                )
                outcome = runtime.incidents.upsert(
                    session, source=SOURCE, record=record, actor=actor, now=now
                )
            incident_id = outcome.incident.id
    except IncidentNotFound:
        return _refused(request, runtime, draft, _unknown(draft.incident_id), status_code=404)
    except (RecordError, IncidentError) as refused:
        return _refused(request, runtime, draft, refused)
    runtime.after_commit()
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


def _preview(runtime: Runtime, draft: Draft) -> Preview:
    """The preview of the draft; RecordError or IncidentError, as sending it would raise."""
    zone, max_vertices = runtime.settings.zone, runtime.settings.max_area_vertices
    runtime.warm_index()
    now = runtime.clock.now()
    with runtime.reading() as session:
        previous = None
        incident = None
        if draft.incident_id:
            try:
                incident = _incident(session, draft.incident_id)
            except IncidentNotFound:
                raise _unknown(draft.incident_id) from None
            previous = value_of(incident)
            record = apply_patch(previous, patch_of(draft, zone), max_vertices=max_vertices)
        else:
            record = incident_from_body(body_of(draft, zone), max_vertices=max_vertices)
        runtime.incidents.check(session, source=SOURCE, record=record, now=now)
        return preview(
            session,
            service=runtime.incidents,
            renderer=runtime.renderer,
            record=record,
            previous=previous,
            now=now,
        )


def _unknown(incident_id: str) -> RecordError:
    return RecordError(f"no incident {incident_id[:60]!r}", code="incident_unknown")


def _status(refused: CodedError) -> int:
    """The API's status for a refusal: 409 for a closed incident, 422 for the rest."""
    return 409 if isinstance(refused, IncidentClosed) else 422


def _refused(
    request: Request,
    runtime: Runtime,
    draft: Draft,
    refused: CodedError,
    *,
    status_code: int | None = None,
) -> Response:
    """The form again, as it was typed, with why it was refused in the page's language."""
    error = refusal_words(refused, voice=page_voice(request))
    status = status_code if status_code is not None else _status(refused)
    return _page(request, runtime, draft, error=error, status_code=status)


def preview_dict(shown: Preview) -> dict[str, Any]:
    return {
        "affected": shown.affected,
        "kind": shown.kind.value,
        "address": ADDRESS_SHOWN,
        "sms": [asdict(s) for s in shown.sms],
    }


def _page(
    request: Request,
    runtime: Runtime,
    draft: Draft,
    *,
    preview: Preview | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    settings, now = runtime.settings, runtime.clock.now()
    with runtime.reading() as session:
        incidents = views.list_incidents(
            session, now=now, where=views.IncidentFilter(status="active"), limit=LISTED
        )
        listed = [views.incident_dict(i, now=now) | {"row": i} for i in incidents]
        extent = customers_extent(session)
        reports = report_view(session, now=now, incidents=incidents)
    # Overdue first: those are the ones customers are waiting on.
    listed.sort(key=lambda i: not i["overdue"])
    context = {
        "draft": draft,
        "preview": preview,
        "error": error,
        "incidents": listed,
        "overdue": sum(1 for i in listed if i["overdue"]),
        "kinds": OPERATOR_KINDS,
        "statuses": OPERATOR_STATUSES,
        "zone": settings.zone,
        "address_shown": ADDRESS_SHOWN,
        "extent": json.dumps(extent) if extent else "",
        "reports": reports,
        "report_hours": int(REPORTS_SHOWN.total_seconds() // 3600),
        "map_ready": map_ready(),
        "tile_url": settings.map_tile_url or "",
        "tile_attribution": settings.map_tile_attribution,
    }
    return templates.TemplateResponse(request, "console.html", context, status_code=status_code)


# ---- the form and the API's bodies ------------------------------------------------------------


def default_external_id(now: datetime, zone: ZoneInfo) -> str:
    """A new incident's id, readable and unique enough to type again: OP-20261125-1830-3f9a."""
    return f"OP-{now.astimezone(zone):%Y%m%d-%H%M}-{secrets.token_hex(2)}"


def draft_of(incident: Incident, zone: ZoneInfo) -> Draft:
    """The form for changing an incident, as it stands."""
    value = value_of(incident)
    message = value.message
    if message is not None and not isinstance(message, str):
        message = dict(message).get("en") or next(iter(dict(message).values()), None)
    return Draft(
        incident_id=incident.id,
        external_id=value.external_id,
        kind=value.kind,
        status=value.status,
        cause=value.cause or "",
        etr=local_input(value.etr, zone),
        starts_at=local_input(value.starts_at, zone),
        ends_at=local_input(value.ends_at, zone),
        message=message or "",
        area=json.dumps(value.area) if value.area else "",
    )


def body_of(draft: Draft, zone: ZoneInfo) -> dict[str, Any]:
    """A new incident's API body (POST /api/v1/incidents)."""
    body: dict[str, Any] = {
        "external_id": draft.external_id,
        "kind": draft.kind,
        "status": draft.status,
        "cause": draft.cause or None,
        "message": draft.message or None,
        "area": area_of(draft.area),
        "etr": zoned(draft.etr, "etr", zone),
    }
    if draft.kind == IncidentKind.PLANNED:
        body["starts_at"] = zoned(draft.starts_at, "starts_at", zone)
        body["ends_at"] = zoned(draft.ends_at, "ends_at", zone)
    return body


def patch_of(draft: Draft, zone: ZoneInfo) -> dict[str, Any]:
    """A change's API patch (PATCH /api/v1/incidents/{id}): what the form holds replaces the
    incident's fields; an emptied field is cleared."""
    body = body_of(draft, zone)
    del body["external_id"], body["kind"]
    return body


def zoned(value: str, name: str, zone: ZoneInfo) -> str | None:
    """A browser's local date and time (2026-11-25T18:30) in the deployment's zone, as the
    API's ISO 8601 time with its offset."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(
            f"{name} must be a date and time, e.g. {LOCAL_TIME_EXAMPLE} (in {zone.key})",
            code="time_format",
            field=name,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""


def area_of(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RecordError(
            f"area must be GeoJSON (a Polygon or MultiPolygon): {exc}", code="area_json"
        ) from None


# ---- the map's data ---------------------------------------------------------------------------


@router.get("/console/incidents.geojson")
def console_incidents(
    runtime: Runtime = Depends(get_runtime), user: SignedIn = Depends(as_operator)
) -> Response:
    """The open incidents and warnings that have an area, with their kind, status and whether
    their estimate is overdue."""
    now = runtime.clock.now()
    with runtime.reading() as session:
        incidents = views.list_incidents(
            session, now=now, where=views.IncidentFilter(status="active"), limit=LISTED
        )
        features = [_feature(i, now) for i in incidents if i.area]
    return JSONResponse(
        {"type": "FeatureCollection", "features": features}, media_type="application/geo+json"
    )


def _feature(incident: Incident, now: datetime) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": incident.id,
        "geometry": incident.area,
        "properties": {
            "external_id": incident.external_id,
            "kind": incident.kind,
            "status": incident.status,
            "overdue": views.is_overdue(incident, now),
            "customers": incident.affected_count,
        },
    }


@router.get("/console/customers.geojson")
def console_customers(
    south: float = Query(...),
    west: float = Query(...),
    north: float = Query(...),
    east: float = Query(...),
    zoom: float = Query(...),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_operator),
) -> Response:
    """The customers in the view, counted per cell of a grid for the zoom (web/clusters.py):
    one point per non-empty cell, at the cell's centre, never a customer's own place."""
    try:
        grid = grid_for(Bounds(south=south, west=west, north=north, east=east), zoom)
    except BoundsError as refused:
        return error_response(422, str(refused))
    with runtime.reading() as session:
        counts = cell_counts(session, grid)
    return JSONResponse(clusters(grid, counts), media_type="application/geo+json")


def cell_counts(session: Session, grid: Grid) -> list[tuple[int, int, int]]:
    """(row, col, customers) of the grid's non-empty cells in its bounds: one GROUP BY."""
    b = grid.bounds
    row = _floor((Customer.lat + 90) / grid.size, session)
    col = _floor((Customer.lon + 180) / grid.size, session)
    rows = session.execute(
        select(row, col, func.count())
        .where(Customer.lat.between(b.south, b.north), Customer.lon.between(b.west, b.east))
        .group_by(row, col)
    )
    return [(int(r), int(c), int(n)) for r, c, n in rows]


def _floor(value: ColumnElement[Any], session: Session) -> ColumnElement[Any]:
    # SQLite may lack floor(); its CAST truncates, which is floor for these non-negative values.
    if session.get_bind().dialect.name == "sqlite":
        return cast(value, Integer)
    return func.floor(value)


def customers_extent(session: Session) -> list[list[float]] | None:
    """[[south, west], [north, east]] of all customers: where the map opens."""
    south, west, north, east = session.execute(
        select(
            func.min(Customer.lat),
            func.min(Customer.lon),
            func.max(Customer.lat),
            func.max(Customer.lon),
        )
    ).one()
    if south is None:
        return None
    return [[south, west], [north, east]]


@router.get("/console/reports.geojson")
def console_reports(
    runtime: Runtime = Depends(get_runtime), user: SignedIn = Depends(as_operator)
) -> Response:
    """Customers' outage reports of the last REPORTS_SHOWN (kind "report", with whether an
    open incident's area holds them), and the proposed clusters of those no open incident
    holds (kind "proposal", their area a Polygon)."""
    now = runtime.clock.now()
    with runtime.reading() as session:
        incidents = views.list_incidents(
            session, now=now, where=views.IncidentFilter(status="active"), limit=LISTED
        )
        shown = report_view(session, now=now, incidents=incidents)
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "id": f"report-{r.id}",
            "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
            "properties": {
                "kind": "report",
                "source": r.source,
                "at": r.at.isoformat(),
                "covered": r.id in shown.covered,
            },
        }
        for r in shown.reports
    ]
    features += [
        {
            "type": "Feature",
            "id": f"proposal-{n}",
            "geometry": p.area,
            "properties": {"kind": "proposal", "reports": len(p.reports)},
        }
        for n, p in enumerate(shown.proposals, start=1)
    ]
    return JSONResponse(
        {"type": "FeatureCollection", "features": features}, media_type="application/geo+json"
    )


@dataclass(frozen=True)
class ReportView:
    reports: list[OutageReport]
    covered: frozenset[int]  # reports inside an open incident's area
    proposals: list[Proposal]

    def area_text(self, proposal: Proposal) -> str:
        return json.dumps(proposal.area)


def report_view(session: Session, *, now: datetime, incidents: list[Incident]) -> ReportView:
    """The recent reports, which of them open incidents' areas hold, and the proposed
    clusters of the others (public/reports.py `propose`)."""
    newest = session.scalars(
        select(OutageReport)
        .where(OutageReport.at >= now - REPORTS_SHOWN)
        .order_by(OutageReport.at.desc(), OutageReport.id.desc())
        .limit(MAX_REPORTS)
    )
    reports = list(reversed(list(newest)))  # the latest MAX_REPORTS, oldest first
    areas = [shape(i.area) for i in incidents if i.area]
    covered = frozenset(r.id for r in reports if any(a.covers(Point(r.lon, r.lat)) for a in areas))
    # One customer's reports are one voice: only their latest counts towards a proposal.
    latest = {r.customer_pk: r.id for r in reports if r.customer_pk is not None}
    loose = [
        ReportPoint(id=r.id, at=r.at, lat=r.lat, lon=r.lon)
        for r in reports
        if r.id not in covered and (r.customer_pk is None or latest[r.customer_pk] == r.id)
    ]
    return ReportView(reports=reports, covered=covered, proposals=propose(loose))


# ---- reading incidents ------------------------------------------------------------------------


def _incident(session: Session, incident_id: str) -> Incident:
    return get_incident(session, incident_id=incident_id)


def _found(session: Session, incident_id: str) -> Incident:
    try:
        return _incident(session, incident_id)
    except IncidentNotFound:
        raise PageRefusal(404, f"no incident {incident_id[:60]!r}") from None
