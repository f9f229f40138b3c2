"""The pages' templates (templates/pages/), with what every page may show: who is signed in,
the CSRF token their forms carry back, and the page's language with its catalog (jinja2's i18n
extension: `{% trans %}` and `_()` look `gettext`/`ngettext` up in each page's context, so each
request gets its own language without sharing state between requests)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask
from starlette.templating import _TemplateResponse

from outage_notify import paths
from outage_notify.public.words import Voice
from outage_notify.web import i18n


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


def page_language(request: Request) -> str:
    """The request's language (web.i18n), with the deployment's default behind it."""
    return i18n.request_language(request, request.app.state.runtime.settings.default_language)


def page_translations(request: Request) -> i18n.Translations:
    return i18n.translations(page_language(request))


def page_voice(request: Request) -> Voice:
    """The request's language for words made in Python: its catalog and its locale's formats."""
    return Voice(page_translations(request), i18n.format_locale(page_language(request)))


def _language(request: Request) -> dict[str, Any]:
    """`lang`, the switcher's `languages`, and the catalog's gettext and its kin."""
    lang = page_language(request)
    catalog = i18n.translations(lang)
    return {
        "lang": lang,
        "languages": i18n.NAMES,
        "gettext": catalog.gettext,
        "ngettext": catalog.ngettext,
        "pgettext": catalog.pgettext,
        "npgettext": catalog.npgettext,
    }


class PageTemplates(Jinja2Templates):
    """Jinja2Templates that remember a language picked with `?lang=` in a cookie."""

    def TemplateResponse(  # Starlette's name
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> _TemplateResponse:
        response = super().TemplateResponse(
            request, name, context, status_code, headers, media_type, background
        )
        asked = i18n.asked_language(request)
        if asked:
            # Lax and readable by scripts: it only says which language to show.
            response.set_cookie(
                i18n.COOKIE, asked, max_age=i18n.COOKIE_MAX_AGE, samesite="lax", httponly=False
            )
        return response


templates = PageTemplates(
    directory=str(paths.TEMPLATES / "pages"),
    context_processors=[_signed_in, _language],
)
templates.env.add_extension("jinja2.ext.i18n")
templates.env.policies["ext.i18n.trimmed"] = True  # msgids without the template's line breaks
templates.env.filters["local"] = _local
