"""The incidents the public may see, and the address search. Services take the session and
never commit.

Shown: outages that customers have been told of (confirmed: a momentary cut that a feed
dropped before CONFIRM_SECONDS never appears), planned work not yet done, and weather warnings
in force. Each with its area, the number of customers affected (privacy.py decides how it is
published), and what people ask: cause, state, estimate, when it was last updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from outage_notify.db import meta
from outage_notify.db.models import Customer, Incident
from outage_notify.incidents.model import ACTIVE_STATUSES, IncidentKind, severity_rank
from outage_notify.public.address import AddressQuery
from outage_notify.public.outlines import Outlines
from outage_notify.public.privacy import cells_covering, public_count, published
from outage_notify.timeutil import iso

# Customers read per address search: a block of flats has a few hundred at one number.
ADDRESS_ROWS = 2000
# Public shapes kept per (database, incident version, customers' revision).
CACHE_SIZE = 4096


@dataclass(frozen=True)
class PublicIncident:
    id: str
    kind: str
    status: str
    cause: str | None
    customers: int  # exact; published through privacy.public_count
    etr: datetime | None
    starts_at: datetime | None
    ends_at: datetime | None
    started_at: datetime
    updated_at: datetime
    severity: str | None
    message: str | dict[str, str] | None  # the operator's text, or a warning's headlines
    area: BaseGeometry | None  # as published: the area given, and cells round grid customers
    area_json: dict[str, Any] | None  # the same as GeoJSON
    areas: tuple[str, ...]  # names of the outline areas it lies in
    # What the address search matches on, as the matcher does (never published).
    given_area: BaseGeometry | None
    feeders: frozenset[str]
    transformers: frozenset[str]

    def text(self, language: str) -> str | None:
        """The operator's message (a warning's headline) in this language, if there is one."""
        if isinstance(self.message, dict):
            return self.message.get(language)
        return self.message

    @property
    def customers_affected(self) -> int | None:
        return public_count(self.customers)

    def as_json(self) -> dict[str, Any]:
        """The open feed's item (times ISO 8601 UTC)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "cause": self.cause,
            "customers_affected": self.customers_affected,
            "etr": iso(self.etr),
            "started_at": iso(self.started_at),
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "updated_at": iso(self.updated_at),
            "severity": self.severity,
            "areas": list(self.areas),
        }

    def as_feature(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "id": self.id,
            "geometry": self.area_json,
            "properties": self.as_json(),
        }

    def reaches(self, customers: Sequence[Customer]) -> bool:
        """Is any of these service locations in it, by area or by grid (as matching counts:
        a point on the area's boundary is in)?"""
        if self.feeders & {c.feeder for c in customers}:
            return True
        if self.transformers & {c.transformer for c in customers}:
            return True
        if self.given_area is None or not customers:
            return False
        lons = np.fromiter((c.lon for c in customers), float, len(customers))
        lats = np.fromiter((c.lat for c in customers), float, len(customers))
        return bool(shapely.intersects_xy(self.given_area, lons, lats).any())


def public_incidents(
    session: Session, *, now: datetime, outlines: Outlines
) -> list[PublicIncident]:
    """Outages (most customers first), then planned work (soonest first), then warnings (most
    severe first)."""
    rows = session.scalars(select(Incident).where(_shown(now))).all()
    revision = meta.customers_revision(session)
    database = session.get_bind().engine.url.render_as_string()
    found = [_public(session, row, outlines, (database, revision)) for row in rows]
    return sorted(found, key=_order)


def _shown(now: datetime) -> Any:
    active = Incident.status.in_(sorted(ACTIVE_STATUSES))
    return and_(
        active,
        or_(
            and_(Incident.kind == IncidentKind.UNPLANNED, Incident.confirmed_at.is_not(None)),
            Incident.kind == IncidentKind.PLANNED,
            and_(
                Incident.kind == IncidentKind.WARNING,
                or_(Incident.ends_at.is_(None), Incident.ends_at > now),
            ),
        ),
    )


def _order(incident: PublicIncident) -> tuple[Any, ...]:
    rank = {IncidentKind.UNPLANNED: 0, IncidentKind.PLANNED: 1, IncidentKind.WARNING: 2}
    if incident.kind == IncidentKind.UNPLANNED:
        within: tuple[Any, ...] = (-incident.customers, incident.started_at)
    elif incident.kind == IncidentKind.PLANNED:
        within = (incident.starts_at or incident.started_at, 0)
    else:
        within = (-severity_rank(incident.severity), incident.starts_at or incident.started_at)
    return (rank.get(IncidentKind(incident.kind), 3), *within, incident.id)


# (the area as given, the area as published, as GeoJSON, its outline names)
Shapes = tuple[BaseGeometry | None, BaseGeometry | None, dict[str, Any] | None, tuple[str, ...]]
_SHAPES: dict[tuple[Any, ...], Shapes] = {}


def _public(
    session: Session, row: Incident, outlines: Outlines, version: tuple[str, str]
) -> PublicIncident:
    key = (*version, row.id, row.version)
    if key not in _SHAPES:
        if len(_SHAPES) >= CACHE_SIZE:
            _SHAPES.clear()
        given, drawn, points = _shapes(session, row)
        if given is not None:
            shapely.prepare(given)  # the address search tests points against it
        by_points = points and given is None  # a grid incident: named by where its customers are
        named = outlines.names_of_points(points) if by_points else outlines.names_for(drawn)
        drawn_json = mapping(drawn) if drawn is not None else None
        _SHAPES[key] = (given, drawn, drawn_json, tuple(named))
    given, drawn, drawn_json, names = _SHAPES[key]
    return PublicIncident(
        id=row.id,
        kind=row.kind,
        status=row.status,
        cause=row.cause,
        customers=row.affected_count,
        etr=row.etr,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        started_at=row.started_at,
        updated_at=row.updated_at,
        severity=row.severity,
        message=row.message,
        area=drawn,
        area_json=drawn_json,
        areas=names,
        given_area=given,
        feeders=frozenset(row.feeders or ()),
        transformers=frozenset(row.transformers or ()),
    )


def _shapes(
    session: Session, row: Incident
) -> tuple[BaseGeometry | None, BaseGeometry | None, list[tuple[float, float]]]:
    """(the area as given, the area as published, the points of its grid customers). A
    warning is its weather area; an outage or planned work is its area joined with the cells
    round the customers of its grid ids."""
    given = shape(row.area) if row.area else None
    if row.kind == IncidentKind.WARNING or not (row.feeders or row.transformers):
        return given, published(given) if given is not None else None, []
    points = _grid_points(session, row.feeders or [], row.transformers or [])
    parts = [g for g in (given, cells_covering(points)) if g is not None]
    return given, published(unary_union(parts)) if parts else None, points


def _grid_points(
    session: Session, feeders: Sequence[str], transformers: Sequence[str]
) -> list[tuple[float, float]]:
    on_grid = or_(
        Customer.feeder.in_(list(feeders)) if feeders else false(),
        Customer.transformer.in_(list(transformers)) if transformers else false(),
    )
    rows = session.execute(select(Customer.lon, Customer.lat).where(on_grid))
    return [(lon, lat) for lon, lat in rows]


def incidents_at(
    session: Session, *, query: AddressQuery, incidents: Sequence[PublicIncident]
) -> list[PublicIncident]:
    """The public incidents that reach a service location at this street and number. Only
    the answer leaves this function: nothing of the customers found there."""
    if not incidents:
        return []
    customers = customers_at_address(session, query)
    return [i for i in incidents if i.reaches(customers)] if customers else []


def customers_at_address(session: Session, query: AddressQuery) -> list[Customer]:
    """The service locations at this street and number (at most ADDRESS_ROWS looked at)."""
    # SQLite's lower() folds ASCII only: the prefix is tried as typed in lower case and with
    # a capital first letter (Ågatan), and matched exactly in Python afterwards.
    lowered = query.prefix.lower()
    variants = {lowered, lowered[:1].upper() + lowered[1:]}
    patterns = [_escape_like(v) + "%" for v in variants]
    address = func.lower(Customer.address)
    rows = session.scalars(
        select(Customer)
        .where(or_(*(address.like(p, escape="\\") for p in patterns)))
        .limit(ADDRESS_ROWS)
    )
    return [c for c in rows if query.matches(c.address)]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
