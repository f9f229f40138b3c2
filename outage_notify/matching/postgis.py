"""Who an incident touches, matched inside PostgreSQL + PostGIS: no customer is loaded into
Python, so a process's memory does not grow with the customer base.

Same meaning as the in-memory CustomerIndex (spatial.py): a customer is matched when its point
is inside the area or on its boundary (ST_Intersects of the area and the point), or when its
feeder or transformer is listed. Points are `customers.geom`, a generated geometry(Point, 4326)
column with a GiST index (migration 0004; not in the ORM model, as SQLite has no such column).

Areas are shapely geometries (parse_area's output), sent as WKB so that every coordinate
reaches the server bit for bit. An area of several parts or more than PIECE_VERTICES vertices
is sent in pieces (spatial.pieces: each part, cut in halves as the in-memory index cuts an
area), so that the GiST index is probed with each piece's own small box and a point is tested
against one small piece rather than walked across thousands of edges (PostGIS tests a point
against a polygon by crossings too: 32 µs a point for a 1,000-vertex star, 7.3 s for a storm of
200 polygons over 1M customers sent whole). The pieces are cut here, not by ST_Subdivide, as
ST_Subdivide took 12.8 s on a 10,000-vertex star that shapely cuts in 0.8 s (PostGIS 3.3,
GEOS 3.11). A point on a cut, or where two parts touch, lies in two pieces, so a match in
pieces is made DISTINCT.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple, cast

import numpy as np
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from outage_notify.db.models import IncidentCustomer
from outage_notify.db.types import UTCDateTime
from outage_notify.matching import spatial
from outage_notify.matching.spatial import PIECE_VERTICES
from outage_notify.matching.territory import CELL_DEGREES, NX, NY, Territory

SRID = 4326

# The columns matching reads, geom included (a lightweight clause: the ORM model has no geom).
customers = sa.table(
    "customers",
    sa.column("id", sa.Integer),
    sa.column("lon", sa.Float),
    sa.column("lat", sa.Float),
    sa.column("feeder", sa.String),
    sa.column("transformer", sa.String),
    sa.column("priority", sa.String),
    sa.column("geom"),
)
ties = cast(sa.Table, IncidentCustomer.__table__)


class TieMoves(NamedTuple):
    """How many customers an incident gained and lost in one move of its ties."""

    gained: int
    lost: int


def geometry_literal(geometry: BaseGeometry) -> ColumnElement[object]:
    """The geometry as a bound WKB parameter, exact to the last bit (WKT would round)."""
    return sa.func.ST_GeomFromWKB(sa.literal(shapely.to_wkb(geometry), sa.LargeBinary), SRID)


def matching_customers(
    area: BaseGeometry | None, feeders: Iterable[str] = (), transformers: Iterable[str] = ()
) -> Select[Any]:
    """A SELECT of the ids (customers.id, one row each) of everyone the incident touches, to
    count or to feed an INSERT … SELECT."""
    parts: list[Select[Any]] = []
    feeders, transformers = list(feeders), list(transformers)
    if area is not None and not area.is_empty:
        parts.append(_inside(area))
    if feeders or transformers:
        parts.append(_on_grid(feeders, transformers))
    if not parts:
        return sa.select(customers.c.id).where(sa.false())
    if len(parts) == 1:
        return parts[0]
    # UNION (not UNION ALL): a customer inside the area and on a listed feeder counts once.
    union = sa.union(*parts).subquery("matched")
    return sa.select(union.c.id)


def _inside(area: BaseGeometry, *also: ColumnElement[bool]) -> Select[Any]:
    """Customers inside the area or on its boundary (and meeting `also`)."""
    if shapely.get_num_geometries(area) == 1 and _vertices(area) <= PIECE_VERTICES:
        condition = sa.func.ST_Intersects(geometry_literal(area), customers.c.geom)
        return sa.select(customers.c.id).where(condition, *also)
    # FROM unnest(pieces) JOIN customers: one GiST probe per piece, one short test per point.
    # The pieces arrive as one geometry[] constant, parsed once: decoding WKB in the join
    # condition instead would decode a piece again for every candidate point.
    pieces = shapely.set_srid(np.asarray(spatial.pieces(area), dtype=object), SRID)
    hexes = shapely.to_wkb(pieces, hex=True, include_srid=True).tolist()
    as_geometries = sa.cast(sa.literal(hexes, ARRAY(sa.Text)), ARRAY(Geometry(srid=SRID)))
    listed = sa.func.unnest(as_geometries).table_valued("geom").render_derived("pieces")
    joined = listed.join(customers, sa.func.ST_Intersects(listed.c.geom, customers.c.geom))
    return sa.select(customers.c.id).select_from(joined).where(*also).distinct()


def _vertices(area: BaseGeometry) -> int:
    return int(shapely.get_num_coordinates(area))


def _on_grid(feeders: list[str], transformers: list[str]) -> Select[Any]:
    conditions = []
    if feeders:
        conditions.append(customers.c.feeder.in_(feeders))
    if transformers:
        conditions.append(customers.c.transformer.in_(transformers))
    return sa.select(customers.c.id).where(sa.or_(*conditions))


def _count(session: Session, query: Select[Any]) -> int:
    counted = sa.select(sa.func.count()).select_from(query.subquery("counted"))
    return int(session.scalar(counted) or 0)


def count_matching(
    session: Session,
    area: BaseGeometry | None,
    feeders: Iterable[str] = (),
    transformers: Iterable[str] = (),
) -> int:
    """How many customers the incident touches, in one statement."""
    return _count(session, matching_customers(area, feeders, transformers))


def count_within(session: Session, area: BaseGeometry, *, among: Territory | None = None) -> int:
    """How many customers are inside the area; with `among`, only those in the territory's
    core (CustomerIndex.count_within). The core is a second predicate on the rows the area's
    GiST probe finds, so the usual call (an area's lon/lat-exchanged image, far from everyone)
    costs one empty probe, and no customer's point leaves the database."""
    if area.is_empty:
        return 0
    also = []
    if among is not None:
        also.append(sa.func.ST_Intersects(geometry_literal(among.core), customers.c.geom))
    return _count(session, _inside(area, *also))


def cell_counts(session: Session) -> np.ndarray:
    """Customers per cell of territory.py's world grid, grouped in the database: the same
    array as territory.cell_counts(lon, lat). The cell arithmetic is the same IEEE double
    arithmetic as numpy's (add, divide, floor, clamp), so an edge point lands in the same cell."""
    degrees = sa.cast(sa.literal(CELL_DEGREES), sa.Double)
    ix = _clamped_cell(customers.c.lon, 180.0, degrees, NX)
    iy = _clamped_cell(customers.c.lat, 90.0, degrees, NY)
    code = (iy * NX + ix).label("code")
    rows = session.execute(sa.select(code, sa.func.count()).group_by(code)).all()
    counts = np.zeros(NX * NY, dtype=np.int64)
    if rows:
        found = np.array(rows, dtype=np.int64)
        counts[found[:, 0]] = found[:, 1]
    return counts


def _clamped_cell(
    value: ColumnElement[float], offset: float, degrees: ColumnElement[float], cells: int
) -> ColumnElement[int]:
    shifted = value + sa.cast(sa.literal(offset), sa.Double)
    cell = sa.func.floor(shifted / degrees)
    return sa.cast(sa.func.least(sa.func.greatest(cell, 0), cells - 1), sa.BigInteger)


def move_ties(
    session: Session,
    *,
    incident_id: str,
    area: BaseGeometry | None,
    feeders: Iterable[str] = (),
    transformers: Iterable[str] = (),
    now: datetime,
) -> TieMoves:
    """Makes the incident's ties (incident_customers) follow its match, in one statement:
    customers newly matched are tied (or re-tied) as affected since `now`, affected ties no
    longer matched are released at `now`, and ties that stay are not touched. Moved ties lose
    their planned_version, so planning takes them up again. Area None with no grid ids (a
    terminal incident: the caller passes None) releases every affected tie.

    Both changes read the same snapshot and touch disjoint rows (the gained were not affected,
    the lost were), so one statement holds both."""
    matched = matching_customers(area, feeders, transformers).cte("matched")
    gained = _gain(incident_id, matched, now).cte("gained")
    lost = _release(incident_id, matched, now).cte("lost")
    counts = sa.select(
        sa.select(sa.func.count()).select_from(gained).scalar_subquery(),
        sa.select(sa.func.count()).select_from(lost).scalar_subquery(),
    )
    row = session.execute(counts).one()
    return TieMoves(int(row[0]), int(row[1]))


def head_start(
    session: Session,
    *,
    incident_id: str,
    area: BaseGeometry | None,
    feeders: Iterable[str] = (),
    transformers: Iterable[str] = (),
    now: datetime,
    limit: int,
) -> int:
    """Ties the first `limit` customers a new incident matches (its priority customers first),
    affected since `now`, without waiting for the whole match: a storm's first chunk can then
    be planned, and its messages leave, while the rest is tied by move_ties in the next step.
    Returns how many were tied; fewer than `limit` means the match had no more."""
    priority = matching_customers(area, feeders, transformers).subquery("priority_match")
    anyone = matching_customers(area, feeders, transformers).subquery("any_match")
    ranked = sa.union_all(
        sa.select(priority.c.id, sa.literal(0).label("rank"))
        .join(customers, customers.c.id == priority.c.id)
        .where(customers.c.priority.is_not(None))
        .limit(limit),
        # No ORDER BY: the scan stops after `limit` rows instead of reading the whole area.
        sa.select(anyone.c.id, sa.literal(1).label("rank")).limit(limit),
    ).subquery("ranked")
    head = (
        sa.select(
            sa.literal(incident_id, sa.String),
            ranked.c.id,
            sa.true(),
            sa.literal(now, UTCDateTime()),
            sa.false(),
        )
        .group_by(ranked.c.id)
        .order_by(sa.func.min(ranked.c.rank), ranked.c.id)
        .limit(limit)
    )
    tied = session.execute(
        pg_insert(ties)
        .from_select(["incident_id", "customer_pk", "affected", "since", "planned_affected"], head)
        .on_conflict_do_nothing(index_elements=[ties.c.incident_id, ties.c.customer_pk])
        .returning(ties.c.customer_pk)
    ).all()
    return len(tied)


def _gain(incident_id: str, matched: sa.CTE, now: datetime) -> sa.Insert:
    rows = sa.select(
        sa.literal(incident_id, sa.String),
        matched.c.id,
        sa.true(),
        sa.literal(now, UTCDateTime()),
        sa.false(),
    )
    insert = pg_insert(ties).from_select(
        ["incident_id", "customer_pk", "affected", "since", "planned_affected"], rows
    )
    return insert.on_conflict_do_update(
        index_elements=[ties.c.incident_id, ties.c.customer_pk],
        set_={"affected": True, "since": now, "released_at": None, "planned_version": None},
        where=~ties.c.affected,
    ).returning(ties.c.customer_pk)


def _release(incident_id: str, matched: sa.CTE, now: datetime) -> sa.Update:
    still_matched = sa.exists().where(matched.c.id == ties.c.customer_pk)
    return (
        sa.update(ties)
        .where(ties.c.incident_id == incident_id, ties.c.affected, ~still_matched)
        .values(affected=False, released_at=now, planned_version=None)
        .returning(ties.c.customer_pk)
    )
