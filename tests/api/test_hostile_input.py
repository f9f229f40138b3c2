"""Hostile and odd input found by fuzzing: every answer is a 4xx with the JSON error shape,
never a 5xx, and nothing is changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.api.test_errors import assert_error, counts
from tests.town import cells, customer, town

HUGE = str(2**70)


@pytest.fixture
def town_client(client: TestClient, keys: dict) -> TestClient:
    assert client.post("/api/v1/customers", json=town(), headers=keys["admin"]).status_code == 200
    return client


# ---- integers beyond 64 bits ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "role"),
    [
        (f"/api/v1/incidents?offset={HUGE}", "agent"),
        (f"/api/v1/incidents?limit={HUGE}", "agent"),
        (f"/api/v1/customers?q=x&limit={HUGE}", "agent"),
        (f"/api/v1/incidents?offset=-{HUGE}", "agent"),
    ],
)
def test_integers_beyond_64_bits_in_a_query_are_422(
    town_client: TestClient, keys: dict, path: str, role: str
) -> None:
    assert_error(town_client.get(path, headers=keys[role]), 422, "")


def test_a_huge_feed_limit_is_422(town_client: TestClient, keys: dict) -> None:
    token = town_client.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()["token"]
    answer = town_client.get(f"/api/v1/feed?limit={HUGE}&token={token}")
    assert_error(answer, 422, "limit")


# ---- times ------------------------------------------------------------------------------------

EDGE_TIMES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "2300-01-01T00:00:00+02:00",
]


@pytest.mark.parametrize("field", ["etr", "started_at"])
@pytest.mark.parametrize("moment", EDGE_TIMES)
def test_times_at_the_edges_of_the_calendar_are_422(
    town_client: TestClient, runtime: Runtime, keys: dict, field: str, moment: str
) -> None:
    before = counts(runtime)
    body = {"external_id": "T-1", "area": cells(0, 0, 1, 1), field: moment}
    assert_error(
        town_client.post("/api/v1/incidents", json=body, headers=keys["operator"]), 422, field
    )
    assert counts(runtime) == before


@pytest.mark.parametrize("moment", EDGE_TIMES)
def test_planned_windows_at_the_edges_of_the_calendar_are_422(
    town_client: TestClient, keys: dict, moment: str
) -> None:
    body = {
        "external_id": "W-1",
        "kind": "planned",
        "area": cells(0, 0, 1, 1),
        "starts_at": moment,
        "ends_at": "2099-12-31T23:00:00+02:00",
    }
    assert_error(
        town_client.post("/api/v1/incidents", json=body, headers=keys["operator"]), 422, "starts_at"
    )


@pytest.mark.parametrize("moment", EDGE_TIMES)
def test_patches_with_times_at_the_edges_of_the_calendar_are_422(
    town_client: TestClient, keys: dict, moment: str
) -> None:
    made = town_client.post(
        "/api/v1/incidents",
        json={"external_id": "E-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    ).json()
    answer = town_client.patch(
        f"/api/v1/incidents/{made['id']}", json={"etr": moment}, headers=keys["operator"]
    )
    assert_error(answer, 422, "etr")


def test_an_etr_that_has_already_passed_is_422(
    town_client: TestClient, runtime: Runtime, keys: dict
) -> None:
    past = (utcnow() - timedelta(minutes=5)).isoformat()
    body = {"external_id": "P-1", "area": cells(0, 0, 1, 1), "etr": past}
    assert_error(
        town_client.post("/api/v1/incidents", json=body, headers=keys["operator"]), 422, "passed"
    )
    made = town_client.post(
        "/api/v1/incidents",
        json={"external_id": "P-2", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    ).json()
    before = counts(runtime)
    answer = town_client.patch(
        f"/api/v1/incidents/{made['id']}", json={"etr": past}, headers=keys["operator"]
    )
    assert_error(answer, 422, "passed")
    assert counts(runtime) == before


# ---- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/incidents"),
        ("post", "/api/v1/customers"),
        ("patch", "/api/v1/incidents/x"),
    ],
)
@pytest.mark.parametrize(
    ("content", "content_type", "fragment"),
    [
        (b"", "application/json", "empty"),
        (b"", None, "empty"),
        (b'{"external_id": "X"}', "text/plain", "application/json"),
        (b'{"external_id": "X"}', "application/x-www-form-urlencoded", "application/json"),
        (b'{"external_id": "X"}', None, "application/json"),
    ],
)
def test_an_empty_body_or_one_that_is_not_json_is_400(
    town_client: TestClient,
    runtime: Runtime,
    keys: dict,
    method: str,
    path: str,
    content: bytes,
    content_type: str | None,
    fragment: str,
) -> None:
    before = counts(runtime)
    headers = {**keys["admin"], **({"Content-Type": content_type} if content_type else {})}
    answer = (
        getattr(town_client, method)(path, content=content, headers=headers)
        if method != "patch"
        else town_client.patch(path, content=content, headers=headers)
    )
    assert_error(answer, 400, fragment)
    assert counts(runtime) == before


def test_json_with_a_charset_or_a_vendor_type_is_accepted(
    town_client: TestClient, keys: dict
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/geo+json"):
        answer = town_client.post(
            "/api/v1/customers",
            content=b'[{"customer_id": "J-1", "lat": 60.17, "lon": 24.95}]',
            headers={**keys["admin"], "Content-Type": content_type},
        )
        assert answer.status_code == 200, answer.text


# ---- control characters -----------------------------------------------------------------------

CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "\t", "\n", "\r"]


@pytest.mark.parametrize("char", CONTROLS, ids=repr)
@pytest.mark.parametrize("field", ["external_id", "cause", "feeders"])
def test_control_characters_in_incident_text_are_422(
    town_client: TestClient, runtime: Runtime, keys: dict, field: str, char: str
) -> None:
    body: dict[str, Any] = {"external_id": "X-1", "area": cells(0, 0, 1, 1)}
    body[field] = [f"F{char}1"] if field == "feeders" else f"A{char}B"
    before = counts(runtime)
    answer = town_client.post("/api/v1/incidents", json=body, headers=keys["operator"])
    assert_error(answer, 422, "control character")
    assert counts(runtime) == before


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x7f"], ids=repr)
def test_control_characters_in_a_message_are_422_but_line_breaks_are_kept(
    town_client: TestClient, keys: dict, char: str
) -> None:
    body = {"external_id": "M-1", "area": cells(0, 0, 1, 1), "message": f"Hello{char}there"}
    assert_error(
        town_client.post("/api/v1/incidents", json=body, headers=keys["operator"]),
        422,
        "control character",
    )
    body["message"] = {"fi": "Rivi yksi\nRivi kaksi", "en": f"bad{char}"}
    assert_error(
        town_client.post("/api/v1/incidents", json=body, headers=keys["operator"]),
        422,
        "message.en",
    )
    body["message"] = "Line one\r\nLine two\n\nLast"
    kept = town_client.post("/api/v1/incidents", json=body, headers=keys["operator"])
    assert kept.status_code == 201 and kept.json()["message"] == "Line one\r\nLine two\n\nLast"


@pytest.mark.parametrize("char", CONTROLS, ids=repr)
@pytest.mark.parametrize("field", ["customer_id", "name", "address", "phone", "email", "feeder"])
def test_control_characters_in_customer_fields_reject_the_row(
    client: TestClient, runtime: Runtime, keys: dict, field: str, char: str
) -> None:
    bad = customer(0, 0)
    bad[field] = str(bad[field])[:1] + char + str(bad[field])[1:]
    good = customer(1, 0)
    answer = client.post("/api/v1/customers", json=[bad, good], headers=keys["admin"])
    assert answer.status_code == 200
    result = answer.json()
    assert result["created"] == 1
    (rejection,) = result["rejected"]
    assert rejection["index"] == 0
    assert field in rejection["error"]
    assert "control character" in rejection["error"] or field in ("phone", "email")


@pytest.mark.parametrize("q", ["%00", "%25", "_", "%5F", "\\", "%", "%25%25", "C_0"])
def test_search_treats_wildcards_and_nul_literally(
    town_client: TestClient, keys: dict, q: str
) -> None:
    answer = town_client.get(f"/api/v1/customers?q={q}", headers=keys["agent"])
    assert answer.status_code == 200
    assert answer.json()["customers"] == []


def test_search_still_finds_literal_text(town_client: TestClient, keys: dict) -> None:
    found = town_client.get("/api/v1/customers?q=Testikatu 1,", headers=keys["agent"]).json()
    assert [c["customer_id"] for c in found["customers"]] == ["C-0-0"]


def test_an_unknown_status_filter_is_422(town_client: TestClient, keys: dict) -> None:
    assert_error(
        town_client.get("/api/v1/incidents?status=fixed", headers=keys["agent"]), 422, "status"
    )
    assert (
        town_client.get("/api/v1/incidents?status=active", headers=keys["agent"]).status_code == 200
    )


@pytest.mark.parametrize("ref", [HUGE, str(2**31), str(2**63 - 1), "1e5", "²", "-1", "", "12a"])
def test_a_status_callback_naming_no_possible_notification_is_422(
    make_settings: Any, ref: str
) -> None:
    from outage_notify.app import create_app
    from tests.conftest import TWILIO_SID, TWILIO_TOKEN
    from tests.standins.twilio import signature_headers

    runtime = Runtime.build(
        make_settings(
            twilio_account_sid=TWILIO_SID,
            twilio_auth_token=TWILIO_TOKEN,
            twilio_from="+358401234567",
            twilio_base_url="http://127.0.0.1:9",
        )
    )
    client = TestClient(create_app(runtime=runtime))
    path = f"/webhooks/twilio/status?n={quote(ref)}"
    params = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}
    headers = signature_headers("http://testserver" + path, params, TWILIO_TOKEN)
    assert_error(client.post(path, data=params, headers=headers), 422, "n must be")
    runtime.close()


def test_the_dev_inbox_searches_ids_names_and_addresses_literally(
    town_client: TestClient, keys: dict, runtime: Runtime
) -> None:
    town_client.post(
        "/api/v1/incidents",
        json={"external_id": "I-1", "area": cells(0, 0, 9, 4)},
        headers=keys["operator"],
    )
    runtime.drain()

    def shown(q: str) -> int:
        answer = town_client.get("/dev/inbox", params={"q": q})
        assert answer.status_code == 200
        return answer.text.count('class="card customer"')

    assert shown("c-1-") == 5  # part of an id, any case: C-1-0 … C-1-4
    assert shown("C-1-0") == 1
    assert shown("testikatu 1,") == 1
    assert shown("_") == 0 and shown("%") == 0 and shown("\x00") == 0


def test_a_coordinate_too_big_for_a_float_is_a_rejected_row(client: TestClient, keys: dict) -> None:
    body = '[{"customer_id": "X", "lat": 1' + "0" * 400 + ', "lon": 25.6}]'
    answer = client.post(
        "/api/v1/customers",
        content=body,
        headers={**keys["admin"], "Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    (rejection,) = answer.json()["rejected"]
    assert "lat" in rejection["error"]


@pytest.mark.parametrize(
    "endpoint",
    ["https://[abc/x", "https://a:99999999/x", "https://a:-1/x", "https:///x", "https://"],
)
def test_a_push_endpoint_that_is_not_a_url_is_422(
    town_client: TestClient, keys: dict, endpoint: str
) -> None:
    from tests.standins.push import Subscriber

    token = town_client.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()["token"]
    answer = town_client.post(
        "/api/v1/push/subscriptions",
        json={"endpoint": endpoint, "keys": Subscriber("x").keys()},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert_error(answer, 422, "endpoint")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/C%00-0",
        "/api/v1/customers/C%00/timeline",
        "/api/v1/customers/C%1B/link",
        "/api/v1/incidents/inc%00x",
        "/api/v1/customers/C-0-0/link?incident_id=inc%00",
    ],
)
def test_ids_with_control_characters_match_nothing(
    town_client: TestClient, keys: dict, path: str
) -> None:
    """PostgreSQL refuses a NUL in text outright: such an id must never reach the database."""
    assert_error(town_client.get(path, headers=keys["admin"]), 404, "")
    if "/incidents/" in path:
        answer = town_client.patch(path, json={"status": "restored"}, headers=keys["admin"])
        assert_error(answer, 404, "")


def test_a_conflicting_concurrent_write_is_409_not_500(
    town_client: TestClient, keys: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first POSTs of one external_id (an OMS retrying after a timeout) race to insert it
    on PostgreSQL; the loser's unique violation is the caller's cue to retry."""
    from sqlalchemy.exc import IntegrityError

    from outage_notify.incidents import service

    def lost_the_race(*_: Any, **__: Any) -> Any:
        raise IntegrityError("INSERT INTO incidents ...", {}, Exception("duplicate key"))

    monkeypatch.setattr(service.IncidentService, "upsert", lost_the_race)
    answer = town_client.post(
        "/api/v1/incidents",
        json={"external_id": "R-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    )
    assert_error(answer, 409, "retry")


def test_a_defect_is_logged_with_the_route_never_the_values_in_its_path(
    town_client: TestClient,
    keys: dict,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from outage_notify.customers import service

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "get_customer", broken)
    quiet = TestClient(town_client.app, raise_server_exceptions=False)
    answer = quiet.get("/api/v1/customers/0401234567", headers=keys["agent"])
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/v1/customers/{customer_id}" in logged and "0401234567" not in logged


def test_a_provider_s_long_error_fits_the_reason_a_database_keeps(
    make_settings: Any, provider_settings: dict[str, Any], twilio: Any
) -> None:
    from outage_notify.app import create_app
    from outage_notify.auth.apikeys import create_key
    from outage_notify.db.models import Notification
    from tests.standins.twilio import Fault

    runtime = Runtime.build(make_settings(**provider_settings))
    client = TestClient(create_app(runtime=runtime))
    with runtime.transaction() as session:
        key = {
            "Authorization": f"Bearer {create_key(session, role='admin', name='a', now=utcnow())[1]}"
        }
    client.post("/api/v1/customers", json=[customer(0, 0, channels="sms")], headers=key)
    twilio.faults = [Fault(400, 21211, "x" * 5000)]
    client.post(
        "/api/v1/incidents", json={"external_id": "L-1", "area": cells(0, 0, 1, 1)}, headers=key
    )
    runtime.drain()
    with runtime.transaction() as session:
        reasons = session.scalars(
            select(Notification.reason).where(Notification.channel == "sms")
        ).all()
    assert reasons and all(r and "21211" in r and len(r) <= 500 for r in reasons)
    runtime.close()
