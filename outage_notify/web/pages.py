"""Server-rendered pages: the landing page and the development inbox (the agent desk is
web/agent.py). Signing in is web/signin.py: a page that needs a user depends on
`require_user(role…)`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outage_notify.api.deps import get_runtime
from outage_notify.api.errors import ApiError
from outage_notify.auth.sessions import SignedIn
from outage_notify.customers import service as customers
from outage_notify.db.models import Customer, Incident, Notification
from outage_notify.delivery.channels.dev_sink import PROVIDER as DEV_SINK
from outage_notify.incidents.model import ACTIVE_STATUSES
from outage_notify.runtime import Runtime
from outage_notify.web.signin import admit, current_user
from outage_notify.web.templating import templates

router = APIRouter(include_in_schema=False)
CHANNELS = ("sms", "email", "push", "in_app")
PAGE_SIZE = 25


@router.get("/", response_class=HTMLResponse)
def landing(
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn | None = Depends(current_user),
) -> Response:
    """Public; the counts (how many customers, how many messages) only for signed-in staff."""
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "counts": _counts(runtime) if user is not None else None,
            "dev_sink": runtime.dev_sink_channels,
            "zone": runtime.settings.zone,
        },
    )


def _counts(runtime: Runtime) -> dict[str, int]:
    with runtime.reading() as session:
        return {
            "customers": session.scalar(select(func.count()).select_from(Customer)) or 0,
            "active_incidents": session.scalar(
                select(func.count())
                .select_from(Incident)
                .where(Incident.status.in_(sorted(ACTIVE_STATUSES)))
            )
            or 0,
            "messages": session.scalar(select(func.count()).select_from(Notification)) or 0,
        }


# ---- development inbox -----------------------------------------------------------------------


@router.get("/dev/inbox", response_class=HTMLResponse)
def dev_inbox(
    request: Request,
    q: str | None = Query(None),
    channel: str | None = Query(None),
    page: int = Query(1, ge=1, le=100_000),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn | None = Depends(current_user),
) -> Response:
    if not runtime.dev_sink_channels:
        raise ApiError(404, "every channel has a real provider: there is no development inbox")
    if runtime.has_real_provider:
        # Some real provider is configured: this is not a developer's laptop, and the inbox
        # shows customers' messages and addresses. Agents only.
        admit(request, user, ("agent",))
    channel = channel if channel in CHANNELS else None
    with runtime.reading() as session:
        groups, total = _inbox_groups(session, q=q, channel=channel, page=page)
    return templates.TemplateResponse(
        request,
        "inbox.html",
        {
            "groups": groups,
            "total": total,
            "q": q or "",
            "channel": channel or "",
            "channels": CHANNELS,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "dev_sink": runtime.dev_sink_channels,
            "zone": runtime.settings.zone,
        },
    )


def _inbox_filter(q: str | None, channel: str | None) -> list[Any]:
    conditions: list[Any] = [Notification.provider.in_([DEV_SINK, "in_app"])]
    if channel:
        conditions.append(Notification.channel == channel)
    if q and q.strip():
        conditions.append(customers.text_matches(q))
    return conditions


def _inbox_groups(
    session: Session, *, q: str | None, channel: str | None, page: int
) -> tuple[list[dict[str, Any]], int]:
    """Customers who received something, most recent first; each with their messages."""
    conditions = _inbox_filter(q, channel)
    latest = func.max(Notification.id).label("latest")
    base = (
        select(Customer.id, latest)
        .join(Notification, Notification.customer_pk == Customer.id)
        .where(*conditions)
        .group_by(Customer.id)
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    page_rows = session.execute(
        base.order_by(latest.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    pks = [row.id for row in page_rows]
    if not pks:
        return [], total
    people = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(pks)))}
    messages = session.scalars(
        select(Notification)
        .join(Customer, Customer.id == Notification.customer_pk)
        .where(Notification.customer_pk.in_(pks), *conditions)
        .order_by(Notification.created_at, Notification.id)
    ).all()
    by_customer: dict[int, list[Notification]] = {pk: [] for pk in pks}
    for message in messages:
        by_customer[message.customer_pk].append(message)
    return [{"customer": people[pk], "messages": by_customer[pk]} for pk in pks], total
