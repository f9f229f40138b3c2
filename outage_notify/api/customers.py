"""/api/v1/customers: upsert (admin), look up, search, timeline (agent); an agent's actions on a
customer (agent): a note on the timeline, a message sent again on another channel, preferences
changed with the reason. The actions are the agent desk's (web/agent.py), as JSON."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.api.deps import Caller, as_admin, as_agent, get_runtime, json_request
from outage_notify.api.errors import ApiError, error_responses
from outage_notify.api.schemas import (
    CustomerDetailOut,
    CustomerLinkOut,
    CustomerSearchOut,
    CustomerUpsertOut,
    LinksRevokedOut,
    NoteIn,
    NoteOut,
    PreferencesIn,
    PreferencesOut,
    ReportIn,
    ReportOut,
    ResendIn,
    ResendOut,
    TimelineOut,
)
from outage_notify.auth.customer_links import make_token
from outage_notify.customers import service as customers
from outage_notify.customers.imports import customer_rules, import_customers
from outage_notify.customers.optouts import opted_out_channels
from outage_notify.customers.preferences import change_preferences, effective_channels
from outage_notify.db.models import Customer, Incident, PushSubscription
from outage_notify.errors import ActionRefused
from outage_notify.incidents.service import IncidentNotFound, get_incident
from outage_notify.incidents.views import incident_dict, notification_counts
from outage_notify.ingest.customers import (
    FileFormatError,
    ParsedCustomers,
    normalise_phone,
    parse_json_list,
)
from outage_notify.ingest.records import RecordError
from outage_notify.planning.resend import resend_on_channel
from outage_notify.public.reports import take_report
from outage_notify.runtime import Runtime
from outage_notify.timeline.notes import add_note
from outage_notify.timeline.views import customer_timeline
from outage_notify.timeutil import iso

router = APIRouter(prefix="/api/v1", tags=["customers"], dependencies=[Depends(json_request)])

EXAMPLE = [
    {
        "customer_id": "C-1001",
        "name": "Maija Virtanen",
        "address": "Mannerheimintie 12 B 7, Helsinki",
        "phone": "040 123 4567",
        "email": "maija@example.com",
        "language": "fi",
        "lat": 60.1699,
        "lon": 24.9384,
        "channels": "sms;email",
        "feeder": "F-102",
        "transformer": "T-5531",
        "quiet_hours": "22:00-07:00",
    }
]


@router.post(
    "/customers",
    summary="Upsert customers (a JSON list; fields as the CSV)",
    response_model=CustomerUpsertOut,
    response_model_exclude_unset=True,  # a rejection names its customer_id only when it has one
    responses=error_responses(400, 401, 403, 409, 413, 422),
)
def upsert_customers(
    body: Any = Body(..., examples=[EXAMPLE]),
    _: Caller = Depends(as_admin),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    parsed = _parse(body, runtime)
    with runtime.transaction() as session:
        derived_from = None if runtime.settings.territory else runtime.customer_index
        report = import_customers(
            session, parsed=parsed, territory_from=derived_from, now=runtime.clock.now()
        )
    return {
        "created": report.created,
        "updated": report.updated,
        "rejected": [r.as_dict() for r in report.rejections],
        "warnings": [w.as_dict() for w in report.warnings],
    }


def _parse(body: Any, runtime: Runtime) -> ParsedCustomers:
    rules = customer_rules(runtime.settings)
    items = body.get("customers") if isinstance(body, dict) else body
    try:
        return parse_json_list(items, rules)
    except FileFormatError as exc:
        raise ApiError(422, str(exc)) from exc


@router.get(
    "/customers",
    summary="Search by phone, or by customer id, name or address",
    response_model=CustomerSearchOut,
    responses=error_responses(401, 403, 422),
)
def search_customers(
    phone: str | None = Query(
        None, max_length=40, description="Any format; read in DEFAULT_REGION"
    ),
    q: str | None = Query(
        None, max_length=200, description="Customer id, or part of a name or address"
    ),
    limit: int = Query(50, ge=1, le=500),
    _: Caller = Depends(as_agent),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    if not (phone and phone.strip()) and not (q and q.strip()):
        raise ApiError(422, "give phone or q")
    e164 = None
    if phone and phone.strip():
        try:
            e164 = normalise_phone(phone, runtime.settings.default_region)
        except RecordError as exc:
            raise ApiError(422, str(exc)) from exc
    with runtime.reading() as session:
        found = customers.search_customers(session, phone=e164, q=q, limit=limit)
        return {"customers": [customers.customer_dict(c) for c in found]}


@router.get(
    "/customers/{customer_id}",
    summary="A customer, preferences, current incidents",
    response_model=CustomerDetailOut,
    responses=error_responses(401, 403, 404),
)
def get_customer(
    customer_id: str,
    _: Caller = Depends(as_agent),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    with runtime.reading() as session:
        customer = _customer(session, customer_id)
        return {
            **customers.customer_dict(customer),
            "push_subscriptions": _push_count(session, customer.id),
            "opted_out": opted_out_channels(session, hasher=runtime.hasher, customer=customer),
            "current_incidents": _with_counts(
                session,
                customers.current_incidents(session, customer_pk=customer.id),
                now=runtime.clock.now(),
            ),
        }


@router.get(
    "/customers/{customer_id}/timeline",
    summary="Every incident and message, oldest first",
    response_model=TimelineOut,
    response_model_exclude_unset=True,  # an event shows only the fields that apply to it
    responses=error_responses(401, 403, 404),
)
def get_timeline(
    customer_id: str,
    _: Caller = Depends(as_agent),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    with runtime.reading() as session:
        customer = _customer(session, customer_id)
        return {
            "customer_id": customer.customer_id,
            "events": customer_timeline(
                session, customer_pk=customer.id, zone=runtime.settings.zone
            ),
        }


@router.get(
    "/customers/{customer_id}/link",
    summary="The customer's signed link (in-app feed, push)",
    response_model=CustomerLinkOut,
    responses=error_responses(401, 403, 404, 422),
)
def get_link(
    customer_id: str,
    incident_id: str | None = Query(
        None,
        max_length=40,
        description="the incident the link is about: it then lives while "
        "the incident is open and CUSTOMER_LINK_DAYS after it closes",
    ),
    _: Caller = Depends(as_agent),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    now = runtime.clock.now()
    lifetime = timedelta(days=runtime.settings.customer_link_days)
    expires_at: datetime | None = now + lifetime
    with runtime.reading() as session:
        customer = _customer(session, customer_id)
        if incident_id is not None:
            try:
                incident = get_incident(session, incident_id=incident_id)
            except IncidentNotFound as exc:
                raise ApiError(404, f"no incident {incident_id!r}") from exc
            expires_at = incident.closed_at + lifetime if incident.closed_at else None
    token = make_token(
        runtime.link_key, customer.customer_id, issued_at=now, incident_id=incident_id
    )
    base = runtime.settings.public_url.rstrip("/")
    return {
        "token": token,
        "feed_url": f"{base}/api/v1/feed?token={token}",
        "incident_id": incident_id,
        "expires_at": iso(expires_at),
        "lifetime_days": runtime.settings.customer_link_days,
    }


@router.delete(
    "/customers/{customer_id}/link",
    summary="Revoke every link made so far for this customer",
    response_model=LinksRevokedOut,
    responses=error_responses(401, 403, 404),
)
def revoke_links(
    customer_id: str,
    _: Caller = Depends(as_agent),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    now = runtime.clock.now()
    with runtime.transaction() as session:
        customer = _customer(session, customer_id)
        customer.links_revoked_at = now
    return {"customer_id": customer_id, "revoked_at": iso(now)}


# ---- an agent's actions: note, resend on another channel, preferences ---------------------------


@router.post(
    "/customers/{customer_id}/notes",
    summary="Add a note to the customer's timeline",
    status_code=201,
    response_model=NoteOut,
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
def post_note(
    customer_id: str,
    body: NoteIn,
    caller: Caller = Depends(as_agent),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    now = runtime.clock.now()
    with refused_as_api_error(), runtime.transaction() as session:
        customer = _customer(session, customer_id)
        event = add_note(session, customer_pk=customer.id, text=body.text, by=caller.actor, now=now)
    return {"customer_id": customer_id, "at": iso(now), "by": caller.actor, "text": event.body}


@router.post(
    "/customers/{customer_id}/reports",
    summary="Report an outage at the customer's service location (a caller's report)",
    status_code=201,
    response_model=ReportOut,
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
def post_report(
    customer_id: str,
    body: ReportIn,
    caller: Caller = Depends(as_agent),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    """The report is shown on the operator console's map, where reports close in place and
    time are proposed as an incident's area, and on the customer's timeline."""
    now = runtime.clock.now()
    with refused_as_api_error(), runtime.transaction() as session:
        customer = _customer(session, customer_id)
        report = take_report(
            session, customer_pk=customer.id, text=body.text, by=caller.actor, now=now
        )
        found = {"id": report.id, "text": report.text}
    return {"customer_id": customer_id, "at": iso(now), "by": caller.actor, **found}


@router.post(
    "/customers/{customer_id}/resend",
    summary="Send one of the customer's messages again on another channel",
    status_code=201,
    response_model=ResendOut,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
def post_resend(
    customer_id: str,
    body: ResendIn,
    caller: Caller = Depends(as_agent),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    with refused_as_api_error(), runtime.transaction() as session:
        customer = _customer(session, customer_id)
        resent = resend_on_channel(
            session,
            customer=customer,
            notification_id=body.notification_id,
            channel=body.channel,
            by=caller.actor,
            renderer=runtime.renderer,
            hasher=runtime.hasher,
            now=runtime.clock.now(),
        )
    runtime.dispatcher.wake()
    return {
        "customer_id": customer_id,
        "notification_id": resent.notification_id,
        "of": body.notification_id,
        "channel": resent.channel,
        "to": resent.to_address,
    }


@router.post(
    "/customers/{customer_id}/preferences",
    summary="Change the customer's channels, quiet hours or language, with the reason",
    response_model=PreferencesOut,
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
def post_preferences(
    customer_id: str,
    body: PreferencesIn,
    caller: Caller = Depends(as_agent),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    with refused_as_api_error(), runtime.transaction() as session:
        customer = _customer(session, customer_id)
        has_push = _push_count(session, customer.id) > 0
        current = customer.channels or effective_channels(customer, has_push=has_push)
        changes = change_preferences(
            session,
            customer=customer,
            channels=body.channels if body.channels is not None else current.split(";"),
            quiet_hours=(
                body.quiet_hours if body.quiet_hours is not None else customer.quiet_hours or ""
            ),
            language=body.language if body.language is not None else customer.language,
            reason=body.reason,
            by=caller.actor,
            has_push=has_push,
            now=runtime.clock.now(),
        )
    return {"customer_id": customer_id, "changes": changes}


@contextmanager
def refused_as_api_error() -> Iterator[None]:
    """An agent's action refused (errors.ActionRefused): the contract's JSON error, its 4xx."""
    try:
        yield
    except ActionRefused as refused:
        raise ApiError(refused.status, refused.message) from refused


def _with_counts(
    session: Session, incidents: list[Incident], *, now: datetime
) -> list[dict[str, Any]]:
    counts = notification_counts(session, [i.id for i in incidents])
    return [incident_dict(i, counts.get(i.id), now=now) for i in incidents]


def _customer(session: Session, customer_id: str) -> Customer:
    customer = customers.get_customer(session, customer_id=customer_id)
    if customer is None:
        raise ApiError(404, f"no customer {customer_id!r}")
    return customer


def _push_count(session: Session, customer_pk: int) -> int:
    return len(
        session.scalars(
            select(PushSubscription.id).where(PushSubscription.customer_pk == customer_pk)
        ).all()
    )
