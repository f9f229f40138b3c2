"""Incidents: one per (source, external id). Each observed change becomes a revision, moves
the affected set, and is planned into messages — all in the caller's transaction."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from outage_notify.config import Settings
from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import Incident, IncidentCustomer, IncidentRevision
from outage_notify.incidents.changes import Change, IncidentState, detect
from outage_notify.ingest.operator_api import apply_patch
from outage_notify.ingest.records import IncidentRecord, RecordError
from outage_notify.ingest.text import has_control
from outage_notify.matching.index_cache import CustomerIndexCache
from outage_notify.matching.spatial import CustomerIndex
from outage_notify.matching.territory import exchanged
from outage_notify.planning.rules import CustomerState, IncidentFacts
from outage_notify.planning.service import Audience, Planner, PlanSummary
from outage_notify.timeline import service as timeline
from outage_notify.timeutil import iso

# Changes after which every affected customer's state is worth re-deciding; other changes
# (status, cause) only concern customers who joined or left.
FULL_REVIEW = frozenset(
    {Change.NEW, Change.ETR_CHANGED, Change.SCHEDULE_CHANGED, Change.RESTORED, Change.CANCELLED}
)
CHUNK = 1000


class IncidentError(ValueError):
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
    plan: PlanSummary = field(default_factory=PlanSummary)


@dataclass(frozen=True)
class IncidentService:
    planner: Planner
    index: CustomerIndexCache
    settings: Settings

    def upsert(
        self, session: Session, *, source: str, record: IncidentRecord, now: datetime
    ) -> IncidentOutcome:
        """Create the incident, or apply what changed since its last state (idempotent)."""
        incident = _find(session, source=source, external_id=record.external_id)
        if incident is not None and incident.kind != record.kind:
            raise IncidentError(f"kind cannot change (incident is {incident.kind})")
        previous = state_of(incident) if incident is not None else None
        new = _state_of_record(record)
        if previous is not None and previous.terminal:
            # Closed is closed: the same state again is an idempotent no-op; anything else
            # (a new ETR, area, cause…) is refused rather than silently ignored.
            if new == previous:
                return IncidentOutcome(incident=incident, created=False)  # type: ignore[arg-type]
            raise IncidentClosed(
                f"incident is {previous.status} and can no longer change; "
                "report a new outage under a new external_id"
            )
        _check_etr_ahead(record, incident, now)
        area = shape(record.area) if record.area else None
        customer_index = self.index.get(session)
        # An area accepted once stays accepted: closing an incident must never be refused
        # because the customer data (and so the territory) moved since.
        if area is not None and (previous is None or previous.area != new.area):
            self._check_territory(area, customer_index)
        target: set[int] = set()
        if not new.terminal:
            matched = customer_index.match(area, record.feeders, record.transformers)
            target = set(matched.tolist())
        ties = _ties(session, incident.id) if incident is not None else {}
        current = {pk for pk, tie in ties.items() if tie.affected}
        gained, lost = target - current, current - target
        changes = detect(previous, new, gained=len(gained), lost=len(lost))
        if not changes:
            return IncidentOutcome(incident=incident, created=False)  # type: ignore[arg-type]
        created = incident is None
        incident = self._save(session, incident, source, record, now)
        incident.affected_count = len(target)
        _add_revision(session, incident, changes, new, now)
        _move_ties(session, incident.id, gained, lost, ties, now)
        _log_touches(session, incident, changes, gained, lost, current & target, now)
        audience = _audience(changes, target, current, gained, lost, ties)
        plan = self.planner.plan_incident(
            session, incident=incident, facts=facts_of(incident), audience=audience, now=now
        )
        return IncidentOutcome(incident=incident, created=created, changes=changes, plan=plan)

    def patch(
        self, session: Session, *, incident_id: str, patch: Mapping[str, Any], now: datetime
    ) -> IncidentOutcome:
        """Changes some fields of an incident; the rest stay as they are."""
        incident = get_incident(session, incident_id=incident_id)
        try:
            record = apply_patch(
                record_of(incident), patch, max_vertices=self.settings.max_area_vertices
            )
        except RecordError as exc:
            raise IncidentError(str(exc)) from exc
        return self.upsert(session, source=incident.source, record=record, now=now)

    def _check_territory(self, area: BaseGeometry, customers: CustomerIndex) -> None:
        """Refuses an area sent as [lat, lon]: one wholly outside the service territory, or
        one whose lon/lat-exchanged image reaches more of the territory's core customers than
        the area itself reaches (which catches it even where swapped customer rows lie under
        it, or have stretched the territory over it)."""
        territory = self.settings.territory_area or customers.derived_territory.territory
        if territory is None:
            return
        if not territory.reaches(area):
            raise IncidentError(
                f"area lies wholly outside the service territory ({territory.describe()}); "
                "GeoJSON positions are [lon, lat]: are they swapped?"
            )
        mirrored = exchanged(area) if territory.swap_detectable else None
        if mirrored is None:
            return
        as_exchanged = customers.count_within(mirrored, among=territory)
        if as_exchanged == 0:  # the usual answer, and then the area need not be counted
            return
        as_given = customers.count_within(area)
        if as_exchanged > as_given:
            raise IncidentError(
                f"area looks like [lat, lon]: as given it reaches {as_given} customers, "
                f"with lon and lat exchanged it would reach {as_exchanged}; "
                "GeoJSON positions are [lon, lat]"
            )

    def _save(
        self,
        session: Session,
        incident: Incident | None,
        source: str,
        record: IncidentRecord,
        now: datetime,
    ) -> Incident:
        if incident is None:
            incident = Incident(
                id=f"inc_{secrets.token_hex(10)}",
                source=source,
                external_id=record.external_id,
                kind=record.kind,
                version=0,
                created_at=now,
                started_at=record.started_at or now,
            )
            session.add(incident)
        incident.status = record.status
        incident.cause = record.cause
        incident.message = record.message
        incident.area = record.area
        incident.feeders = list(record.feeders)
        incident.transformers = list(record.transformers)
        incident.etr = record.etr
        incident.starts_at = record.starts_at
        incident.ends_at = record.ends_at
        if record.started_at is not None:
            incident.started_at = record.started_at
        incident.version += 1
        incident.updated_at = now
        incident.closed_at = now if record.status in ("restored", "cancelled") else None
        session.flush()
        return incident


def _check_etr_ahead(record: IncidentRecord, incident: Incident | None, now: datetime) -> None:
    """Customers are never told a time in the past: a new ETR must lie ahead. One the
    incident already holds may have passed since (a re-post of the same body is no change)."""
    if record.etr is None or record.etr > now:
        return
    if incident is not None and incident.etr == record.etr:
        return
    raise IncidentError(
        f"etr {record.etr.isoformat()} has already passed; give the new estimate, or none"
    )


def get_incident(session: Session, *, incident_id: str) -> Incident:
    # Our ids hold no control characters, and PostgreSQL refuses a NUL in text outright.
    incident = None if has_control(incident_id) else session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFound(incident_id)
    return incident


def _find(session: Session, *, source: str, external_id: str) -> Incident | None:
    return session.scalar(
        select(Incident)
        .where(Incident.source == source, Incident.external_id == external_id)
        .with_for_update()
    )


# ---- states ----------------------------------------------------------------------------------


def state_of(incident: Incident) -> IncidentState:
    return _state_of_record(record_of(incident))


def _state_of_record(record: IncidentRecord) -> IncidentState:
    return IncidentState(
        kind=record.kind,
        status=record.status,
        cause=record.cause,
        message=_frozen_message(record.message),
        etr=record.etr,
        starts_at=record.starts_at,
        ends_at=record.ends_at,
        area=record.area,
        feeders=frozenset(record.feeders),
        transformers=frozenset(record.transformers),
    )


def _frozen_message(message: str | dict[str, str] | None) -> Any:
    return tuple(sorted(message.items())) if isinstance(message, dict) else message


def record_of(incident: Incident) -> IncidentRecord:
    return IncidentRecord(
        external_id=incident.external_id,
        kind=incident.kind,
        status=incident.status,
        cause=incident.cause,
        message=incident.message,
        area=incident.area,
        feeders=tuple(incident.feeders or ()),
        transformers=tuple(incident.transformers or ()),
        etr=incident.etr,
        starts_at=incident.starts_at,
        ends_at=incident.ends_at,
        started_at=incident.started_at,
    )


def facts_of(incident: Incident) -> IncidentFacts:
    return IncidentFacts(
        kind=incident.kind,
        status=incident.status,
        etr=incident.etr,
        starts_at=incident.starts_at,
        ends_at=incident.ends_at,
    )


def _add_revision(
    session: Session,
    incident: Incident,
    changes: list[Change],
    state: IncidentState,
    now: datetime,
) -> None:
    snapshot = {
        "status": state.status,
        "cause": state.cause,
        "message": incident.message,
        "etr": iso(state.etr),
        "started_at": iso(incident.started_at),
        "starts_at": iso(state.starts_at),
        "ends_at": iso(state.ends_at),
        "area": state.area,
        "feeders": sorted(state.feeders),
        "transformers": sorted(state.transformers),
        "affected_customers": incident.affected_count,
    }
    session.add(
        IncidentRevision(
            incident_id=incident.id,
            version=incident.version,
            at=now,
            changes=[c.value for c in changes],
            snapshot=snapshot,
        )
    )


# ---- who is tied to the incident -------------------------------------------------------------


def _ties(session: Session, incident_id: str) -> dict[int, Any]:
    """Everyone ever tied to the incident, as plain rows (a storm can tie 500,000)."""
    rows = session.execute(
        select(
            IncidentCustomer.customer_pk,
            IncidentCustomer.affected,
            IncidentCustomer.told_version,
            IncidentCustomer.told_etr,
            IncidentCustomer.told_starts_at,
        ).where(IncidentCustomer.incident_id == incident_id)
    )
    return {row.customer_pk: row for row in rows}


def _move_ties(
    session: Session,
    incident_id: str,
    gained: set[int],
    lost: set[int],
    ties: dict[int, Row[Any]],
    now: datetime,
) -> None:
    returning = sorted(pk for pk in gained if pk in ties)
    fresh = sorted(pk for pk in gained if pk not in ties)
    rows = [
        {
            "incident_id": incident_id,
            "customer_pk": pk,
            "affected": True,
            "since": now,
        }
        for pk in fresh
    ]
    insert = upsert_insert(session)
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(IncidentCustomer), rows[start : start + CHUNK])
    _set_affected(session, incident_id, returning, affected=True, now=now)
    _set_affected(session, incident_id, sorted(lost), affected=False, now=now)


def _set_affected(
    session: Session, incident_id: str, pks: list[int], *, affected: bool, now: datetime
) -> None:
    values: dict[str, Any] = (
        {"affected": True, "since": now, "released_at": None}
        if affected
        else {"affected": False, "released_at": now}
    )
    for start in range(0, len(pks), CHUNK):
        session.execute(
            update(IncidentCustomer)
            .where(
                IncidentCustomer.incident_id == incident_id,
                IncidentCustomer.customer_pk.in_(pks[start : start + CHUNK]),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _audience(
    changes: list[Change],
    target: set[int],
    current: set[int],
    gained: set[int],
    lost: set[int],
    ties: dict[int, Row[Any]],
) -> list[Audience]:
    everyone = FULL_REVIEW & set(changes)
    pks = (target | current | lost) if everyone else (gained | lost)
    return [
        Audience(customer_pk=pk, state=_customer_state(pk, target, current, ties.get(pk)))
        for pk in sorted(pks)
    ]


def _customer_state(
    pk: int, target: set[int], current: set[int], tie: Row[Any] | None
) -> CustomerState:
    told = tie is not None and tie.told_version is not None
    return CustomerState(
        affected_now=pk in target,
        affected_before=pk in current,
        told=told,
        told_etr=tie.told_etr if told and tie else None,
        told_starts_at=tie.told_starts_at if told and tie else None,
    )


def _log_touches(
    session: Session,
    incident: Incident,
    changes: list[Change],
    gained: set[int],
    lost: set[int],
    staying: set[int],
    now: datetime,
) -> None:
    summary = _summary(incident)
    names = [c.value for c in changes]

    def events(pks: set[int], kind: str) -> list[timeline.Event]:
        data = {"changes": names, **summary}
        return [
            timeline.Event(customer_pk=pk, at=now, type=kind, incident_id=incident.id, data=data)
            for pk in sorted(pks)
        ]

    terminal = incident.status in ("restored", "cancelled")
    timeline.log_events(session, events(gained, timeline.INCIDENT_AFFECTED))
    timeline.log_events(
        session, events(lost, timeline.INCIDENT_CLOSED if terminal else timeline.INCIDENT_RELEASED)
    )
    noteworthy = {
        Change.ETR_CHANGED,
        Change.STATUS_CHANGED,
        Change.SCHEDULE_CHANGED,
        Change.DETAILS_CHANGED,
    }
    if noteworthy & set(changes):
        timeline.log_events(session, events(staying, timeline.INCIDENT_UPDATED))


def _summary(incident: Incident) -> dict[str, Any]:
    return {
        "external_id": incident.external_id,
        "kind": incident.kind,
        "status": incident.status,
        "cause": incident.cause,
        "etr": iso(incident.etr),
        "starts_at": iso(incident.starts_at),
        "ends_at": iso(incident.ends_at),
        "version": incident.version,
    }
