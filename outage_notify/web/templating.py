"""The pages' templates (templates/pages/), with what every page may show: who is signed in
and the CSRF token their forms carry back."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates

from outage_notify import paths


def _local(value: datetime | str | None, zone: ZoneInfo) -> str:
    """A time as the people reading the page read clocks: in the deployment's zone."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _signed_in(request: Request) -> dict[str, Any]:
    """`user` (auth.sessions.SignedIn or None) and `csrf_token` for every template: a form
    that posts writes <input type="hidden" name="csrf_token" value="{{ csrf_token }}">."""
    user = getattr(request.state, "user", None)
    return {"user": user, "csrf_token": user.csrf_token if user else ""}


templates = Jinja2Templates(
    directory=str(paths.TEMPLATES / "pages"), context_processors=[_signed_in]
)
templates.env.filters["local"] = _local
