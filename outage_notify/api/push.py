"""What a customer's app calls with its signed link: register for Web Push, read the feed."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from outage_notify.api.deps import customer_link, get_runtime, json_request
from outage_notify.api.errors import ApiError, error_responses
from outage_notify.api.schemas import FeedOut, PushSubscriptionOut
from outage_notify.customers import service as customers
from outage_notify.db.models import Notification
from outage_notify.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["customer app"], dependencies=[Depends(json_request)])
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
# The feed URL a customer is given carries the link in the query (deps.customer_link reads it).
LINK_IN_QUERY = {
    "name": "token",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
    "description": "The customer link, when not sent as Authorization: Bearer",
}


class PushKeys(BaseModel):
    p256dh: str = Field(..., max_length=200)
    auth: str = Field(..., max_length=64)


class PushSubscriptionBody(BaseModel):
    """The browser's PushSubscription.toJSON()."""

    endpoint: str = Field(..., max_length=2000)
    keys: PushKeys


@router.post(
    "/push/subscriptions",
    status_code=201,
    summary="Store a Web Push subscription",
    response_model=PushSubscriptionOut,
    responses=error_responses(400, 401, 404, 413, 422),
)
def add_subscription(
    body: PushSubscriptionBody,
    customer_id: str = Depends(customer_link),
    runtime: Runtime = Depends(get_runtime),
) -> JSONResponse:
    _check_endpoint(body.endpoint)
    _check_key(body.keys.p256dh, "p256dh", 65)
    _check_key(body.keys.auth, "auth", 16)
    with runtime.transaction() as session:
        customer = customers.get_customer(session, customer_id=customer_id)
        if customer is None:
            raise ApiError(404, "this link's customer no longer exists")
        sub = customers.add_push_subscription(
            session,
            customer=customer,
            endpoint=body.endpoint,
            p256dh=body.keys.p256dh,
            auth=body.keys.auth,
            now=runtime.clock.now(),
        )
        return JSONResponse({"id": sub.id, "customer_id": customer_id}, status_code=201)


@router.get(
    "/feed",
    summary="The customer's in-app messages, newest first",
    response_model=FeedOut,
    responses=error_responses(401, 404, 422),
    openapi_extra={"parameters": [LINK_IN_QUERY]},
)
def feed(
    limit: int = Query(50, ge=1, le=200),
    customer_id: str = Depends(customer_link),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    with runtime.reading() as session:
        customer = customers.get_customer(session, customer_id=customer_id)
        if customer is None:
            raise ApiError(404, "this link's customer no longer exists")
        rows = session.scalars(
            select(Notification)
            .where(Notification.customer_pk == customer.id, Notification.channel == "in_app")
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
        return {
            "customer_id": customer_id,
            "messages": [
                {
                    "id": n.id,
                    "at": n.created_at.isoformat(),
                    "incident_id": n.incident_id,
                    "kind": n.kind,
                    "title": n.subject,
                    "body": n.body,
                }
                for n in rows
            ],
        }


def _check_endpoint(endpoint: str) -> None:
    refused = ApiError(422, "endpoint must be an https URL of a push service")
    try:
        url = urlparse(endpoint)
        url.port  # noqa: B018 - reading it checks it: a port out of range raises
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise refused from exc
    secure = url.scheme == "https" or (url.scheme == "http" and url.hostname in LOCAL_HOSTS)
    if not secure or not url.hostname:
        raise refused


def _check_key(value: str, name: str, size: int) -> None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, f"keys.{name} is not base64url") from exc
    if len(raw) != size:
        raise ApiError(422, f"keys.{name} must decode to {size} bytes")
