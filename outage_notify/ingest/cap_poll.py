"""poll-cap: each URL of CAP_FEEDS read, and every CAP alert in it recorded once as a warning.

fetch (conditional GET, byte cap, deadline) → read the source (a CAP document or wrapper, an
Atom/RSS index whose entries link to CAP documents, a fat Atom, NWS GeoJSON) → fetch the
linked documents not seen before (at most MAX_LINKS a poll) → record each alert once by its
(sender, identifier, sent):
- a Cancel cancels what it references, and what those referenced (a Cancel of the latest
  Update cancels the warning);
- an Update supersedes what it references;
- what passes the filter (ingest/cap_filter.py) and has an area we can place is `active`;
  the rest is `filtered` or `rejected`, with the reason kept for GET /api/v1/warnings.
Warnings past their expiry read as `expired`. A feed that cannot be read is retried with
backoff and shown as stale, as the outage feeds are (ingest/feeds.py).

An active warning that reaches customers becomes an incident of kind `warning` (source `cap`),
and its Updates revise that same incident: its exposed customers (in the area, or on a feeder
whose line crosses it) are planned an `advisory` like any incident's customers are planned
their messages (planning/rules.py says who hears what). A Cancel, or an Update that no longer
passes the filter, closes it as cancelled; its expiry closes it as expired (incidents/due.py).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from shapely import union_all
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.db.models import Incident, WeatherWarning
from outage_notify.incidents.model import (
    TERMINAL_STATUSES,
    IncidentKind,
    IncidentValue,
    Status,
    frozen_message,
)
from outage_notify.incidents.service import IncidentOutcome, IncidentService
from outage_notify.ingest import feeds
from outage_notify.ingest.cap import Alert, CapError, alert_key, parse_cap
from outage_notify.ingest.cap_filter import CapFilter, filter_from, judge
from outage_notify.ingest.cap_sources import read_source
from outage_notify.ingest.fetch import FetchError, fetch
from outage_notify.ingest.text import one_line
from outage_notify.matching.geocodes import GeocodeTable
from outage_notify.matching.geometry import area_to_geojson
from outage_notify.matching.grid import FeederLinesCache, feeders_crossing
from outage_notify.scheduler.jobs import JobContext
from outage_notify.timeutil import iso

log = logging.getLogger(__name__)
MAX_LINKS = 50  # linked documents fetched a poll; the rest come with the next one
SOURCE = "cap"  # the incidents' source
LANGUAGES = ("fi", "sv", "en")
# The feeder network as this process last read it (re-read when an import changed it).
GRID = FeederLinesCache()
ACTIVE, CANCELLED, EXPIRED, FILTERED, REJECTED = (
    "active",
    "cancelled",
    "expired",
    "filtered",
    "rejected",
)


@dataclass
class CapPollResult:
    feed: str
    read: bool = False
    unchanged: bool = False
    documents: int = 0  # linked documents fetched
    recorded: int = 0
    seen: int = 0  # alerts already recorded
    active: int = 0
    filtered: int = 0
    rejected: int = 0
    cancelled: int = 0
    error: str | None = None


def cap_feed_id(url: str) -> str:
    return hashlib.sha256(f"cap:{url}".encode()).hexdigest()[:12]


def poll_cap(ctx: JobContext) -> dict[str, Any]:
    ctx.warm()  # once a poll, outside the write transactions
    results = []
    for url in ctx.settings.cap_feeds:
        if ctx.stopping():
            break
        results.append(poll_cap_feed(ctx, url).__dict__)
    return {"feeds": results}


def poll_cap_feed(ctx: JobContext, url: str) -> CapPollResult:
    now, settings = ctx.clock.now(), ctx.settings
    feed_id = cap_feed_id(url)
    result = CapPollResult(feed=feeds.redacted_spec(url))
    try:
        with ctx.transaction() as session:
            validators = feeds.start_poll(session, feed_id=feed_id, spec=f"cap:{url}", now=now)
    except feeds.BackingOff as exc:
        result.error = str(exc)
        return result
    try:
        fetched = fetch(
            url,
            validators=validators,
            max_bytes=settings.feed_max_bytes,
            timeout=settings.feed_timeout_seconds,
        )
        source = None
        if fetched.body is not None:
            source = read_source(
                fetched.body, content_type=None, base_url=url, max_bytes=settings.feed_max_bytes
            )
    except (FetchError, CapError) as exc:
        with ctx.transaction() as session:
            feeds.record_failure(
                session,
                feed_id=feed_id,
                reason=str(exc),
                now=now,
                poll_seconds=settings.poll_seconds,
            )
        result.error = str(exc)
        return result
    result.read = True
    if source is None:
        result.unchanged = True
    else:
        documents = [(alert, url) for alert in source.alerts]
        documents += _linked(ctx, feed_id, [e.url for e in source.links], now, result)
        _log_notes(ctx, feed_id, source.notes, now)
        rules = _rules(ctx)
        for alert, origin in documents:
            _record(ctx, feed_id, alert, origin, rules, now, result)
    with ctx.transaction() as session:
        feeds.record_success(
            session,
            feed_id=feed_id,
            validators=fetched.validators,
            items=None if source is None else len(source.alerts) + len(source.links),
            rejected=None if source is None else len(source.notes),
            now=now,
        )
    return result


def _linked(
    ctx: JobContext, feed_id: str, urls: list[str], now: datetime, result: CapPollResult
) -> list[tuple[Alert, str]]:
    """The alerts of linked documents not fetched before."""
    with ctx.transaction() as session:
        known = set(
            session.scalars(
                select(WeatherWarning.source_url).where(WeatherWarning.source_url.in_(urls))
            )
        )
    found: list[tuple[Alert, str]] = []
    for url in [u for u in urls if u not in known][:MAX_LINKS]:
        try:
            fetched = fetch(
                url,
                max_bytes=ctx.settings.feed_max_bytes,
                timeout=ctx.settings.feed_timeout_seconds,
            )
            alerts = parse_cap(fetched.body or b"", max_bytes=ctx.settings.feed_max_bytes)
        except (FetchError, CapError) as exc:
            _log_notes(ctx, feed_id, [f"{url}: {exc}"], now)
            continue
        result.documents += 1
        found += [(alert, url) for alert in alerts]
    return found


def _log_notes(ctx: JobContext, feed_id: str, notes: Any, now: datetime) -> None:
    if not notes:
        return
    with ctx.transaction() as session:
        for note in notes:
            feeds.log_entry(
                session, feed_id=feed_id, item=None, outcome=feeds.REJECTED, reason=note, now=now
            )


def _rules(ctx: JobContext) -> CapFilter:
    s = ctx.settings
    return filter_from(
        events=s.cap_events,
        awareness_types=s.cap_awareness_types,
        min_severity=s.cap_min_severity,
        urgencies=s.cap_urgencies,
    )


# ---- one alert --------------------------------------------------------------------------------


def _record(
    ctx: JobContext,
    feed_id: str,
    alert: Alert,
    origin: str,
    rules: CapFilter,
    now: datetime,
    result: CapPollResult,
) -> None:
    with ctx.transaction() as session:
        sender, identifier, sent = alert_key(alert)
        exists = session.scalar(
            select(WeatherWarning.id).where(
                WeatherWarning.sender == sender[:300],
                WeatherWarning.identifier == identifier[:300],
                WeatherWarning.sent == sent,
            )
        )
        if exists is not None:
            result.seen += 1
            return
        warning = _warning(alert, feed_id, origin, now)
        earlier = _referenced(session, alert)
        chain = _with_their_references(session, earlier)
        if alert.msg_type == "Cancel":
            for old in chain:
                old.state, old.reason, old.updated_at = CANCELLED, f"cancelled by {warning.id}", now
            warning.state, warning.reason = CANCELLED, "a Cancel"
            result.cancelled += 1
        else:
            warning.state, warning.reason = _judged(
                alert, rules, ctx.settings.geocode_table, warning
            )
            for old in earlier:
                old.superseded_by, old.updated_at = warning.id, now
            setattr(result, warning.state, getattr(result, warning.state) + 1)
        session.add(warning)
        session.flush()
        if ctx.incidents is not None:
            _follow(session, ctx.incidents, warning, chain, actor=_actor(origin), now=now)
        result.recorded += 1


# ---- the warning's incident ---------------------------------------------------------------


def _follow(
    session: Session,
    incidents: IncidentService,
    warning: WeatherWarning,
    chain: list[WeatherWarning],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Carries the warning over to its incident: opened by the first active warning of a
    chain that reaches customers, revised by its Updates, closed by its Cancel (or an Update
    that no longer passes the filter)."""
    incident = _open_incident_of(session, chain)
    if warning.state in (CANCELLED, FILTERED):
        if incident is not None:
            warning.incident_id = incident.id
            incidents.close(
                session,
                incident=incident,
                status=Status.CANCELLED,
                actor=f"{actor} ({warning.state})",
                now=now,
            )
        return
    if warning.state != ACTIVE or _expired(warning, now):
        # Rejected (an area we cannot place: our geocode table's gap, not the sender's
        # change of mind) or already over: the incident stays as it was.
        warning.incident_id = incident.id if incident is not None else None
        return
    value = _incident_value(
        warning,
        external_id=incident.external_id if incident else warning.id,
        feeders=_feeders_crossing(session, warning.area),
    )
    if incident is None and incidents.affected_count(session, value) == 0:
        return  # a warning for somewhere else: nobody of ours to tell (yet)
    outcome = _upsert(session, incidents, value, actor=actor, now=now)
    warning.incident_id = outcome.incident.id


def _open_incident_of(session: Session, chain: list[WeatherWarning]) -> Incident | None:
    """The chain's incident while it is open (locked by the upsert that follows)."""
    for incident_id in {w.incident_id for w in chain if w.incident_id is not None}:
        incident = session.get(Incident, incident_id)
        if incident is not None and incident.status not in TERMINAL_STATUSES:
            return incident
    return None


def _expired(warning: WeatherWarning, now: datetime) -> bool:
    return warning.expires is not None and warning.expires <= now


def _feeders_crossing(session: Session, area: dict[str, Any] | None) -> tuple[str, ...]:
    """Grid-aware exposure: the feeders whose line crosses the area. Their customers are
    exposed even where their own house is outside it: the storm takes the line down."""
    if area is None:
        return ()
    return feeders_crossing(shape(area), GRID.get(session))


def _incident_value(
    warning: WeatherWarning, *, external_id: str, feeders: tuple[str, ...]
) -> IncidentValue:
    return IncidentValue(
        external_id=external_id,
        kind=IncidentKind.WARNING,
        status=Status.DETECTED,
        cause=warning.event,
        message=frozen_message(_headlines(warning.headline)),
        area=warning.area,
        feeders=feeders,
        starts_at=warning.onset,
        ends_at=warning.expires,
        severity=warning.severity,
    )


def _headlines(headline: dict[str, str] | None) -> dict[str, str]:
    """CAP's headlines by our languages ("fi-FI" → "fi"; the first given for each)."""
    found: dict[str, str] = {}
    for language, text in (headline or {}).items():
        short = language.split("-")[0].lower()
        if short in LANGUAGES and text.strip():
            found.setdefault(short, one_line(text).strip()[:300])
    return found


def _upsert(
    session: Session, incidents: IncidentService, value: IncidentValue, *, actor: str, now: datetime
) -> IncidentOutcome:
    return incidents.upsert(
        session, source=SOURCE, record=value, actor=actor, now=now, territory_checked=False
    )


def _actor(origin: str) -> str:
    return f"cap:{feeds.redacted_spec(origin)}"[:300]


def _warning(alert: Alert, feed_id: str, origin: str, now: datetime) -> WeatherWarning:
    sender, identifier, sent = alert_key(alert)
    expiries = [i.expires for i in alert.infos if i.expires is not None]
    first = alert.infos[0] if alert.infos else None
    return WeatherWarning(
        id=f"wrn_{secrets.token_hex(10)}",
        feed_id=feed_id,
        source_url=origin,
        sender=sender[:300],
        identifier=identifier[:300],
        sent=sent,
        msg_type=alert.msg_type,
        state=REJECTED,
        event=first.event[:300] if first else None,
        urgency=first.urgency if first else None,
        severity=first.severity if first else None,
        onset=min((i.onset for i in alert.infos if i.onset), default=None),
        expires=max(expiries) if expiries else None,
        headline={i.language: i.headline for i in alert.infos if i.headline} or None,
        references=[[r.sender, r.identifier, iso(r.sent) or ""] for r in alert.references],
        received_at=now,
        updated_at=now,
    )


def _judged(
    alert: Alert, rules: CapFilter, table_path: str | None, warning: WeatherWarning
) -> tuple[str, str | None]:
    verdict = judge(alert, rules)
    if not verdict.accepted:
        return FILTERED, verdict.reason
    if verdict.info is not None:
        warning.event, warning.urgency = verdict.info.event[:300], verdict.info.urgency
    warning.severity = verdict.severity
    area, unknown = _area(alert, table_path)
    if area is None:
        codes = ", ".join(f"{name}={value}" for name, value in unknown[:5])
        return REJECTED, "no area to place it: " + (
            f"geocodes not in the geocode table ({codes})" if unknown else "no polygon or circle"
        )
    warning.area = area_to_geojson(area)
    return ACTIVE, None


def _area(alert: Alert, table_path: str | None) -> tuple[BaseGeometry | None, list[Any]]:
    pieces: list[BaseGeometry] = []
    codes: list[Any] = []
    for info in alert.infos:
        for area in info.areas:
            pieces += [shape(p) for p in area.polygons]
            pieces += [shape(c.polygon) for c in area.circles if c.polygon is not None]
            if not area.polygons and not area.circles:
                codes += list(area.geocodes)
    unknown: list[Any] = []
    if codes:
        table = _table(table_path)
        resolved, unknown_codes = table.resolve(codes) if table else (None, tuple(codes))
        unknown = list(unknown_codes)
        if resolved is not None:
            pieces.append(resolved)
    if not pieces:
        return None, unknown
    return union_all(pieces), unknown


@lru_cache(maxsize=4)
def _table(path: str | None) -> GeocodeTable | None:
    return GeocodeTable.load(Path(path)) if path else None


def _referenced(session: Session, alert: Alert) -> list[WeatherWarning]:
    found = []
    for ref in alert.references:
        row = session.scalar(
            select(WeatherWarning).where(
                WeatherWarning.sender == ref.sender[:300],
                WeatherWarning.identifier == ref.identifier[:300],
                WeatherWarning.sent == ref.sent,
            )
        )
        if row is not None:
            found.append(row)
    return found


def _with_their_references(
    session: Session, warnings: list[WeatherWarning]
) -> list[WeatherWarning]:
    """The warnings and, transitively, those they referenced."""
    seen: dict[str, WeatherWarning] = {}
    todo = list(warnings)
    while todo:
        warning = todo.pop()
        if warning.id in seen:
            continue
        seen[warning.id] = warning
        for sender, identifier, sent in warning.references:
            row = session.scalar(
                select(WeatherWarning).where(
                    WeatherWarning.sender == sender,
                    WeatherWarning.identifier == identifier,
                    WeatherWarning.sent == datetime.fromisoformat(sent),
                )
            )
            if row is not None:
                todo.append(row)
    return list(seen.values())


def state_at(warning: WeatherWarning, now: datetime) -> str:
    """The state as shown: an active warning past its expiry is expired."""
    if warning.state == ACTIVE and warning.expires is not None and warning.expires <= now:
        return EXPIRED
    return warning.state


def warning_dict(warning: WeatherWarning, now: datetime) -> dict[str, Any]:
    return {
        "id": warning.id,
        "sender": warning.sender,
        "identifier": warning.identifier,
        "sent": iso(warning.sent),
        "msg_type": warning.msg_type,
        "state": state_at(warning, now),
        "reason": warning.reason,
        "event": warning.event,
        "severity": warning.severity,
        "urgency": warning.urgency,
        "onset": iso(warning.onset),
        "expires": iso(warning.expires),
        "headline": warning.headline,
        "references": warning.references,
        "superseded_by": warning.superseded_by,
        "incident_id": warning.incident_id,
        "area": warning.area,
        "received_at": iso(warning.received_at),
    }
