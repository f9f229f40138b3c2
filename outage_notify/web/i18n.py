"""The pages' language: which one a request gets, and its message catalog.

Chosen in this order: `?lang=fi|sv|en` (remembered in a `lang` cookie), the cookie, the
browser's Accept-Language, the deployment's DEFAULT_LANGUAGE. The catalogs are
outage_notify/web/locale/<lang>/LC_MESSAGES/messages.po, read once at first use with Babel:
the .po files are the only artefact, so there is no compile step to forget in the Makefile or
the image (a test compiles them, so a broken one still fails the build)."""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.core import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

from outage_notify.config import LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
# The page's own name for each language, as the switcher shows it (in that language).
NAMES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
# Babel locales for dates and numbers: English as written in Finland (24-hour clock, day
# before month), not the US default of bare "en".
FORMAT_LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The language's catalog, compiled in memory from its .po file."""
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def format_locale(language: str) -> Locale:
    return Locale.parse(FORMAT_LOCALES.get(language, language))


def asked_language(request: Request) -> str | None:
    """A `?lang=` the page was asked for, if it is one of ours."""
    asked = request.query_params.get("lang")
    return asked if asked in LANGUAGES else None


def request_language(request: Request, default: str) -> str:
    """The request's language: the parameter, the cookie, the browser's wish, the default."""
    cached = getattr(request.state, "language", None)
    if cached:
        return str(cached)
    chosen = (
        asked_language(request)
        or _known(request.cookies.get(COOKIE))
        or _accepted(request.headers.get("accept-language", ""))
        or default
    )
    request.state.language = chosen
    return chosen


def _known(value: str | None) -> str | None:
    return value if value in LANGUAGES else None


def _accepted(header: str) -> str | None:
    """The first of the browser's languages we have ("sv-FI,sv;q=0.9,en;q=0.8" → sv)."""
    wished: list[tuple[float, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            wished.append((-quality + position * 1e-6, tag.replace("-", "_")))
    preferred = [tag for _, tag in sorted(wished)]
    found = negotiate_locale(preferred, list(LANGUAGES), sep="_")
    return _known(found.split("_")[0] if found else None)
