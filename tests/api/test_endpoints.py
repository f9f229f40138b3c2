"""The endpoints besides errors: customer detail and search, incident reads, the customer
app's push registration and feed, webhooks, health and metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from outage_notify.app import create_app
from outage_notify.auth.customer_links import make_token
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.conftest import TWILIO_TOKEN
from tests.standins.push import Subscriber, b64u
from tests.town import cells, customer, town


@pytest.fixture
def loaded(client: TestClient, keys: dict) -> TestClient:
    assert client.post("/api/v1/customers", json=town(), headers=keys["admin"]).status_code == 200
    return client


def test_customer_detail_lists_preferences_and_current_incidents(
    loaded: TestClient, keys: dict, runtime: Runtime
) -> None:
    etr = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    made = loaded.post(
        "/api/v1/incidents",
        json={"external_id": "D-1", "area": cells(0, 0, 1, 1), "etr": etr.isoformat()},
        headers=keys["operator"],
    ).json()
    runtime.planner.drain()
    detail = loaded.get("/api/v1/customers/C-1-1", headers=keys["agent"]).json()
    assert detail["phone"] == customer(1, 1)["phone"]
    assert detail["channels"] == ["sms", "email"]
    assert detail["opted_out"] == [] and detail["push_subscriptions"] == 0
    assert [i["id"] for i in detail["current_incidents"]] == [made["id"]]
    assert detail["current_incidents"][0]["etr"] == etr.isoformat()
    outside = loaded.get("/api/v1/customers/C-5-4", headers=keys["agent"]).json()
    assert outside["current_incidents"] == []


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("phone=040%20100%200023", {"C-3-2"}),
        ("phone=%2B358401000023", {"C-3-2"}),
        ("q=C-3-2", {"C-3-2"}),
        ("q=customer%203/2", {"C-3-2"}),
        ("q=TESTIKATU%2024", {"C-3-2"}),
        ("q=nobody", set()),
    ],
)
def test_search_by_phone_id_name_or_address(
    loaded: TestClient, keys: dict, query: str, found: set
) -> None:
    answer = loaded.get(f"/api/v1/customers?{query}", headers=keys["agent"])
    assert answer.status_code == 200, answer.text
    assert {c["customer_id"] for c in answer.json()["customers"]} == found


def test_search_does_not_treat_percent_as_a_wildcard(loaded: TestClient, keys: dict) -> None:
    answer = loaded.get("/api/v1/customers?q=%25", headers=keys["agent"])
    assert answer.json()["customers"] == []


def test_incident_reads_count_notifications_by_status(
    loaded: TestClient, keys: dict, runtime: Runtime
) -> None:
    made = loaded.post(
        "/api/v1/incidents",
        json={"external_id": "L-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    ).json()
    assert (made["planning"], made["notifications"]) == ("pending", {})
    runtime.planner.drain()
    made = loaded.get(f"/api/v1/incidents/{made['id']}", headers=keys["agent"]).json()
    assert made["planning"] == "done"
    assert made["notifications"] == {"queued": 8, "delivered": 4}  # 4 customers: sms, email, in-app
    listed = loaded.get("/api/v1/incidents?status=active", headers=keys["agent"]).json()[
        "incidents"
    ]
    assert [(i["id"], i["affected_customers"]) for i in listed] == [(made["id"], 4)]
    one = loaded.get(f"/api/v1/incidents/{made['id']}", headers=keys["operator"]).json()
    assert one["notifications"] == made["notifications"]
    assert (
        loaded.get("/api/v1/incidents?status=restored", headers=keys["agent"]).json()["incidents"]
        == []
    )


def test_unknown_fields_of_a_post_are_ignored_and_named(loaded: TestClient, keys: dict) -> None:
    answer = loaded.post(
        "/api/v1/incidents",
        json={"external_id": "U-1", "area": cells(0, 0, 1, 1), "etr_at": "soon", "priority": 1},
        headers=keys["operator"],
    )
    assert answer.status_code == 201
    assert answer.json()["ignored_fields"] == ["etr_at", "priority"]


def test_the_customer_app_registers_for_push_and_reads_its_feed(
    loaded: TestClient, keys: dict, runtime: Runtime
) -> None:
    link = loaded.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()
    token = {"Authorization": f"Bearer {link['token']}"}
    subscription = {"endpoint": "https://push.example.net/s/1", "keys": Subscriber("x").keys()}
    assert (
        loaded.post("/api/v1/push/subscriptions", json=subscription, headers=token).status_code
        == 201
    )
    assert (
        loaded.post("/api/v1/push/subscriptions", json=subscription, headers=token).status_code
        == 201
    )
    detail = loaded.get("/api/v1/customers/C-0-0", headers=keys["agent"]).json()
    assert detail["push_subscriptions"] == 1  # the same endpoint twice is one subscription
    loaded.post(
        "/api/v1/incidents",
        json={"external_id": "FEED-1", "area": cells(0, 0, 1, 1), "cause": "fallen tree"},
        headers=keys["operator"],
    )
    runtime.planner.drain()
    feed = loaded.get(f"/api/v1/feed?token={link['token']}").json()
    (message,) = feed["messages"]
    assert message["kind"] == "outage" and customer(0, 0)["address"] in message["title"]
    assert "kaatunut puu" in message["body"]  # C-0-0 reads Finnish


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"endpoint": "http://push.example.net/x", "keys": Subscriber("x").keys()}, "https"),
        (
            {
                "endpoint": "https://push.example.net/x",
                "keys": {"p256dh": "AAAA", "auth": b64u(b"0" * 16)},
            },
            "65 bytes",
        ),
        (
            {
                "endpoint": "https://push.example.net/x",
                "keys": {"p256dh": Subscriber("x").keys()["p256dh"], "auth": "!!"},
            },
            "auth",
        ),
        ({"endpoint": "https://push.example.net/x"}, "keys"),
    ],
)
def test_bad_push_subscriptions_are_422(
    loaded: TestClient, keys: dict, body: dict, fragment: str
) -> None:
    link = loaded.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()
    answer = loaded.post(
        "/api/v1/push/subscriptions",
        json=body,
        headers={"Authorization": f"Bearer {link['token']}"},
    )
    assert answer.status_code == 422 and fragment in answer.text


def test_customer_links_open_only_their_own_customer(
    loaded: TestClient, keys: dict, runtime: Runtime
) -> None:
    loaded.post(
        "/api/v1/incidents",
        json={"external_id": "F-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    )
    runtime.planner.drain()
    link = loaded.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()
    own = loaded.get("/api/v1/feed", headers={"Authorization": f"Bearer {link['token']}"})
    assert own.status_code == 200 and own.json()["customer_id"] == "C-0-0"
    (message,) = own.json()["messages"]  # C-0-0's outage message, nobody else's
    assert customer(0, 0)["address"] in message["body"]
    assert customer(1, 0)["address"] not in message["body"]
    # The link opens the feed and nothing else; a forged or foreign token opens nothing.
    assert (
        loaded.get(
            "/api/v1/customers/C-0-0", headers={"Authorization": f"Bearer {link['token']}"}
        ).status_code
        == 401
    )
    foreign = make_token(b"another deployment's key" * 2, "C-1-0", issued_at=utcnow())
    for headers in ({}, {"Authorization": f"Bearer {foreign}"}, keys["admin"]):
        refused = loaded.get("/api/v1/feed", headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert loaded.get("/api/v1/feed?token=ocl_forged.token").status_code == 401


@pytest.fixture
def twilio_client(make_settings: Any) -> Any:
    settings = make_settings(
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from="+358401234567",
        twilio_base_url="http://127.0.0.1:9",
    )
    runtime = Runtime.build(settings)
    yield TestClient(create_app(runtime=runtime))
    runtime.close()


def signed(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def test_webhook_signatures_are_checked_against_the_public_url(twilio_client: TestClient) -> None:
    params = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered"}
    path = "/webhooks/twilio/status?n=1"
    good = signed("http://testserver" + path, params)
    assert twilio_client.post(path, data=params, headers=good).status_code == 202  # unknown message
    assert (
        twilio_client.post(
            path, data=params, headers=signed("http://other" + path, params)
        ).status_code
        == 403
    )
    assert (
        twilio_client.post(
            path, data=params, headers=signed("http://testserver" + path, params, "x")
        ).status_code
        == 403
    )
    assert twilio_client.post(path, data=params).status_code == 403
    tampered = {**params, "MessageStatus": "failed"}
    assert twilio_client.post(path, data=tampered, headers=good).status_code == 403
    missing = {"MessageSid": "SM1"}
    answer = twilio_client.post(
        path, data=missing, headers=signed("http://testserver" + path, missing)
    )
    assert answer.status_code == 422 and "MessageStatus" in answer.json()["error"]["message"]


def test_webhooks_are_refused_when_twilio_is_not_configured(client: TestClient) -> None:
    answer = client.post(
        "/webhooks/twilio/status", data={"MessageSid": "SM1", "MessageStatus": "sent"}
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"


def test_an_inbound_sms_from_an_unreadable_number_is_422(twilio_client: TestClient) -> None:
    params = {"From": "not-a-number", "Body": "STOP", "MessageSid": "SM1"}
    url = "http://testserver/webhooks/twilio/inbound"
    answer = twilio_client.post(
        "/webhooks/twilio/inbound", data=params, headers=signed(url, params)
    )
    assert answer.status_code == 422


def test_health_readiness_and_metrics(client: TestClient, keys: dict, runtime: Runtime) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["checks"] == {"database": "ok", "migrations": "ok", "dispatcher": "disabled"}
    client.post("/api/v1/customers", json=town(channels="sms;email"), headers=keys["admin"])
    client.post(
        "/api/v1/incidents",
        json={"external_id": "M-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    )
    runtime.planner.drain()
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    gauges = {
        line.split()[0]: float(line.split()[1])
        for line in metrics.text.splitlines()
        if line.startswith("outage_notify_outbox{")
    }
    # 4 customers, SMS and email each, all queued and due now (the dispatcher is off here).
    assert gauges == {
        'outage_notify_outbox{state="due"}': 8.0,
        'outage_notify_outbox{state="held"}': 0.0,
        'outage_notify_outbox{state="in_flight"}': 0.0,
    }


def test_readiness_fails_when_the_dispatcher_is_not_running(make_settings: Any) -> None:
    runtime = Runtime.build(make_settings(dispatcher_enabled=True))
    app = create_app(runtime=runtime)
    client = TestClient(app)  # no context manager: the lifespan (and the dispatcher) never start
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["dispatcher"] == "not running"
    with TestClient(app) as running:
        assert running.get("/readyz").status_code == 200


def test_agents_can_read_while_a_change_holds_the_write_lock(
    loaded: TestClient, keys: dict, runtime: Runtime
) -> None:
    import threading

    answers: list[int] = []
    with runtime.transaction():  # a storm being planned: SQLite's write lock is taken
        reader = threading.Thread(
            target=lambda: answers.append(
                loaded.get("/api/v1/customers/C-0-0/timeline", headers=keys["agent"]).status_code
            )
        )
        reader.start()
        reader.join(timeout=10)
        finished_while_locked = not reader.is_alive()
    reader.join()
    assert finished_while_locked and answers == [200]


def test_posting_back_the_area_the_api_returned_changes_nothing(
    loaded: TestClient, keys: dict
) -> None:
    two_parts = {
        "type": "MultiPolygon",
        "coordinates": [
            cells(0, 0, 1, 1)["coordinates"],
            [[[24.96, 60.17], [24.96, 60.19], [24.98, 60.19], [24.98, 60.17], [24.96, 60.17]]],
        ],
    }
    body = {"external_id": "RT-1", "area": two_parts}
    made = loaded.post("/api/v1/incidents", json=body, headers=keys["operator"]).json()
    again = loaded.post(
        "/api/v1/incidents", json={**body, "area": made["area"]}, headers=keys["operator"]
    ).json()
    assert again["changes"] == [] and again["version"] == made["version"]
    assert again["area"] == made["area"]
