"""create_app(): the API, the pages and, when enabled, the dispatcher and the scheduler in
this process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from outage_notify import __version__, paths
from outage_notify.api import customers, feeds, health, incidents, push, warnings, webhooks
from outage_notify.api import dashboard as dashboard_api
from outage_notify.api import public as public_feed
from outage_notify.api.errors import (
    BodySizeLimit,
    drop_fastapi_validation_error,
    install_error_handlers,
)
from outage_notify.auth.throttle import LoginThrottle
from outage_notify.config import Settings, get_settings
from outage_notify.logs import AccessLog
from outage_notify.runtime import Runtime
from outage_notify.web import agent as agent_desk
from outage_notify.web import console, pages, public_map, signin
from outage_notify.web import dashboard as dashboard_page
from outage_notify.web import incidents as incident_pages
from outage_notify.web.compression import PublicGzip

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else get_settings())
    runtime = runtime or Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.dispatcher_enabled:
            runtime.start_workers()
            log.info("dispatcher %s started", runtime.dispatcher.worker_id)
        if settings.scheduler_enabled:
            runtime.scheduler.start()
        try:
            yield
        finally:
            runtime.close()

    app = FastAPI(
        title="outage_notify",
        version=__version__,
        description="Tells electricity customers about power cuts before they have to call.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(PublicGzip)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    for module in (
        customers,
        incidents,
        feeds,
        warnings,
        push,
        webhooks,
        health,
        pages,
        incident_pages,
        agent_desk,
        console,
    ):
        app.include_router(module.router)
    app.include_router(dashboard_api.router)
    app.include_router(dashboard_page.router)
    signin.install(app)
    # Accepted outage reports per client address, in this process (web/public_map.py).
    app.state.report_throttle = LoginThrottle(
        failures=public_map.REPORTS_PER_IP, window=public_map.REPORT_WINDOW
    )
    for module in (public_feed, public_map):  # no sign-in: the public outage map and its feed
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(paths.STATIC)), name="static")
    _serve_docs_locally(app)
    _document_only_real_errors(app)
    return app


def _document_only_real_errors(app: FastAPI) -> None:
    """/openapi.json without FastAPI's own validation-error body: errors are ErrorBody."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = drop_fastapi_validation_error(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _serve_docs_locally(app: FastAPI) -> None:
    """Swagger UI from our own static files: the docs work on a machine with no internet."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="outage_notify API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        )
