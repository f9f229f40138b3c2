"""/api/v1/public: the open feed of the public outage map, for the press and integrators.

No key: what it holds is what the map shows anyone (public/). Cached by browsers and proxies
for a minute (Cache-Control), the same minute the feed is polled in.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from outage_notify.api.deps import get_runtime
from outage_notify.api.schemas import Out, Timestamp
from outage_notify.public.outages import PublicIncident, public_incidents
from outage_notify.public.outlines import read_outlines
from outage_notify.public.privacy import MIN_PUBLIC_COUNT
from outage_notify.runtime import Runtime
from outage_notify.timeutil import iso

router = APIRouter(prefix="/api/v1/public", tags=["public"])
CACHE_CONTROL = "public, max-age=60"


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


class PublicIncidentOut(Out):
    id: str = Field(description="The incident's id (the same as on the map and in the JSON)")
    kind: Literal["unplanned", "planned", "warning"] = Field(
        description="unplanned: an outage; planned: planned work; warning: a weather warning"
    )
    status: Literal["detected", "crew_assigned", "in_progress"]
    cause: str | None = Field(description="Cause as the operator gave it; a warning's event")
    customers_affected: int | None = Field(
        description=f"Customers affected (a warning: in its area); null when fewer than "
        f"{MIN_PUBLIC_COUNT}, which is not published exactly"
    )
    etr: Timestamp | None = Field(description="Estimated restoration; null: no estimate yet")
    started_at: Timestamp = Field(description="When the outage began (or was first reported)")
    starts_at: Timestamp | None = Field(description="Planned work's start; a warning's onset")
    ends_at: Timestamp | None = Field(description="Planned work's end; a warning's expiry")
    updated_at: Timestamp = Field(description="When anything about it last changed")
    severity: str | None = Field(
        description="A warning's CAP severity (Minor, Moderate, Severe, Extreme); null for "
        "outages and planned work"
    )
    areas: list[str] = Field(description="Names of the districts it lies in, largest part first")


class PublicOutagesOut(Out):
    generated_at: Timestamp
    privacy_threshold: int = Field(
        description="Counts below this are published as null (customers_affected)"
    )
    incidents: list[PublicIncidentOut] = Field(
        description="Outages (most customers first), planned work (soonest first), weather "
        "warnings (most severe first)"
    )


class PublicFeature(Out):
    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any] | None = Field(
        description="Polygon or MultiPolygon, [lon, lat]: the incident's area; for one given "
        "by feeders or transformers, the 500 m grid cells that hold its customers (never their "
        "points); null when it has no area"
    )
    properties: PublicIncidentOut


class PublicFeatureCollection(Out):
    type: Literal["FeatureCollection"]
    generated_at: Timestamp
    privacy_threshold: int
    features: list[PublicFeature]


@router.get(
    "/outages",
    summary="Open outages, planned work and weather warnings (no key needed)",
    response_model=PublicOutagesOut,
)
def public_outages(response: Response, runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    response.headers["Cache-Control"] = CACHE_CONTROL
    now, incidents = _current(runtime)
    return {
        "generated_at": iso(now),
        "privacy_threshold": MIN_PUBLIC_COUNT,
        "incidents": [i.as_json() for i in incidents],
    }


@router.get(
    "/outages.geojson",
    summary="The same as GeoJSON: one feature per open incident, its area as geometry",
    response_model=PublicFeatureCollection,
    response_class=GeoJSONResponse,
)
def public_outages_geojson(runtime: Runtime = Depends(get_runtime)) -> Response:
    now, incidents = _current(runtime)
    collection = {
        "type": "FeatureCollection",
        "generated_at": iso(now),
        "privacy_threshold": MIN_PUBLIC_COUNT,
        "features": [i.as_feature() for i in incidents],
    }
    # Sent as built: areas are large, and validating every coordinate against the response
    # model would cost more than the rest of the request (the tests hold it to the model).
    return GeoJSONResponse(collection, headers={"Cache-Control": CACHE_CONTROL})


def _current(runtime: Runtime) -> tuple[Any, list[PublicIncident]]:
    now = runtime.clock.now()
    outlines = read_outlines(runtime.settings.map_outlines)
    with runtime.reading() as session:
        return now, public_incidents(session, now=now, outlines=outlines)
