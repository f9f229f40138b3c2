"""Privacy of the logs, tried on a real `outage-notify serve`: an agent searches by phone and
by email and a customer opens their link; nothing personal reaches the log output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DataError, IntegrityError

from outage_notify.db.models import Customer
from outage_notify.runtime import Runtime
from tests.conftest import TEST_SECRET
from tests.standins.net import free_port, wait_http
from tests.test_cli import run
from tests.web.signing import form_token

PHONE_E164, PHONE_NATIONAL, EMAIL = "+358401234567", "040 123 4567", "maija.virtanen@example.com"
PASSWORD = "the desk's password"


def test_searches_and_customer_links_leave_no_personal_value_in_the_logs(
    database_url: str, tmp_path: Path
) -> None:
    env = {"OUTAGE_NOTIFY_SECRET_KEY": TEST_SECRET}
    admin = run(database_url, "apikey", "create", "--role", "admin", "--name", "a", extra_env=env)
    key = admin.stdout.strip()
    desk = run(
        database_url,
        *("user", "create", "desk", "--role", "agent", "--password-stdin"),
        stdin=PASSWORD + "\n",
        extra_env=env,
    )
    assert desk.returncode == 0, desk.stderr
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "outage_notify", "serve", "--port", str(port)],
            env={
                **os.environ,
                "OUTAGE_NOTIFY_DATABASE_URL": database_url,
                "OUTAGE_NOTIFY_SECRET_KEY": TEST_SECRET,
                "OUTAGE_NOTIFY_PUBLIC_URL": f"http://127.0.0.1:{port}",
            },
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/healthz", timeout=60)
            token = _use_the_service(base, {"Authorization": f"Bearer {key}"})
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    output = log_path.read_text(errors="replace")
    assert "GET /api/v1/customers?phone=" in output  # the requests were logged...
    assert "/api/v1/feed?token=" in output
    for secret in _forms_of(PHONE_E164, PHONE_NATIONAL, EMAIL, token, "Maija Virtanen", PASSWORD):
        assert secret not in output, f"{secret!r} leaked into the log"


def _use_the_service(base: str, admin: dict[str, str]) -> str:
    person = {
        "customer_id": "LOG-1",
        "name": "Maija Virtanen",
        "phone": PHONE_NATIONAL,
        "email": EMAIL,
        "lat": 60.17,
        "lon": 24.94,
    }
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.post("/api/v1/customers", json=[person], headers=admin).status_code == 200
        for phone in (PHONE_E164, PHONE_NATIONAL):
            found = http.get("/api/v1/customers", params={"phone": phone}, headers=admin)
            assert [c["customer_id"] for c in found.json()["customers"]] == ["LOG-1"]
        for q in (EMAIL, "Maija Virtanen"):
            assert http.get("/api/v1/customers", params={"q": q}, headers=admin).status_code == 200
        assert http.get(f"/api/v1/customers/{PHONE_E164}", headers=admin).status_code == 404
        assert http.get(f"/no/such/page/{PHONE_NATIONAL}/{EMAIL}").status_code == 404
        token = http.get("/api/v1/customers/LOG-1/link", headers=admin).json()["token"]
        assert http.get("/api/v1/feed", params={"token": token}).status_code == 200
        assert http.get("/api/v1/feed", params={"token": token + "x"}).status_code == 401
        signed_out = http.get("/agent", params={"q": PHONE_NATIONAL})
        assert signed_out.status_code == 303  # to /login?next=…, the search in it
        form = http.get(signed_out.headers["location"])
        assert (
            http.post(
                "/login",
                data={
                    "username": "desk",
                    "password": PASSWORD,
                    "csrf_token": form_token(form),
                    "next": f"/agent?q={urllib.parse.quote(PHONE_NATIONAL)}",
                },
            ).status_code
            == 303
        )
        assert http.get("/agent", params={"q": PHONE_NATIONAL}).status_code == 200
        assert http.get("/dev/inbox", params={"q": EMAIL}).status_code == 200
    return str(token)


def _forms_of(*values: str) -> set[str]:
    """Each value as it may appear: raw, URL-encoded either way, digits only."""
    forms: set[str] = set()
    for value in values:
        forms |= {value, urllib.parse.quote(value), urllib.parse.quote_plus(value)}
        forms |= {urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value, safe="")}
    forms |= {"358401234567", "0401234567"}
    return {form for form in forms if form}


def test_a_database_error_names_its_statement_never_its_values(runtime: Runtime) -> None:
    from outage_notify.timeutil import utcnow

    row = {
        "customer_id": "DUP-1",
        "phone": PHONE_E164,
        "email": EMAIL,
        "language": "fi",
        "lat": 60.17,
        "lon": 24.94,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    with pytest.raises(IntegrityError) as raised, runtime.transaction() as session:
        session.execute(insert(Customer), [row, row])
    assert "INSERT INTO customers" in str(raised.value)
    for secret in (PHONE_E164, EMAIL, "DUP-1"):
        assert secret not in str(raised.value)


@pytest.mark.postgresql_only(reason="PostgreSQL quotes a value it cannot convert in its message")
def test_a_value_quoted_in_a_database_error_is_cut_out(runtime: Runtime) -> None:
    with pytest.raises(DataError) as raised, runtime.engine.connect() as conn:
        conn.execute(text("SELECT CAST(:v AS integer)"), {"v": PHONE_NATIONAL})
    assert 'invalid input syntax for type integer: "…"' in str(raised.value)
    assert PHONE_NATIONAL not in str(raised.value)
    assert PHONE_NATIONAL not in str(raised.value.orig)


@pytest.mark.parametrize(
    ("path", "query", "route", "logged"),
    [
        (
            "/api/v1/customers",
            b"phone=%2B358401234567&limit=5",
            "/api/v1/customers",
            "/api/v1/customers?phone=…&limit=5",
        ),
        ("/api/v1/feed", b"token=ocl_abc.def", "/api/v1/feed", "/api/v1/feed?token=…"),
        (
            "/api/v1/customers/C-1/timeline",
            b"",
            "/api/v1/customers/{customer_id}/timeline",
            "/api/v1/customers/{customer_id}/timeline",
        ),
        ("/nothing/0401234567/x", b"q=maija", None, "/nothing/…?q=…"),
        ("/", b"", None, "/"),
        (
            "/api/v1/incidents",
            b"status=active&offset=10",
            "/api/v1/incidents",
            "/api/v1/incidents?status=active&offset=10",
        ),
    ],
)
def test_request_lines_keep_routes_and_paging_and_hide_everything_else(
    path: str, query: bytes, route: str | None, logged: str
) -> None:
    from types import SimpleNamespace

    from outage_notify.logs import redacted_target

    scope = {"path": path, "query_string": query}
    if route is not None:
        scope["route"] = SimpleNamespace(path=route)
    assert redacted_target(scope) == logged
