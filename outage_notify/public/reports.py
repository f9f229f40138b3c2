"""Outage reports from customers: on the public map (POST /map/report), by an SMS that says
the power is out (customers/replies.py), or taken by an agent from a caller (the agent desk);
what a report must hold, where it is placed, and the operator console's proposed clusters of
them. A report that names its customer is on that customer's timeline too.

A report names a street address and a house number (the address search's rule: nothing
vaguer) and may say something in words. It is placed at a service location of ours at that
address; an address where we have no connection is refused, with the reason, rather than put
somewhere on the map. Refusals carry their words as catalog messages (N_), translated by the
page that shows them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.db.models import Customer, OutageReport
from outage_notify.errors import ActionRefused
from outage_notify.ingest.text import has_control
from outage_notify.public.address import AddressQuery, AddressRefused, parse_address
from outage_notify.public.outages import customers_at_address
from outage_notify.public.words import N_
from outage_notify.timeline import service as timeline
from outage_notify.timeline.notes import clean_words

MAX_TEXT = 500
REPORTS_PER_ADDRESS = 20  # service locations looked at for one address
# Proposed clusters: reports within RADIUS_M metres and WINDOW of each other, MIN_REPORTS of
# them, DBSCAN's way (a report with enough neighbours starts or grows a cluster).
RADIUS_M = 500.0
WINDOW = timedelta(minutes=30)
MIN_REPORTS = 2
EARTH_RADIUS_M = 6_371_000.0


class ReportRefused(ValueError):
    """The report cannot be taken: `message` is a catalog message, `values` its placeholders."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.message = message
        self.values = values


@dataclass(frozen=True)
class ReportForm:
    address: AddressQuery
    text: str | None


def parse_report(address: str, text: str) -> ReportForm:
    """The form's fields checked. Pure."""
    if not address.strip():
        raise ReportRefused(N_("Give the street address where the power is out."))
    try:
        query = parse_address(address)
    except AddressRefused:
        raise ReportRefused(
            N_("Give a street name and a house number, for example Jokikatu 14.")
        ) from None
    cleaned = text.strip()
    if has_control(cleaned.replace("\n", " ").replace("\r", " ")):
        raise ReportRefused(N_("The description holds characters that cannot be kept."))
    if len(cleaned) > MAX_TEXT:
        raise ReportRefused(N_("The description is longer than %(max)s characters."), max=MAX_TEXT)
    return ReportForm(address=query, text=cleaned or None)


def add_report(session: Session, *, form: ReportForm, now: datetime) -> OutageReport:
    """Stores the report at a service location at its address (the customer's, when only one
    is there); ReportRefused when we have no connection there."""
    found = customers_at_address(session, form.address)[:REPORTS_PER_ADDRESS]
    if not found:
        raise ReportRefused(
            N_(
                "We have no electricity connection at %(address)s. Check the street and "
                "number, or call the fault line."
            ),
            address=form.address.prefix,
        )
    place = found[0]
    return record_report(
        session,
        lat=place.lat,
        lon=place.lon,
        customer_pk=place.id if len(found) == 1 else None,
        source="web",
        text=form.text,
        now=now,
    )


def record_report(
    session: Session,
    *,
    lat: float,
    lon: float,
    customer_pk: int | None,
    source: str,
    text: str | None,
    now: datetime,
    by: str | None = None,
) -> OutageReport:
    """One report at a service location; on its customer's timeline when it names one."""
    report = OutageReport(
        at=now, lat=lat, lon=lon, customer_pk=customer_pk, source=source, text=text
    )
    session.add(report)
    session.flush()
    if customer_pk is not None:
        data = {"source": source, "report": report.id} | ({"by": by} if by else {})
        event = timeline.Event(
            customer_pk=customer_pk, at=now, type=timeline.REPORT, body=text, data=data
        )
        timeline.log_event(session, event)
    return report


def report_customers(
    session: Session,
    *,
    customer_pks: Sequence[int],
    source: str,
    text: str | None,
    now: datetime,
    by: str | None = None,
    unless_since: datetime | None = None,
) -> list[OutageReport]:
    """A report at each of these customers' own service locations (an SMS from a number, a
    caller an agent found); with unless_since, not for a customer who has a report from the
    same source since then."""
    query = (
        select(Customer.id, Customer.lat, Customer.lon)
        .where(Customer.id.in_(customer_pks))
        .order_by(Customer.id)
        .limit(REPORTS_PER_ADDRESS)
    )
    if unless_since is not None:
        recent = select(OutageReport.id).where(
            OutageReport.customer_pk == Customer.id,
            OutageReport.source == source,
            OutageReport.at >= unless_since,
        )
        query = query.where(~recent.exists())
    found = session.execute(query).all()
    return [
        record_report(
            session, lat=lat, lon=lon, customer_pk=pk, source=source, text=text, now=now, by=by
        )
        for pk, lat, lon in found
    ]


def take_report(
    session: Session, *, customer_pk: int, text: str, by: str, now: datetime
) -> OutageReport:
    """A caller's report, taken by an agent: at the customer's service location, with what
    they said (optional), on the operators' map and the customer's timeline; ActionRefused
    when the words cannot be kept."""
    words = clean_words(text, limit=MAX_TEXT, code="report", what="the report")
    found = report_customers(
        session, customer_pks=[customer_pk], source="agent", text=words, now=now, by=by
    )
    if not found:
        raise ActionRefused("no such customer", code="no_customer", status=404)
    return found[0]


# ---- proposed clusters (pure) -----------------------------------------------------------------


@dataclass(frozen=True)
class ReportPoint:
    id: int
    at: datetime
    lat: float
    lon: float


@dataclass(frozen=True)
class Proposal:
    reports: tuple[int, ...]  # ids, in the order given
    first: datetime
    last: datetime
    area: dict[str, object]  # GeoJSON Polygon round the reports, RADIUS_M / 2 wide of them


def distance_m(a: ReportPoint, b: ReportPoint) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def propose(
    points: Sequence[ReportPoint],
    *,
    radius_m: float = RADIUS_M,
    window: timedelta = WINDOW,
    min_reports: int = MIN_REPORTS,
) -> list[Proposal]:
    """Clusters of reports close in place and time (DBSCAN over distance and time): each
    report is in at most one; a report alone stays out. Quadratic: meant for the reports of
    the last hours, not of a year."""

    def near(i: int, j: int) -> bool:
        a, b = points[i], points[j]
        return abs(a.at - b.at) <= window and distance_m(a, b) <= radius_m

    neighbours = [
        [j for j in range(len(points)) if j != i and near(i, j)] for i in range(len(points))
    ]
    label: list[int | None] = [None] * len(points)
    clusters: list[list[int]] = []
    for start in range(len(points)):
        if label[start] is not None or len(neighbours[start]) + 1 < min_reports:
            continue
        members, queue = [], [start]
        label[start] = len(clusters)
        while queue:
            i = queue.pop()
            members.append(i)
            if len(neighbours[i]) + 1 < min_reports:
                continue  # a border report: in the cluster, but it does not grow it
            for j in neighbours[i]:
                if label[j] is None:
                    label[j] = len(clusters)
                    queue.append(j)
        clusters.append(sorted(members))
    return [_proposal([points[i] for i in members], radius_m) for members in clusters]


def _proposal(members: list[ReportPoint], radius_m: float) -> Proposal:
    margin_lat = (radius_m / 2) / 111_320.0
    mid_lat = sum(p.lat for p in members) / len(members)
    margin_lon = margin_lat / max(0.01, math.cos(math.radians(mid_lat)))
    south = min(p.lat for p in members) - margin_lat
    north = max(p.lat for p in members) + margin_lat
    west = min(p.lon for p in members) - margin_lon
    east = max(p.lon for p in members) + margin_lon
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return Proposal(
        reports=tuple(p.id for p in members),
        first=min(p.at for p in members),
        last=max(p.at for p in members),
        area={"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]},
    )
