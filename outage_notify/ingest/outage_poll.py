"""poll-outages: each feed of OUTAGE_FEEDS read, compared with its last poll, and applied.

fetch (conditional GET) → parse (one bad item is refused with a reason, the rest go on) →
diff against the feed's items as last read:
- a new outage becomes an incident; an unplanned one younger than CONFIRM_SECONDS since its
  start is created unconfirmed, so nobody is told of a momentary cut (due.py confirms it once
  it has lasted, if the feed still lists it);
- a changed one (ETR, status, area, cause…) is upserted, and the incident service records what
  changed; an unchanged one is not looked at again (its digest is the same);
- one missing from the feed is restored only after RESTORE_AFTER_POLLS polls in a row without
  it (from its first absent poll), so a flapping feed sends neither "restored" nor a second
  "outage"; one that comes back in time simply goes on.
A feed that cannot be read is retried with backoff and shown as stale; nothing is restored from
a feed that was not read. Each item is applied in its own transaction: one that the incident
service refuses is logged for operators and the others go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outage_notify.db.models import FeedItem, Incident
from outage_notify.incidents.model import TERMINAL_STATUSES, IncidentKind, describe
from outage_notify.incidents.service import IncidentError, IncidentService, get_incident
from outage_notify.ingest import feeds
from outage_notify.ingest.fetch import FetchError, fetch
from outage_notify.ingest.outage_feed import (
    MAPPINGS,
    FeedError,
    FeedOutage,
    FeedSnapshot,
    parse_outage_feed,
)
from outage_notify.scheduler.jobs import JobContext

log = logging.getLogger(__name__)
CANONICAL = "geojson"


@dataclass(frozen=True)
class FeedSpec:
    """One entry of OUTAGE_FEEDS: a bare URL (the canonical GeoJSON form) or FORMAT+URL."""

    spec: str
    mapping: str
    url: str

    @classmethod
    def parse(cls, spec: str) -> FeedSpec:
        head, plus, rest = spec.partition("+")
        if plus and head in MAPPINGS and "://" in rest:
            return cls(spec=spec, mapping=head, url=rest)
        if plus and "://" not in head and "://" in rest:
            known = ", ".join(sorted(MAPPINGS))
            raise ValueError(f"unknown feed format {head!r} (known: {known})")
        return cls(spec=spec, mapping=CANONICAL, url=spec)

    @property
    def id(self) -> str:
        return hashlib.sha256(self.spec.encode()).hexdigest()[:12]

    @property
    def source(self) -> str:
        """The incidents' source: each feed's external ids are its own."""
        return f"feed:{self.id}"

    @property
    def actor(self) -> str:
        """Who made a revision: the feed, named without its query (it may hold a token)."""
        parts = urlsplit(self.url)
        host = parts.netloc.rsplit("@", 1)[-1]
        return f"feed:{self.mapping}:{parts.scheme}://{host}{parts.path}"[:300]


@dataclass
class PollResult:
    feed: str
    read: bool = False
    unchanged: bool = False  # 304, or the same bytes
    created: int = 0
    changed: int = 0
    restored: int = 0
    rejected: int = 0
    absent: int = 0
    error: str | None = None


def poll_outages(ctx: JobContext) -> dict[str, Any]:
    results = []
    for spec in ctx.settings.outage_feeds:
        if ctx.stopping():
            break
        results.append(poll_feed(ctx, spec).__dict__)
    return {"feeds": results}


def poll_feed(ctx: JobContext, spec_text: str) -> PollResult:
    now = ctx.clock.now()
    try:
        spec = FeedSpec.parse(spec_text)
    except ValueError as exc:
        return PollResult(feed=spec_text[:80], error=str(exc))
    result = PollResult(feed=spec.actor)
    try:
        with ctx.transaction() as session:
            validators = feeds.start_poll(session, feed_id=spec.id, spec=spec.spec, now=now)
    except feeds.BackingOff as exc:
        result.error = str(exc)
        return result
    try:
        fetched = fetch(
            spec.url,
            validators=validators,
            max_bytes=ctx.settings.feed_max_bytes,
            timeout=ctx.settings.feed_timeout_seconds,
        )
        snapshot = None
        if fetched.body is not None:
            snapshot = parse_outage_feed(
                fetched.body,
                mapping=spec.mapping,
                point_radius_m=ctx.settings.point_radius_meters,
                max_vertices=ctx.settings.max_area_vertices,
            )
    except (FetchError, FeedError) as exc:
        _failed(ctx, spec, str(exc), now)
        result.error = str(exc)
        return result
    result.read = True
    if snapshot is None:  # 304: the feed says what it said last time
        result.unchanged = True
        _count_absences(ctx, spec, present=None, now=now, result=result)
    else:
        _apply_snapshot(ctx, spec, snapshot, now, result)
    with ctx.transaction() as session:
        feeds.record_success(
            session,
            feed_id=spec.id,
            validators=fetched.validators,
            items=None if snapshot is None else len(snapshot.outages),
            rejected=None if snapshot is None else len(snapshot.rejected),
            now=now,
        )
    ctx.wake()
    return result


def _failed(ctx: JobContext, spec: FeedSpec, reason: str, now: datetime) -> None:
    log.warning("outage feed %s could not be read: %s", spec.actor, reason)
    with ctx.transaction() as session:
        feeds.record_failure(
            session,
            feed_id=spec.id,
            reason=reason,
            now=now,
            poll_seconds=ctx.settings.poll_seconds,
        )


# ---- a snapshot read ------------------------------------------------------------------------


def _apply_snapshot(
    ctx: JobContext, spec: FeedSpec, snapshot: FeedSnapshot, now: datetime, result: PollResult
) -> None:
    if snapshot.rejected:
        with ctx.transaction() as session:
            for rejection in snapshot.rejected:
                feeds.log_entry(
                    session,
                    feed_id=spec.id,
                    item=rejection.item,
                    outcome=feeds.REJECTED,
                    reason=rejection.reason,
                    now=now,
                )
        result.rejected += len(snapshot.rejected)
    with ctx.transaction() as session:
        known = {
            item.external_id: (item.fingerprint, item.absent_polls, item.incident_id)
            for item in session.scalars(select(FeedItem).where(FeedItem.feed_id == spec.id))
        }
    unchanged: list[str] = []
    ctx.warm()  # once a poll, outside the write transactions: customers rarely move mid-poll
    for outage in snapshot.outages:
        if ctx.stopping():
            return  # the rest comes with the next poll; absences are not counted from a part
        digest = fingerprint(outage)
        seen = known.get(outage.record.external_id)
        if seen is not None and seen[0] == digest and seen[1] == 0:
            unchanged.append(outage.record.external_id)
            continue
        _apply_outage(ctx, spec, outage, digest, now, result)
    _touch(ctx, spec, unchanged, now)
    present = {outage.record.external_id for outage in snapshot.outages}
    _count_absences(ctx, spec, present=present, now=now, result=result)


def fingerprint(outage: FeedOutage) -> str:
    """What the feed says of an outage, as a digest: equal digests, nothing to look at."""
    data = {
        **describe(outage.record, extent=True),
        "customers_affected": outage.customers_affected,
        "crew_status": outage.crew_status,
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _apply_outage(
    ctx: JobContext,
    spec: FeedSpec,
    outage: FeedOutage,
    digest: str,
    now: datetime,
    result: PollResult,
) -> None:
    service = _service(ctx)
    try:
        with ctx.transaction() as session:
            item = session.get(FeedItem, (spec.id, outage.record.external_id))
            created = _upsert(session, service, spec, outage, item, now)
            if created is None:
                return
            incident, new, changes = created
            _remember(session, spec, outage, digest, incident, item, now)
            if new:
                result.created += 1
            elif changes:
                result.changed += 1
    except IncidentError as exc:
        result.rejected += 1
        with ctx.transaction() as session:
            feeds.log_entry(
                session,
                feed_id=spec.id,
                item=outage.record.external_id,
                outcome=feeds.REJECTED,
                reason=str(exc),
                now=now,
            )


def _upsert(
    session: Session,
    service: IncidentService,
    spec: FeedSpec,
    outage: FeedOutage,
    item: FeedItem | None,
    now: datetime,
) -> tuple[Incident, bool, bool] | None:
    """Creates or updates the outage's incident. An outage listed again after it was
    restored is a new outage under the same id: a new incident (id suffixed)."""
    record = outage.record
    current = None if item is None else session.get(Incident, item.incident_id)
    if current is not None and current.status in TERMINAL_STATUSES:
        if record.status in TERMINAL_STATUSES:
            return None  # closed here and there: nothing to do
        suffix = _next_suffix(session, spec, record.external_id)
        record = replace(record, external_id=f"{record.external_id}/{suffix}")
        current = None
    _note_past_etr(session, spec, record, current, now)
    if current is not None:
        record = replace(record, external_id=current.external_id)
    outcome = service.upsert(
        session,
        source=spec.source,
        record=record,
        actor=spec.actor,
        now=now,
        confirmed=_confirmed_at_once(record, now, service.settings.confirm_seconds),
        past_etr_allowed=True,
    )
    return outcome.incident, outcome.created, bool(outcome.changes)


def _confirmed_at_once(record: Any, now: datetime, confirm_seconds: float) -> bool:
    """Planned work and an outage that has already lasted CONFIRM_SECONDS are told at once."""
    if record.kind != IncidentKind.UNPLANNED or record.status in TERMINAL_STATUSES:
        return True
    began = record.started_at or now
    return now - began >= timedelta(seconds=confirm_seconds)


def _note_past_etr(
    session: Session, spec: FeedSpec, record: Any, current: Incident | None, now: datetime
) -> None:
    """A feed's ETR that has already passed is kept, so the incident shows as overdue to
    operators, but never told as a time (planning and the templates see no estimate). The
    ingest log says so once per such ETR."""
    if record.etr is None or record.etr > now:
        return
    if current is not None and current.etr == record.etr:
        return
    feeds.log_entry(
        session,
        feed_id=spec.id,
        item=record.external_id,
        outcome=feeds.OVERDUE,
        reason=f"etr {record.etr.isoformat()} has already passed; not shown to customers",
        now=now,
    )


def _next_suffix(session: Session, spec: FeedSpec, external_id: str) -> int:
    taken = session.scalars(
        select(Incident.external_id).where(
            Incident.source == spec.source, Incident.external_id.startswith(f"{external_id}/")
        )
    ).all()
    return len(taken) + 2


def _remember(
    session: Session,
    spec: FeedSpec,
    outage: FeedOutage,
    digest: str,
    incident: Incident,
    item: FeedItem | None,
    now: datetime,
) -> None:
    if item is None:
        item = FeedItem(feed_id=spec.id, external_id=outage.record.external_id)
        session.add(item)
    item.incident_id = incident.id
    item.fingerprint = digest
    item.absent_polls = 0
    item.first_absent_at = None
    item.last_seen_at = now
    item.customers_affected = outage.customers_affected
    item.crew_status = (outage.crew_status or "")[:300] or None


def _touch(ctx: JobContext, spec: FeedSpec, external_ids: list[str], now: datetime) -> None:
    for chunk in _chunks(external_ids, 1000):
        with ctx.transaction() as session:
            session.execute(
                update(FeedItem)
                .where(FeedItem.feed_id == spec.id, FeedItem.external_id.in_(chunk))
                .values(last_seen_at=now)
            )


# ---- absences and restoration ----------------------------------------------------------------


def _count_absences(
    ctx: JobContext,
    spec: FeedSpec,
    *,
    present: set[str] | None,
    now: datetime,
    result: PollResult,
) -> None:
    """One more poll without each outage the feed no longer lists (present=None: the feed
    sent nothing new, so those absent last time are absent again)."""
    with ctx.transaction() as session:
        rows = session.execute(
            select(FeedItem.external_id, FeedItem.absent_polls, FeedItem.incident_id)
            .join(Incident, Incident.id == FeedItem.incident_id)
            .where(FeedItem.feed_id == spec.id, Incident.status.not_in(TERMINAL_STATUSES))
        ).all()
    missing = [
        row
        for row in rows
        if (row.external_id not in present if present is not None else row.absent_polls > 0)
    ]
    result.absent = len(missing)
    for row in missing:
        _absent_again(ctx, spec, row.external_id, now, result)


def _absent_again(
    ctx: JobContext, spec: FeedSpec, external_id: str, now: datetime, result: PollResult
) -> None:
    service = _service(ctx)
    with ctx.transaction() as session:
        item = session.get(FeedItem, (spec.id, external_id))
        if item is None:
            return
        item.absent_polls += 1
        item.first_absent_at = item.first_absent_at or now
        if item.absent_polls < ctx.settings.restore_after_polls:
            return
        incident = get_incident(session, incident_id=item.incident_id)
        if incident.status in TERMINAL_STATUSES:
            return
        restored = service.restore(
            session, incident=incident, actor=spec.actor, now=now, at=item.first_absent_at
        )
        if restored:
            result.restored += 1


def _service(ctx: JobContext) -> IncidentService:
    if ctx.incidents is None:
        raise RuntimeError("poll-outages needs the incident service in its job context")
    return ctx.incidents


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
