"""Request dependencies: the runtime, and who is calling (API key role or customer link)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from outage_notify.api.errors import ApiError
from outage_notify.auth.apikeys import find_key
from outage_notify.auth.customer_links import read_token
from outage_notify.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="An API key, or a customer link token")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@dataclass(frozen=True)
class Caller:
    key_id: int
    name: str
    role: str


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
        if caller.role != "admin" and caller.role not in roles:
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
    """The customer_id named by a signed customer link (Bearer token, or ?token=)."""
    token = request.query_params.get("token") or _token(credentials)
    customer_id = read_token(runtime.link_secret(), token)
    if customer_id is None:
        raise ApiError(401, "unknown customer link")
    return customer_id


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "missing Authorization: Bearer <api key>")
    return credentials.credentials
