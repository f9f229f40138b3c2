"""/api/v1/incidents: operators post and patch outages; agents read them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from outage_notify.api.deps import Caller, as_operator, as_reader, get_runtime, json_request
from outage_notify.api.errors import ApiError, error_responses
from outage_notify.api.schemas import (
    IncidentListOut,
    IncidentOut,
    IncidentOutcomeOut,
    PriorityCustomersOut,
    RevisionsOut,
)
from outage_notify.db.models import Incident
from outage_notify.incidents.model import IncidentKind, Status
from outage_notify.incidents.service import (
    IncidentClosed,
    IncidentError,
    IncidentNotFound,
    IncidentOutcome,
    get_incident,
)
from outage_notify.incidents.views import (
    IncidentFilter,
    incident_dict,
    list_incidents,
    list_revisions,
    notification_counts,
    priority_customers,
)
from outage_notify.ingest.operator_api import incident_from_body
from outage_notify.ingest.records import RecordError
from outage_notify.planning.jobs import planning_state
from outage_notify.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["incidents"], dependencies=[Depends(json_request)])
SOURCE = "operator"
MAX_OFFSET = 1_000_000_000  # paging further than any list goes; bounds what reaches SQL

Time = str | None
TIME_HELP = "ISO 8601 with a UTC offset, e.g. 2026-11-25T18:30:00+02:00"


class IncidentBody(BaseModel):
    """An outage or planned work, as an operator states it. Re-posting the same external_id
    updates it; fields left out are absent (no ETR yet, no cause), not unchanged."""

    model_config = ConfigDict(extra="allow")

    external_id: str = Field(..., min_length=1, max_length=200, examples=["OMS-2026-000123"])
    kind: IncidentKind = IncidentKind.UNPLANNED
    status: Status = Status.DETECTED
    cause: str | None = Field(None, examples=["storm damage"])
    message: str | dict[str, str] | None = Field(
        None, description="A note for customers: text, or {fi, sv, en} texts"
    )
    area: dict[str, Any] | None = Field(
        None, description="GeoJSON Polygon/MultiPolygon, [lon, lat]"
    )
    feeders: list[str | int] = Field(default_factory=list)
    transformers: list[str | int] = Field(default_factory=list)
    etr: Time = Field(None, description=TIME_HELP)
    starts_at: Time = Field(None, description="planned work: " + TIME_HELP)
    ends_at: Time = Field(None, description="planned work: " + TIME_HELP)
    started_at: Time = Field(None, description="when the outage began (default: when posted)")


class IncidentPatch(BaseModel):
    """Only the fields given change; null clears a field."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    etr: Time = Field(None, description=TIME_HELP)
    cause: str | None = None
    message: str | dict[str, str] | None = None
    area: dict[str, Any] | None = None
    feeders: list[str | int] | None = None
    transformers: list[str | int] | None = None
    starts_at: Time = None
    ends_at: Time = None
    started_at: Time = None


@router.post(
    "/incidents",
    summary="Create or update an incident by external_id (idempotent)",
    status_code=201,
    response_model=IncidentOutcomeOut,
    response_description="A new incident",
    responses={
        200: {"model": IncidentOutcomeOut, "description": "An existing incident, updated or not"},
        **error_responses(400, 401, 403, 409, 413, 422),
    },
)
def post_incident(
    body: IncidentBody,
    caller: Caller = Depends(as_operator),
    runtime: Runtime = Depends(get_runtime),
) -> JSONResponse:
    ignored = sorted(body.model_extra or {})
    fields = body.model_dump(exclude=set(ignored))
    try:
        record = incident_from_body(fields, max_vertices=runtime.settings.max_area_vertices)
    except RecordError as exc:
        raise ApiError(422, str(exc)) from exc
    runtime.warm_index()
    with runtime.transaction() as session:
        try:
            outcome = runtime.incidents.upsert(
                session, source=SOURCE, record=record, actor=caller.actor, now=runtime.clock.now()
            )
        except IncidentClosed as exc:
            raise ApiError(409, str(exc)) from exc
        except IncidentError as exc:
            raise ApiError(422, str(exc)) from exc
    runtime.after_commit()
    payload = _outcome_dict(runtime, outcome)
    if ignored:
        payload["ignored_fields"] = ignored
    return JSONResponse(payload, status_code=201 if outcome.created else 200)


@router.patch(
    "/incidents/{incident_id}",
    summary="Change etr, status, area, cause or message",
    response_model=IncidentOutcomeOut,
    response_model_exclude_unset=True,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
def patch_incident(
    incident_id: str,
    body: IncidentPatch,
    caller: Caller = Depends(as_operator),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    patch = body.model_dump(exclude_unset=True)
    if not patch:
        raise ApiError(422, "nothing to change: give etr, status, area, cause or message")
    runtime.warm_index()
    with runtime.transaction() as session:
        try:
            outcome = runtime.incidents.patch(
                session,
                incident_id=incident_id,
                patch=patch,
                actor=caller.actor,
                now=runtime.clock.now(),
            )
        except IncidentNotFound as exc:
            raise ApiError(404, f"no incident {incident_id!r}") from exc
        except IncidentClosed as exc:
            raise ApiError(409, str(exc)) from exc
        except IncidentError as exc:
            raise ApiError(422, str(exc)) from exc
    runtime.after_commit()
    return _outcome_dict(runtime, outcome)


@router.get(
    "/incidents",
    summary="Incidents, newest change first, with notification counts",
    response_model=IncidentListOut,
    responses=error_responses(401, 403, 422),
)
def get_incidents(
    status: Literal["active"] | Status | None = Query(None, description="active, or one status"),
    source: str | None = Query(
        None,
        max_length=300,
        description="exactly this source: operator, or feed:<id> for an outage feed",
    ),
    kind: IncidentKind | None = Query(None),
    overdue: bool | None = Query(
        None,
        description="true: only open incidents whose ETR has passed; false: only the others",
    ),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    _: Caller = Depends(as_reader),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    now = runtime.clock.now()
    where = IncidentFilter(status=status, source=source, kind=kind, overdue=overdue)
    with runtime.reading() as session:
        incidents = list_incidents(session, now=now, where=where, limit=limit, offset=offset)
        ids = [i.id for i in incidents]
        counts, planning = notification_counts(session, ids), planning_state(session, ids)
        return {
            "incidents": [
                incident_dict(i, counts.get(i.id), planning[i.id], now=now) for i in incidents
            ]
        }


@router.get(
    "/incidents/{incident_id}",
    summary="One incident with notification counts",
    response_model=IncidentOut,
    responses=error_responses(401, 403, 404),
)
def get_one_incident(
    incident_id: str,
    _: Caller = Depends(as_reader),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    now = runtime.clock.now()
    with runtime.reading() as session:
        incident = _incident(session, incident_id)
        counts = notification_counts(session, [incident.id])
        planning = planning_state(session, [incident.id])
        return incident_dict(incident, counts.get(incident.id), planning[incident.id], now=now)


@router.get(
    "/incidents/{incident_id}/revisions",
    summary="The incident's history: every revision and who or what made it, oldest first",
    response_model=RevisionsOut,
    responses=error_responses(401, 403, 404, 422),
)
def get_revisions(
    incident_id: str,
    after_version: int = Query(
        0, ge=0, le=MAX_OFFSET, description="only revisions after this version (paging)"
    ),
    limit: int = Query(100, ge=1, le=1000),
    _: Caller = Depends(as_reader),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    with runtime.reading() as session:
        incident = _incident(session, incident_id)
        # One more than asked: whether another page follows, without a count.
        revisions = list_revisions(
            session, incident_id=incident.id, after_version=after_version, limit=limit + 1
        )
    page = revisions[:limit]
    return {
        "incident_id": incident_id,
        "revisions": page,
        "next_after_version": page[-1]["version"] if len(revisions) > limit else None,
    }


@router.get(
    "/incidents/{incident_id}/priority-customers",
    summary="Priority customers the incident affects now, in the order to call them",
    response_model=PriorityCustomersOut,
    responses=error_responses(401, 403, 404),
)
def get_priority_customers(
    incident_id: str,
    _: Caller = Depends(as_reader),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    with runtime.reading() as session:
        incident = _incident(session, incident_id)
        return {
            "incident_id": incident_id,
            "customers": priority_customers(session, incident_id=incident.id),
        }


def _incident(session: Session, incident_id: str) -> Incident:
    try:
        return get_incident(session, incident_id=incident_id)
    except IncidentNotFound as exc:
        raise ApiError(404, f"no incident {incident_id!r}") from exc


def _outcome_dict(runtime: Runtime, outcome: IncidentOutcome) -> dict[str, Any]:
    """The incident as it now stands. Counts are read after the change committed, outside
    any write transaction: a count of a storm's messages must not hold the write lock."""
    incident, now = outcome.incident, runtime.clock.now()
    with runtime.reading() as session:
        counts = notification_counts(session, [incident.id]).get(incident.id)
        planning = planning_state(session, [incident.id])[incident.id]
    return {
        **incident_dict(incident, counts, planning, now=now),
        "created": outcome.created,
        "changes": [c.value for c in outcome.changes],
    }
