"""Logging: what the service writes about its own work, and nothing personal.

Request lines name the route (`/api/v1/customers/{customer_id}`), not the customer; query
values are kept only for parameters that cannot hold personal data (paging, filters), so a
search by phone or a customer link's token never reaches a log file. SQL errors never carry
their bound parameters (engines are made with hide_parameters=True).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote_plus

if TYPE_CHECKING:  # the CLI configures logging without loading the web stack
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

access = logging.getLogger("outage_notify.access")

# Query parameters whose values are never personal; every other value is logged as "…".
SAFE_QUERY = frozenset({"limit", "offset", "page", "status", "channel", "n", "incident_id"})
HIDDEN = "…"
# APScheduler logs every tick at INFO: the lease is kept every few seconds.
QUIET = {
    "alembic": logging.WARNING,
    "twilio.http_client": logging.WARNING,
    "apscheduler": logging.WARNING,
}


def configure(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)


def redacted_query(query_string: str) -> str:
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return "&".join(
        f"{quote_plus(k)}={quote_plus(v) if k in SAFE_QUERY else HIDDEN}" for k, v in pairs
    )


def redacted_target(scope: Scope) -> str:
    """The request target as a log may show it: the route's template when a route matched;
    otherwise only the first segment of the path, since the rest may be anything typed."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str) and template:
        path = template if "{" in template or template == scope.get("path") else template + "/…"
    else:
        first = str(scope.get("path", "/")).lstrip("/").split("/", 1)[0]
        path = f"/{first}/…" if first else "/"
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{redacted_query(query)}" if query else path


class AccessLog:
    """One line per HTTP request: method, redacted target, status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            millis = (time.perf_counter() - started) * 1000
            access.info(
                '"%s %s" %d %.1f ms', scope["method"], redacted_target(scope), status, millis
            )
