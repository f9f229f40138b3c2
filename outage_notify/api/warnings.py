"""/api/v1/warnings: the weather warnings read from CAP_FEEDS, with their state."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy import select

from outage_notify.api.deps import Caller, as_reader, get_runtime
from outage_notify.api.errors import error_responses
from outage_notify.api.schemas import Out, Timestamp
from outage_notify.db.models import WeatherWarning
from outage_notify.ingest.cap_poll import warning_dict
from outage_notify.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["warnings"])


class WarningOut(Out):
    id: str
    sender: str
    identifier: str
    sent: Timestamp
    msg_type: str = Field(description="Alert, Update or Cancel")
    state: Literal["active", "cancelled", "expired", "filtered", "rejected"]
    reason: str | None = Field(description="Why it was filtered, rejected or cancelled")
    event: str | None
    severity: str | None
    urgency: str | None
    onset: Timestamp | None
    expires: Timestamp | None
    headline: dict[str, str] | None = Field(description="By language, as the sender wrote it")
    references: list[list[str]] = Field(description="[sender, identifier, sent] it refers to")
    superseded_by: str | None = Field(description="The id of a later Update of it")
    incident_id: str | None = Field(
        description="The incident (kind warning) its exposed customers were advised of; "
        "null when none of its chain reached customers of ours"
    )
    area: dict[str, Any] | None = Field(description="GeoJSON, [lon, lat]")
    received_at: Timestamp


class WarningListOut(Out):
    warnings: list[WarningOut]


@router.get(
    "/warnings",
    summary="Weather warnings ingested, newest first, with their state",
    response_model=WarningListOut,
    responses=error_responses(401, 403, 422),
)
def get_warnings(
    limit: int = Query(100, ge=1, le=1000),
    _: Caller = Depends(as_reader),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    now = runtime.clock.now()
    with runtime.reading() as session:
        rows = session.scalars(
            select(WeatherWarning)
            .order_by(WeatherWarning.received_at.desc(), WeatherWarning.id)
            .limit(limit)
        ).all()
        return {"warnings": [warning_dict(w, now) for w in rows]}
