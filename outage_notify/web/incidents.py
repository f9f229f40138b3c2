"""The incident pages, for operators and agents (issue 12 item 7): the list of incidents with
overdue estimates standing out, and one incident: its state in plain words, its area, its
history (every revision and who or what made it), how many customers were told on each channel
and how many were not and why, and the priority customers to call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from outage_notify.api.deps import get_runtime
from outage_notify.auth.sessions import SignedIn
from outage_notify.db.models import Incident
from outage_notify.incidents import views
from outage_notify.incidents.model import IncidentKind, Status
from outage_notify.incidents.service import IncidentNotFound, get_incident
from outage_notify.runtime import Runtime
from outage_notify.web.public_map import map_ready
from outage_notify.web.signin import PageRefusal, require_user
from outage_notify.web.templating import templates

router = APIRouter(include_in_schema=False)
as_staff = require_user("operator", "agent")
PAGE_SIZE = 50
HISTORY = 100  # revisions shown, newest first
STATUS_CHOICES = ("active", *Status)


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request,
    status: str = Query("active"),
    kind: str | None = Query(None),
    overdue: bool | None = Query(None),
    page: int = Query(1, ge=1, le=10_000),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_staff),
) -> Response:
    """Open incidents by default, the most recently changed first."""
    if status not in STATUS_CHOICES:
        raise PageRefusal(422, f"status must be one of {', '.join(STATUS_CHOICES)}")
    if kind is not None and kind not in tuple(IncidentKind):
        raise PageRefusal(422, f"kind must be one of {', '.join(IncidentKind)}")
    now = runtime.clock.now()
    where = views.IncidentFilter(status=status, kind=kind or None, overdue=overdue)
    with runtime.reading() as session:
        rows = views.list_incidents(
            session, now=now, where=where, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
        )
        shown = rows[:PAGE_SIZE]
        counts = views.notification_counts(session, [i.id for i in shown])
        incidents = [_summary(i, counts.get(i.id, {}), now) for i in shown]
    return templates.TemplateResponse(
        request,
        "incidents.html",
        {
            "incidents": incidents,
            "status": status,
            "kind": kind,
            "overdue": overdue,
            "page": page,
            "more": len(rows) > PAGE_SIZE,
            "statuses": STATUS_CHOICES,
            "kinds": tuple(IncidentKind),
            "zone": runtime.settings.zone,
        },
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    request: Request,
    incident_id: str,
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_staff),
) -> Response:
    now = runtime.clock.now()
    with runtime.reading() as session:
        incident = _found(session, incident_id)
        counts = views.notification_counts(session, [incident.id]).get(incident.id, {})
        context: dict[str, Any] = {
            "incident": _summary(incident, counts, now),
            "revisions": list(
                reversed(views.list_revisions(session, incident_id=incident.id, limit=10_000))
            )[:HISTORY],
            "outcomes": views.channel_outcomes(session, incident_id=incident.id),
            "untold": views.customers_untold(session, incident_id=incident.id),
            "priority": views.priority_customers(session, incident_id=incident.id),
            "zone": runtime.settings.zone,
            "map_ready": map_ready(),
            "tile_url": runtime.settings.map_tile_url or "",
            "tile_attribution": runtime.settings.map_tile_attribution,
        }
    return templates.TemplateResponse(request, "incident.html", context)


@router.get("/incidents/{incident_id}/area.geojson")
def incident_area(
    incident_id: str,
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn = Depends(as_staff),
) -> Response:
    """The incident's area as a GeoJSON FeatureCollection of one feature (none when it has no
    area), for the page's map (and to download)."""
    with runtime.reading() as session:
        incident = _found(session, incident_id)
        feature = {
            "type": "Feature",
            "id": incident.id,
            "geometry": incident.area,
            "properties": {
                "external_id": incident.external_id,
                "kind": incident.kind,
                "status": incident.status,
                "feeders": incident.feeders,
                "transformers": incident.transformers,
            },
        }
    collection = {"type": "FeatureCollection", "features": [feature] if incident.area else []}
    return JSONResponse(collection, media_type="application/geo+json")


def _found(session: Any, incident_id: str) -> Incident:
    try:
        return get_incident(session, incident_id=incident_id)
    except IncidentNotFound:
        raise PageRefusal(404, f"no incident {incident_id[:60]!r}") from None


def _summary(incident: Incident, counts: dict[str, int], now: Any) -> dict[str, Any]:
    return {
        **views.incident_dict(incident, counts, now=now),
        "row": incident,  # times as datetimes, for the `local` filter
    }
