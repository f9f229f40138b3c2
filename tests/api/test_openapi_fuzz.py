"""schemathesis against the app's own /openapi.json: no request, however odd, gets a 5xx, and
every answer is one the schema documents (status code, content type, body).

Bounded and repeatable: a fixed seed, derandomized generation and a few dozen requests per
operation (schemathesis' examples, coverage and fuzzing phases), so the run stays well under
two minutes on two cores and finds the same thing every time. Run it alone with:

    python -m pytest -q -p no:cacheprovider tests/api/test_openapi_fuzz.py

Requests drawn from the schema alone rarely get past validation (a random area is not a
polygon in the town, a random phone is nobody's), so the hooks below mix in requests a real
caller would send, themselves varied: ids that exist, incidents over the town, subscriptions
with keys of the right size, Twilio callbacks about messages that were sent.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from sqlalchemy import select
from starlette.datastructures import ImmutableMultiDict
from starlette.types import Message, Receive, Scope, Send
from twilio.request_validator import RequestValidator

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.config import Settings
from outage_notify.db.migrate import upgrade
from outage_notify.db.models import Customer, Notification
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.backends import Backend, Databases
from tests.conftest import TWILIO_TOKEN
from tests.standins.push import b64u
from tests.town import COLS, ROWS, cells, customer, town

SEED = 20261125
EXAMPLES_PER_OPERATION = 100
CONFIG = {
    "seed": SEED,
    "generation": {
        "mode": "all",  # valid requests and invalid ones
        "max-examples": EXAMPLES_PER_OPERATION,
        "deterministic": True,
        "database": "none",  # no replay of earlier runs' failures: the same run every time
        "with-security-parameters": False,  # the caller's credentials are the test's (below)
    },
    "phases": {"stateful": {"enabled": False}},
    # No 5xx, and every answer as documented. Left out: the checks that judge business rules
    # (positive_data_acceptance would call a well-formed area outside the territory a failure)
    # and those that re-send requests with other credentials or methods.
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
    },
}
CUSTOMER_LINK_PATHS = {"/api/v1/push/subscriptions", "/api/v1/feed"}
PUBLIC_URL = "http://testserver"
SETTINGS: dict[str, Any] = {
    "dispatcher_enabled": False,
    "public_url": PUBLIC_URL,
    "secret_key": "fuzz-secret-" * 4,
    "twilio_auth_token": TWILIO_TOKEN,  # the webhooks check signatures (no SID: SMS to the sink)
}
SEEDED_INCIDENTS: list[dict[str, Any]] = [
    {"external_id": "F-OPEN", "area": cells(0, 0, 2, 2), "cause": "storm"},
    {"external_id": "F-GRID", "feeders": ["F-7"], "etr": "2099-01-01T12:00:00+02:00"},
    {
        "external_id": "F-PLAN",
        "kind": "planned",
        "area": cells(5, 0, 6, 1),
        "starts_at": "2099-02-01T08:00:00+02:00",
        "ends_at": "2099-02-01T12:00:00+02:00",
        "message": {"fi": "Huoltotyö", "sv": "Underhåll", "en": "Maintenance"},
    },
    {"external_id": "F-DONE", "area": cells(3, 3, 4, 4)},  # restored once seeded: closed
]
# Inside F-OPEN: its priority-customers list is not empty.
SEEDED_PRIORITIES = {"C-0-0": "life_support", "C-1-1": "critical_facility"}
ETR_UPDATE = {"etr": "2099-01-02T12:00:00+02:00", "status": "crew_assigned"}
RESTORED = {"status": "restored"}
# What the seeded town holds, for the hooks (filled by the seeded_town fixture, which runs
# before any request is generated).
KNOWN: dict[str, list[Any]] = {}


# ---- Twilio's part -----------------------------------------------------------------------------


class TwilioSigner:
    """Signs each form-encoded webhook request as Twilio would (over PUBLIC_URL + path + query
    and every form field as sent), so the fuzzer reaches the handlers behind the signature
    check. A body that is not a form goes unsigned, as Twilio never sends one; the app must
    still answer it as documented (403)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.validator = RequestValidator(TWILIO_TOKEN)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/webhooks/twilio/"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"x-twilio-signature"]
        if _is_form(headers):
            signature = self.validator.compute_signature(_url(scope), _form_fields(body))
            headers.append((b"x-twilio-signature", signature.encode()))
        await self.app({**scope, "headers": headers}, _replay(body), send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _is_form(headers: list[tuple[bytes, bytes]]) -> bool:
    content_type = dict(headers).get(b"content-type", b"")
    return content_type.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded"


def _url(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return PUBLIC_URL + scope["path"] + (f"?{query}" if query else "")


def _form_fields(body: bytes) -> ImmutableMultiDict[str, str]:
    return ImmutableMultiDict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


# ---- what real callers send, varied ------------------------------------------------------------

STATUSES = ["detected", "crew_assigned", "in_progress", "restored", "cancelled"]
OFFSETS = [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]
TIMES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "2099-01-01T12:00:00+02:00",
            "2001-01-01T00:00:00Z",
            "2026-11-25T18:30",  # no offset
            "0001-01-01T00:00:00+14:00",  # the edges of the calendar, in UTC
            "9999-12-31T23:59:59-12:00",
        ]
    ),
    st.datetimes(timezones=st.sampled_from(OFFSETS)).map(datetime.isoformat),
)
# Integers that a database column or a C long cannot hold, and the usual off-by-ones.
EDGE_INTEGERS = [-1, 0, 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]
TEXT = st.text(max_size=40)
AREAS = st.builds(
    cells,
    st.integers(0, COLS - 1),
    st.integers(0, ROWS - 1),
    st.integers(0, COLS - 1),
    st.integers(0, ROWS - 1),
)
MESSAGES = st.one_of(TEXT, st.dictionaries(st.sampled_from(["fi", "sv", "en"]), TEXT))
INCIDENT_FIELDS = {
    "status": st.sampled_from(STATUSES),
    "cause": st.none() | TEXT,
    "message": st.none() | MESSAGES,
    "area": st.none() | AREAS,
    "feeders": st.lists(st.sampled_from(["F-1", "F-7", "F-99"]), max_size=2),
    "etr": TIMES,
    "starts_at": TIMES,
    "ends_at": TIMES,
    "started_at": TIMES,
}
INCIDENT_BODIES = st.fixed_dictionaries(
    {
        "external_id": st.sampled_from(["F-OPEN", "F-DONE", "F-NEW"]) | st.text(min_size=1),
        "area": AREAS,
    },
    optional={
        "kind": st.sampled_from(["unplanned", "planned"]),
        **{k: v for k, v in INCIDENT_FIELDS.items() if k != "area"},
    },
)
INCIDENT_PATCHES = st.fixed_dictionaries({}, optional=INCIDENT_FIELDS)
PUSH_SUBSCRIPTIONS = st.fixed_dictionaries(
    {
        "endpoint": st.sampled_from(["https://push.example/sub/1", "http://localhost:1/p"]),
        "keys": st.fixed_dictionaries(
            {
                "p256dh": st.binary(min_size=65, max_size=65).map(b64u) | TEXT,
                "auth": st.binary(min_size=16, max_size=16).map(b64u) | TEXT,
            }
        ),
    }
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
CUSTOMER_ROWS = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(["C-0-0", "C-NEW"]) | st.text(min_size=1),
        "lat": st.floats(60.15, 60.19) | FLOATS,
        "lon": st.floats(24.90, 24.99) | FLOATS,
    },
    optional={
        "name": TEXT,
        "address": TEXT,
        "phone": st.sampled_from(["+358401234567", "040 123 4567", "12"]) | TEXT,
        "email": st.sampled_from(["maija@example.com", "not-an-email"]) | TEXT,
        "language": st.sampled_from(["fi", "sv", "en", "de"]),
        "channels": st.sampled_from(["sms;email", "", "push", "fax"]) | TEXT,
        "feeder": TEXT,
        "transformer": TEXT,
        "quiet_hours": st.sampled_from(["22:00-07:00", "25:00-01:00"]) | TEXT,
        "priority": st.sampled_from(["life_support", "critical_facility", "vip"]),
    },
)
CUSTOMER_LISTS = st.lists(CUSTOMER_ROWS, max_size=4) | st.fixed_dictionaries(
    {"customers": st.lists(CUSTOMER_ROWS, max_size=4)}
)
TWILIO_STATUSES = ["queued", "sent", "delivered", "undelivered", "failed", "read", "canceled"]
REPLIES = ["STOP", "stop", "STATUS", "OUT", "LOPETA", "Sluta nu", "start", "hello"]


def _status_callbacks() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {
            "MessageSid": st.sampled_from(KNOWN["message_sid"]) | TEXT,
            "MessageStatus": st.sampled_from(TWILIO_STATUSES) | TEXT,
        },
        optional={"ErrorCode": st.sampled_from(["30003", "30005", "21610"]) | TEXT},
    )


def _replies() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {"From": st.sampled_from(KNOWN["phone"]) | TEXT},
        optional={"Body": st.sampled_from(REPLIES) | TEXT, "MessageSid": TEXT},
    )


# Drawn when the test runs, after the seeded_town fixture has filled KNOWN.
KNOWN_BODIES: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "POST /api/v1/customers": lambda: CUSTOMER_LISTS,
    "POST /api/v1/incidents": lambda: INCIDENT_BODIES,
    "PATCH /api/v1/incidents/{incident_id}": lambda: INCIDENT_PATCHES,
    "POST /api/v1/push/subscriptions": lambda: PUSH_SUBSCRIPTIONS,
    "POST /webhooks/twilio/status": _status_callbacks,
    "POST /webhooks/twilio/inbound": _replies,
}


def _known_queries(operation: Any) -> st.SearchStrategy[Any]:
    integers = [
        p["name"]
        for p in operation.definition.raw.get("parameters", [])
        if p["in"] == "query" and p.get("schema", {}).get("type") == "integer"
    ]
    edges = {n: st.sampled_from(EDGE_INTEGERS) for n in integers}
    known: list[st.SearchStrategy[Any]] = [st.fixed_dictionaries({}, optional=edges)]
    if operation.label == "GET /api/v1/customers":
        known.append(
            st.fixed_dictionaries(
                {"q": st.sampled_from(["C-1-1", "customer 3", "Testikatu"])}, optional=edges
            )
        )
        known.append(st.fixed_dictionaries({"phone": st.sampled_from(KNOWN["phone"])}))
    if operation.label == "POST /webhooks/twilio/status":
        ns = st.sampled_from(KNOWN["notification"]) | st.sampled_from(EDGE_INTEGERS).map(str)
        known.append(st.fixed_dictionaries({"n": ns}))
    return st.one_of(known)


# ---- the seeded town ---------------------------------------------------------------------------


def _seed_town(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """The test town with incidents in every state, messages delivered, one failed, and
    C-0-0's replies and push subscription, so the routes answer with full bodies (timelines
    with every kind of event, incidents with counts). Returns who calls (an admin key; the
    customer link of C-0-0 for the customer app) and what exists."""
    with runtime.transaction() as session:
        key = create_key(session, role="admin", name="fuzz", now=utcnow())[1]
    admin = {"Authorization": f"Bearer {key}"}
    people = [{**c, "priority": SEEDED_PRIORITIES.get(c["customer_id"])} for c in town()]
    assert client.post("/api/v1/customers", json=people, headers=admin).status_code == 200
    incidents = [_posted(client, body, admin) for body in SEEDED_INCIDENTS]
    runtime.planner.drain()
    _ok(client.patch(f"/api/v1/incidents/{incidents[-1]}", json=RESTORED, headers=admin))
    runtime.planner.drain()
    with runtime.reading() as session:
        queued = session.execute(
            select(Notification.id)
            .join(Customer, Customer.id == Notification.customer_pk)
            .where(Customer.customer_id == "C-0-0", Notification.channel == "sms")
        ).scalar_one()
    # Before delivery: Twilio says it failed, and the email fallback is planned.
    failed = {"MessageSid": "SMseedfailed", "MessageStatus": "failed", "ErrorCode": "30005"}
    _ok(client.post(f"/webhooks/twilio/status?n={queued}", data=failed))
    runtime.drain()
    _ok(client.patch(f"/api/v1/incidents/{incidents[0]}", json=ETR_UPDATE, headers=admin))
    runtime.drain()
    link = client.get("/api/v1/customers/C-0-0/link", headers=admin).json()
    _seed_customer_side(client, link["token"])
    with runtime.reading() as session:
        sms = session.execute(
            select(Notification.id, Notification.provider_ref)
            .where(Notification.channel == "sms", Notification.status == "delivered")
            .order_by(Notification.id)
        ).all()
    return {
        "key": admin,
        "link": {"Authorization": f"Bearer {link['token']}"},
        "known": {
            "customer_id": ["C-0-0", "C-3-3", "C-7-1", "C-9-4"],
            "incident_id": incidents,
            "phone": [customer(c, r)["phone"] for c, r in ((0, 0), (3, 3), (9, 4))],
            "notification": [str(n) for n, _ in sms[:5]],
            "message_sid": [ref for _, ref in sms[:5]],
        },
    }


def _seed_customer_side(client: TestClient, token: str) -> None:
    """C-0-0 subscribes to push and replies."""
    subscription = {
        "endpoint": "https://push.example/sub/seed",
        "keys": {"p256dh": b64u(bytes(range(65))), "auth": b64u(bytes(16))},
    }
    link = {"Authorization": f"Bearer {token}"}
    _ok(client.post("/api/v1/push/subscriptions", json=subscription, headers=link))
    phone = customer(0, 0)["phone"]
    for reply in ("STATUS", "OUT", "STOP"):
        _ok(client.post("/webhooks/twilio/inbound", data={"From": phone, "Body": reply}))


def _posted(client: TestClient, body: dict[str, Any], headers: dict[str, str]) -> str:
    answer = client.post("/api/v1/incidents", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _ok(answer: Any) -> None:
    assert answer.status_code in (200, 201), answer.text


@pytest.fixture(scope="module")
def seeded_town(backend: Backend) -> Iterator[dict[str, Any]]:
    """Seeded once; each operation's test starts from a copy of it."""
    url = backend.create(like=backend.schema_url())
    runtime = Runtime.build(Settings(database_url=url, **SETTINGS))
    with TestClient(TwilioSigner(create_app(runtime=runtime))) as client:
        seeded = _seed_town(client, runtime)
    runtime.close()
    KNOWN.update(seeded["known"])
    yield {**seeded, "url": url}
    backend.drop(url)


@pytest.fixture
def town_app(seeded_town: dict[str, Any], databases: Databases) -> Iterator[TwilioSigner]:
    url = databases.copy(seeded_town["url"])
    runtime = Runtime.build(Settings(database_url=url, **SETTINGS))
    yield TwilioSigner(create_app(runtime=runtime))
    runtime.close()


# ---- the schema and the test -------------------------------------------------------------------


def _openapi() -> dict[str, Any]:
    # Read once at import, since schemathesis makes one test per operation at collection; the
    # document does not depend on what the database holds.
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/openapi.db"
        upgrade(url)
        runtime = Runtime.build(Settings(database_url=url, **SETTINGS))
        document = create_app(runtime=runtime).openapi()
        runtime.close()
    return document


schema = schemathesis.openapi.from_dict(_openapi(), config=SchemathesisConfig.from_dict(CONFIG))


@schema.hook
def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
    # Ids drawn by chance match nothing (404); ids that exist reach the 200s.
    names = [n for n in ("customer_id", "incident_id") if "{" + n + "}" in context.operation.path]
    if not names:
        return strategy
    known = st.deferred(
        lambda: st.fixed_dictionaries({n: st.sampled_from(KNOWN[n]) for n in names})
    )
    return st.one_of(strategy, known)


@schema.hook
def before_generate_body(context: Any, strategy: Any) -> Any:
    known = KNOWN_BODIES.get(context.operation.label)
    return strategy if known is None else st.one_of(strategy, st.deferred(known))


@schema.hook
def before_generate_query(context: Any, strategy: Any) -> Any:
    operation = context.operation
    return st.one_of(strategy, st.deferred(lambda: _known_queries(operation)))


@schema.parametrize()
# One database per operation, shared by that operation's generated requests: on purpose.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_answer_is_documented_and_none_is_a_5xx(
    case: Any, town_app: TwilioSigner, seeded_town: dict[str, Any]
) -> None:
    caller = "link" if case.path in CUSTOMER_LINK_PATHS else "key"
    case.call_and_validate(headers=seeded_town[caller], app=town_app)
