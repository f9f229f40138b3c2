"""Incidents: one per (source, external id). Each observed change is recorded as a revision
(with who or what made it) and a planning job, in the caller's transaction; workers plan the
messages in the background (planning/jobs.py). Nothing here grows with the incident's size
but one set-based count of the customers it affects."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.config import Settings
from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import Incident, IncidentRevision
from outage_notify.errors import CodedError
from outage_notify.incidents.changes import Change, detect
from outage_notify.incidents.model import (
    TERMINAL_STATUSES,
    IncidentValue,
    Status,
    describe,
    value_of,
)
from outage_notify.ingest.operator_api import apply_patch
from outage_notify.ingest.records import RecordError
from outage_notify.ingest.text import has_control
from outage_notify.matching.matcher import Matcher
from outage_notify.matching.territory import exchanged
from outage_notify.planning.jobs import request_planning


class IncidentError(CodedError):
    """The change cannot be made; the message says why (an API answers 422)."""


class IncidentClosed(IncidentError):
    """A restored or cancelled incident was asked to change (an API answers 409)."""


class IncidentNotFound(LookupError):
    pass


@dataclass
class IncidentOutcome:
    incident: Incident
    created: bool
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class IncidentService:
    matcher: Matcher
    settings: Settings

    def upsert(
        self,
        session: Session,
        *,
        source: str,
        record: IncidentValue,
        actor: str,
        now: datetime,
        confirmed: bool = True,
        past_etr_allowed: bool = False,
        territory_checked: bool = True,
    ) -> IncidentOutcome:
        """Create the incident, or record what changed since its last state (idempotent).
        confirmed=False creates it unconfirmed: tied to its customers and shown to operators,
        but nobody is told until `confirm` (it has no effect on an existing incident).
        past_etr_allowed: a feed's ETR that has already passed is kept (the incident is then
        overdue, and the time is never told), where an operator's is refused.
        territory_checked=False: the area is not refused for lying outside the territory or
        looking swapped (a weather warning's, read from CAP's own lat,lon order, may cover
        much more than the territory or little of it)."""
        created = False
        area = shape(record.area) if record.area else None
        checked_area = area if territory_checked else None
        incident = _find(session, source=source, external_id=record.external_id)
        etr_now = None if past_etr_allowed else now  # None: no ETR check
        if incident is None:
            self._check_new(session, record, checked_area, etr_now)
            incident = _insert_new(
                session, source=source, record=record, now=now, confirmed=confirmed
            )
            created = incident is not None
            incident = incident or _find(session, source=source, external_id=record.external_id)
            assert incident is not None  # a racing insert committed it; we now hold its lock
        _check_kind(incident, record)
        previous = None if created else value_of(incident)
        if previous is not None:
            self._check_change(session, incident, previous, record, checked_area, etr_now)
        count = 0 if record.terminal else self._count(session, record, area)
        changes = detect(previous, record)
        if not changes and count != incident.affected_count:
            changes = [Change.CUSTOMERS_CHANGED]  # same extent, customer data moved under it
        if not changes:
            return IncidentOutcome(incident=incident, created=False)
        _apply(incident, record, now)
        incident.affected_count = count
        session.flush()
        _add_revision(session, incident, changes, actor=actor, now=now)
        request_planning(session, incident=incident, now=now)
        return IncidentOutcome(incident=incident, created=created, changes=changes)

    def check(self, session: Session, *, source: str, record: IncidentValue, now: datetime) -> None:
        """The checks an operator's upsert of `record` must pass (an estimate ahead, an area
        in the territory, the kind kept, a closed incident left alone), without writing
        anything: so a preview refuses what sending would refuse. IncidentError says why."""
        area = shape(record.area) if record.area else None
        incident = _find(session, source=source, external_id=record.external_id)
        if incident is None:
            self._check_new(session, record, area, now)
            return
        _check_kind(incident, record)
        self._check_change(session, incident, value_of(incident), record, area, now)

    def _check_new(
        self,
        session: Session,
        record: IncidentValue,
        area: BaseGeometry | None,
        now: datetime | None,
    ) -> None:
        if now is not None:
            _check_etr_ahead(record, None, now)
        if area is not None:
            self._check_territory(session, area)

    def _check_change(
        self,
        session: Session,
        incident: Incident,
        previous: IncidentValue,
        record: IncidentValue,
        area: BaseGeometry | None,
        now: datetime | None,
    ) -> None:
        if previous.terminal:
            # Closed is closed: the same state again is an idempotent no-op; anything else
            # (a new ETR, area, cause…) is refused rather than silently ignored.
            if not detect(previous, record):
                return
            raise IncidentClosed(
                f"incident is {previous.status} and can no longer change; "
                "report a new outage under a new external_id",
                code="incident_closed",
                status=previous.status,
            )
        if now is not None:
            _check_etr_ahead(record, incident, now)
        # An area accepted once stays accepted: closing an incident must never be refused
        # because the customer data (and so the territory) moved since.
        if area is not None and previous.area != record.area:
            self._check_territory(session, area)

    def _count(self, session: Session, record: IncidentValue, area: BaseGeometry | None) -> int:
        return self.matcher.count(session, area, record.feeders, record.transformers)

    def confirm(self, session: Session, *, incident: Incident, actor: str, now: datetime) -> bool:
        """Lets the customers of an unconfirmed, still open incident be told (in the caller's
        transaction, the incident locked by the caller). False if there was nothing to do."""
        if incident.confirmed_at is not None or incident.status in TERMINAL_STATUSES:
            return False
        incident.confirmed_at = now
        incident.updated_at = now
        self.note(session, incident=incident, change=Change.CONFIRMED, actor=actor, now=now)
        return True

    def note(
        self, session: Session, *, incident: Incident, change: Change, actor: str, now: datetime
    ) -> None:
        """Records that something happened to the incident that its customers may need to
        hear of (a rule of the clock: confirmed, ETR missed, silence, reminder due) and has
        it planned. The incident's own fields are the caller's to set."""
        incident.version += 1
        session.flush()
        _add_revision(session, incident, [change], actor=actor, now=now)
        request_planning(session, incident=incident, now=now)

    def restore(
        self,
        session: Session,
        *,
        incident: Incident,
        actor: str,
        now: datetime,
        at: datetime | None = None,
    ) -> bool:
        """Power is back (a feed stopped listing the outage): `at` is when, if earlier than
        now. False if the incident was already closed."""
        return self.close(
            session, incident=incident, status=Status.RESTORED, actor=actor, now=now, at=at
        )

    def close(
        self,
        session: Session,
        *,
        incident: Incident,
        status: Status,
        actor: str,
        now: datetime,
        at: datetime | None = None,
    ) -> bool:
        """Closes the incident as it stands with a terminal status (restored, cancelled,
        expired): `at` is when, if earlier than now. False if it was already closed."""
        record = replace(value_of(incident), status=status)
        outcome = self.upsert(session, source=incident.source, record=record, actor=actor, now=now)
        if outcome.changes and at is not None:
            outcome.incident.closed_at = min(at, now)
        return bool(outcome.changes)

    def affected_count(self, session: Session, record: IncidentValue) -> int:
        """How many customers the record's extent reaches now (one set-based count)."""
        return self._count(session, record, shape(record.area) if record.area else None)

    def patch(
        self,
        session: Session,
        *,
        incident_id: str,
        patch: Mapping[str, Any],
        actor: str,
        now: datetime,
    ) -> IncidentOutcome:
        """Changes some fields of an incident; the rest stay as they are."""
        incident = get_incident(session, incident_id=incident_id)
        try:
            record = apply_patch(
                value_of(incident), patch, max_vertices=self.settings.max_area_vertices
            )
        except RecordError as exc:
            raise IncidentError(exc.message, code=exc.code, **exc.params) from exc
        return self.upsert(session, source=incident.source, record=record, actor=actor, now=now)

    def _check_territory(self, session: Session, area: BaseGeometry) -> None:
        """Refuses an area sent as [lat, lon]: one wholly outside the service territory, or
        one whose lon/lat-exchanged image reaches more of the territory's core customers than
        the area itself reaches (which catches it even where swapped customer rows lie under
        it, or have stretched the territory over it)."""
        territory = (
            self.settings.territory_area or self.matcher.derived_territory(session).territory
        )
        if territory is None:
            return
        if not territory.reaches(area):
            raise IncidentError(
                f"area lies wholly outside the service territory ({territory.describe()}); "
                "GeoJSON positions are [lon, lat]: are they swapped?",
                code="area_outside_territory",
            )
        mirrored = exchanged(area) if territory.swap_detectable else None
        if mirrored is None:
            return
        as_exchanged = self.matcher.count_within(session, mirrored, among=territory)
        if as_exchanged == 0:  # the usual answer, and then the area need not be counted
            return
        as_given = self.matcher.count_within(session, area)
        if as_exchanged > as_given:
            raise IncidentError(
                f"area looks like [lat, lon]: as given it reaches {as_given} customers, "
                f"with lon and lat exchanged it would reach {as_exchanged}; "
                "GeoJSON positions are [lon, lat]",
                code="area_swapped",
                given=as_given,
                exchanged=as_exchanged,
            )


def _insert_new(
    session: Session, *, source: str, record: IncidentValue, now: datetime, confirmed: bool
) -> Incident | None:
    """Inserts the incident unless a concurrent request just did (one row per source and
    external id, whoever wins): None then, and the caller locks and updates that one."""
    incident_id = f"inc_{secrets.token_hex(10)}"
    statement = (
        upsert_insert(session)(Incident)
        .values(
            id=incident_id,
            source=source,
            external_id=record.external_id,
            kind=record.kind,
            status=record.status,
            feeders=[],
            transformers=[],
            version=0,
            affected_count=0,
            created_at=now,
            updated_at=now,
            started_at=record.started_at or now,
            confirmed_at=now if confirmed else None,
        )
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(Incident.id)
    )
    if session.execute(statement).scalar() is None:
        return None
    return session.get(Incident, incident_id)


def _apply(incident: Incident, record: IncidentValue, now: datetime) -> None:
    incident.status = record.status
    incident.cause = record.cause
    incident.message = record.message_json
    incident.area = record.area
    incident.feeders = list(record.feeders)
    incident.transformers = list(record.transformers)
    incident.etr = record.etr
    incident.starts_at = record.starts_at
    incident.ends_at = record.ends_at
    incident.severity = record.severity
    if record.started_at is not None:
        incident.started_at = record.started_at
    incident.version += 1
    incident.updated_at = now
    incident.closed_at = now if record.status in TERMINAL_STATUSES else None


def _check_kind(incident: Incident, record: IncidentValue) -> None:
    if incident.kind != record.kind:
        raise IncidentError(f"kind cannot change (incident is {incident.kind})", code="kind_fixed")


# An estimate given again to the minute is the one already held: a form shows it to the
# minute, and a feed's estimate with seconds must not come back from it as a new, past one.
SAME_ESTIMATE = timedelta(minutes=1)


def _check_etr_ahead(record: IncidentValue, incident: Incident | None, now: datetime) -> None:
    """Customers are never told a time in the past: a new ETR must lie ahead. One the
    incident already holds may have passed since (a re-post of the same body is no change)."""
    if record.etr is None or record.etr > now:
        return
    held = incident.etr if incident is not None else None
    if held is not None and abs(held - record.etr) < SAME_ESTIMATE:
        return
    raise IncidentError(
        f"etr {record.etr.isoformat()} has already passed; give the new estimate, or none",
        code="etr_passed",
    )


def get_incident(session: Session, *, incident_id: str) -> Incident:
    # Our ids hold no control characters, and PostgreSQL refuses a NUL in text outright.
    incident = None if has_control(incident_id) else session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFound(incident_id)
    return incident


def _find(session: Session, *, source: str, external_id: str) -> Incident | None:
    # FOR NO KEY UPDATE, not FOR UPDATE: the planner ties customers and writes messages under
    # the incident's foreign key (a key-share lock on it) while holding the planning job this
    # change wants next; a full row lock would make the two wait on each other.
    return session.scalar(
        select(Incident)
        .where(Incident.source == source, Incident.external_id == external_id)
        .with_for_update(key_share=True)
    )


def _add_revision(
    session: Session, incident: Incident, changes: list[Change], *, actor: str, now: datetime
) -> None:
    snapshot = {
        **describe(value_of(incident), extent=True),
        "affected_customers": incident.affected_count,
    }
    session.add(
        IncidentRevision(
            incident_id=incident.id,
            version=incident.version,
            at=now,
            changes=[c.value for c in changes],
            actor=actor,
            snapshot=snapshot,
        )
    )
