"""Shared fixtures. The schema is built by running the Alembic migrations, once per session
into a template that every test copies: each test gets its own fresh database, on the back end
chosen with --backend (or OUTAGE_NOTIFY_TEST_BACKEND): sqlite (default) or postgresql, a
throwaway PostgreSQL 15 + PostGIS cluster started by the session."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.config import Settings
from outage_notify.delivery.channels.webpush import generate_vapid_keys
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.backends import BACKENDS, Backend, Databases, open_backend
from tests.standins.net import free_port, wait_http
from tests.standins.push import PushService
from tests.standins.smtp import SmtpSink
from tests.standins.twilio import TwilioStandIn

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "test-auth-token-0123456789"
TWILIO_FROM = "+358401234567"
TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef"


BACKEND_VARIABLE = "OUTAGE_NOTIFY_TEST_BACKEND"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get(BACKEND_VARIABLE) or "sqlite",
        help=f"database the suite runs on (default sqlite, or ${BACKEND_VARIABLE})",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"database back end: {config.getoption('backend')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """sqlite_only / postgresql_only(reason=...): skipped on the other back end."""
    backend = config.getoption("backend")
    for item in items:
        for name in BACKENDS:
            marker = item.get_closest_marker(f"{name}_only")
            if marker is not None and name != backend:
                reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
                item.add_marker(pytest.mark.skip(reason=f"{name} only: {reason}".rstrip(": ")))


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Started on first use: a session of tests that need no database starts no cluster."""
    chosen = open_backend(str(request.config.getoption("backend")))
    try:
        yield chosen
    finally:
        chosen.close()


@pytest.fixture
def databases(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Databases]:
    if backend.name != "sqlite":
        # SQLite keeps a generated secret key beside its database file; elsewhere it would go to
        # the working directory: keep it in the test's folder, where SQLite's would be.
        monkeypatch.setenv("OUTAGE_NOTIFY_SECRET_KEY_FILE", str(tmp_path / "outage_notify.key"))
    made = Databases(backend, tmp_path)
    yield made
    made.drop_all()


@pytest.fixture
def database_url(databases: Databases) -> str:
    """A fresh database at head, this test's own."""
    return databases.new()


@pytest.fixture
def empty_database_url(databases: Databases) -> str:
    """A fresh database with nothing in it, for tests of migrating."""
    return databases.empty()


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "dispatcher_enabled": False,
            "scheduler_enabled": False,  # tests that want the clock start it themselves
            "public_url": "http://testserver",
            "retry_base_seconds": 30,
            "secret_key": TEST_SECRET,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.build(settings)
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def keys(runtime: Runtime) -> dict[str, dict[str, str]]:
    """Authorization headers per role."""
    headers = {}
    with runtime.transaction() as session:
        for role in ("admin", "operator", "agent"):
            _, key = create_key(session, role=role, name=f"test-{role}", now=utcnow())
            headers[role] = {"Authorization": f"Bearer {key}"}
    return headers


# ---- providers ---------------------------------------------------------------------------------


@pytest.fixture
def twilio() -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn(TWILIO_SID, TWILIO_TOKEN).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def vapid_keys() -> tuple[str, str]:
    return generate_vapid_keys()


@pytest.fixture
def push_service(vapid_keys: tuple[str, str]) -> Iterator[PushService]:
    service = PushService(vapid_public_key=vapid_keys[1]).start()
    yield service
    service.stop()


@pytest.fixture
def provider_settings(
    twilio: TwilioStandIn, smtp: SmtpSink, vapid_keys: tuple[str, str]
) -> dict[str, Any]:
    """Settings that point every channel at its local stand-in."""
    return {
        "twilio_account_sid": TWILIO_SID,
        "twilio_auth_token": TWILIO_TOKEN,
        "twilio_from": TWILIO_FROM,
        "twilio_base_url": twilio.base_url,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_from": "outages@utility.example",
        "vapid_private_key": vapid_keys[0],
        "vapid_subject": "mailto:ops@utility.example",
    }


class LiveServer:
    """The app served by uvicorn on a real port, for callers that are not test clients
    (the Twilio stand-in's receipts, the browser)."""

    def __init__(self, runtime: Runtime, port: int) -> None:
        self.app = create_app(runtime=runtime)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        wait_http(self.url + "/healthz")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_port() -> int:
    return free_port()


@pytest.fixture
def live_server(runtime: Runtime, live_port: int) -> Iterator[LiveServer]:
    """Serves `runtime`; its settings must have public_url http://127.0.0.1:{live_port}."""
    server = LiveServer(runtime, live_port).start()
    yield server
    server.stop()
