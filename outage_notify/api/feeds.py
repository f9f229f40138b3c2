"""/api/v1/feeds: the polled outage feeds, their health, and what they sent that was refused."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy import select

from outage_notify.api.deps import Caller, as_reader, get_runtime
from outage_notify.api.errors import error_responses
from outage_notify.api.schemas import Out, Timestamp
from outage_notify.db.models import Feed
from outage_notify.ingest import feeds
from outage_notify.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["feeds"])


class FeedOut(Out):
    id: str
    spec: str = Field(description="As configured, without query string or user info")
    state: str = Field(
        description="ok; stale (its last poll failed, or it has not been read for three "
        "poll periods: what it said last stands, and nothing is restored from it); never"
    )
    polls: int
    failures: int = Field(description="Failed polls in a row")
    last_attempt_at: Timestamp | None
    last_success_at: Timestamp | None
    next_attempt_at: Timestamp | None = Field(description="Backing off until then")
    last_error: str | None
    items: int = Field(description="Outages in its last snapshot")
    rejected: int = Field(description="Items of its last snapshot that were refused")


class FeedListOut(Out):
    feeds: list[FeedOut]


class IngestLogEntryOut(Out):
    id: int
    feed_id: str
    at: Timestamp
    item: str | None = Field(description="The outage's id; null when the whole poll failed")
    outcome: str = Field(description="rejected, failed or overdue")
    reason: str


class IngestLogOut(Out):
    entries: list[IngestLogEntryOut]


@router.get(
    "/feeds",
    summary="The polled outage feeds and their health",
    response_model=FeedListOut,
    responses=error_responses(401, 403),
)
def get_feeds(
    _: Caller = Depends(as_reader), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    now, poll = runtime.clock.now(), runtime.settings.poll_seconds
    with runtime.reading() as session:
        rows = session.scalars(select(Feed).order_by(Feed.id)).all()
        return {"feeds": [feeds.feed_dict(f, now=now, poll_seconds=poll) for f in rows]}


@router.get(
    "/feeds/log",
    summary="What the feeds sent that was refused, newest first",
    response_model=IngestLogOut,
    responses=error_responses(401, 403, 422),
)
def get_ingest_log(
    feed: str | None = Query(None, max_length=16, description="one feed's id"),
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, ge=1, le=2**31 - 1, description="entries older than this id"),
    _: Caller = Depends(as_reader),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    with runtime.reading() as session:
        return {"entries": feeds.log_page(session, feed_id=feed, limit=limit, before=before)}
