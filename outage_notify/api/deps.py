"""Request dependencies: the runtime, and who is calling (API key role or customer link)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.api.errors import ApiError
from outage_notify.auth.apikeys import find_key
from outage_notify.auth.customer_links import LinkClaims, read_token, still_valid
from outage_notify.auth.roles import allows
from outage_notify.db.models import Customer, Incident
from outage_notify.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="An API key, or a customer link token")


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def json_request(request: Request) -> None:
    """Requests that carry a body must carry JSON: an empty body, or one sent as anything but
    application/json (or a +json type), is a 400 that says so rather than a puzzling 422."""
    if request.method not in BODY_METHODS:
        return
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (await request.body()).strip():
        raise ApiError(400, "request body is empty: send a JSON document")
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise ApiError(400, f"Content-Type must be application/json, not {media or 'missing'}")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@dataclass(frozen=True)
class Caller:
    key_id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        """How a revision names who made it."""
        return f"apikey:{self.name}"


def require(*roles: str) -> Callable[..., Caller]:
    """A dependency admitting API keys of these roles; admin may do everything."""

    def dependency(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
        runtime: Runtime = Depends(get_runtime),
    ) -> Caller:
        token = _token(credentials)
        with runtime.reading() as session:
            key = find_key(session, key=token)
            caller = Caller(key.id, key.name, key.role) if key else None
        if caller is None:
            raise ApiError(401, "unknown or revoked API key")
        if not allows(caller.role, roles):
            raise ApiError(403, f"role {caller.role} may not do this (needs {' or '.join(roles)})")
        return caller

    return dependency


as_admin = require("admin")
as_agent = require("agent")
as_operator = require("operator")
as_reader = require("agent", "operator")


def customer_link(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    runtime: Runtime = Depends(get_runtime),
) -> str:
    """The customer_id named by a signed customer link (Bearer token, or ?token=) that has
    neither expired nor been revoked."""
    token = request.query_params.get("token") or _token(credentials)
    claims = read_token(runtime.link_key, token)
    if claims is None:
        raise ApiError(401, "unknown customer link")
    with runtime.reading() as session:
        problem = _link_problem(session, claims, runtime)
    if problem is not None:
        raise ApiError(401, problem)
    return claims.customer_id


def _link_problem(session: Session, claims: LinkClaims, runtime: Runtime) -> str | None:
    customer = session.execute(
        select(Customer.links_revoked_at, Customer.created_at).where(
            Customer.customer_id == claims.customer_id
        )
    ).one_or_none()
    if customer is None:
        return "this link's customer no longer exists"
    closed_at = None
    if claims.incident_id is not None:
        incident = session.get(Incident, claims.incident_id)
        if incident is None:
            return "unknown customer link"
        closed_at = incident.closed_at
    return still_valid(
        claims,
        revoked_at=customer.links_revoked_at,
        customer_since=customer.created_at,
        incident_closed_at=closed_at,
        lifetime=timedelta(days=runtime.settings.customer_link_days),
        now=runtime.clock.now(),
    )


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "missing Authorization: Bearer <api key>")
    return credentials.credentials
