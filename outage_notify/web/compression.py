"""Gzip for the public, bulky answers only: the outage map page, the open outage feed, the
pages' areas as GeoJSON and the static files. With 500 incidents the map page is 400 kB and
the feed 500 kB of text, a few seconds on a phone's slow connection, a tenth of that gzipped.

Not for signed-in pages: a compressed answer that holds a secret (a session's CSRF token)
beside text an attacker can put into it (a search) leaks the secret through its length
(BREACH). The map's report form token guards only a public form, and says nothing of anyone.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

COMPRESSED_PREFIXES = ("/map", "/api/v1/public/", "/static/", "/console/customers.geojson")
COMPRESSED_SUFFIXES = ("/area.geojson",)
MINIMUM_BYTES = 1024


def compressed(path: str) -> bool:
    return path.startswith(COMPRESSED_PREFIXES) or path.endswith(COMPRESSED_SUFFIXES)


class PublicGzip:
    """ASGI middleware: GZipMiddleware for the paths `compressed` names, nothing elsewhere."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_BYTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and compressed(scope.get("path", "")):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
