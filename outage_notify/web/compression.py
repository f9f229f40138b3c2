"""Gzip for the public, bulky answers only: the outage map page, the open outage feed, the
pages' areas as GeoJSON and the static files. With 500 incidents the map page is 400 kB and
the feed 500 kB of text, a few seconds on a phone's slow connection, a tenth of that gzipped.

Never a page with a session's secret in it: a compressed answer that holds a secret (a
signed-in user's CSRF token) beside text an attacker can put into it (a search) leaks the
secret through its length (BREACH). So the signed-in pages are never compressed, nor the map
when it is asked for with a session cookie (its header then carries the sign-out form's
token). The map's report form token guards only a public form, and says nothing of anyone.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from outage_notify.web.signin import SESSION_COOKIE

# Data that holds no secret, whoever asks; and public pages, compressed for visitors only.
DATA_PREFIXES = ("/api/v1/public/", "/static/")
DATA_SUFFIXES = (".geojson",)
PUBLIC_PAGES = ("/map", "/map/report")
SESSION_MARK = f"{SESSION_COOKIE}=".encode()
MINIMUM_BYTES = 1024


def compressed(path: str, *, signed_in: bool = False) -> bool:
    if path.startswith(DATA_PREFIXES) or path.endswith(DATA_SUFFIXES):
        return True
    return path in PUBLIC_PAGES and not signed_in


def _signed_in(scope: Scope) -> bool:
    return any(
        name == b"cookie" and SESSION_MARK in value for name, value in scope.get("headers", ())
    )


class PublicGzip:
    """ASGI middleware: GZipMiddleware for the paths `compressed` names, nothing elsewhere."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and compressed(
            scope.get("path", ""), signed_in=_signed_in(scope)
        ):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
