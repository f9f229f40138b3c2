"""GET /api/v1/dashboard: operators (and admins) only; the figures of the storm dashboard, in
the documented shape; its window and bucket checked."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from outage_notify.api.dashboard import SharedStats
from outage_notify.runtime import Runtime
from tests.town import cells, town


def storm(client: TestClient, keys: dict, runtime: Runtime) -> None:
    """Six customers told of one outage, on SMS, email and in-app (the development sink)."""
    assert client.post("/api/v1/customers", json=town(), headers=keys["admin"]).status_code == 200
    answer = client.post(
        "/api/v1/incidents",
        json={"external_id": "D-1", "area": cells(0, 0, 2, 1), "cause": "storm"},
        headers=keys["operator"],
    )
    assert answer.status_code == 201, answer.text
    runtime.drain()


def test_only_operators_and_admins_may_read_it(client: TestClient, keys: dict) -> None:
    missing = client.get("/api/v1/dashboard")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    unknown = client.get("/api/v1/dashboard", headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401
    agent = client.get("/api/v1/dashboard", headers=keys["agent"])
    assert agent.status_code == 403
    assert "operator" in agent.json()["error"]["message"]
    for role in ("operator", "admin"):
        assert client.get("/api/v1/dashboard", headers=keys[role]).status_code == 200


def test_the_figures_of_one_outage(client: TestClient, keys: dict, runtime: Runtime) -> None:
    storm(client, keys, runtime)
    body = client.get("/api/v1/dashboard", headers=keys["operator"]).json()
    assert body["affected"] == {"unplanned": 6, "planned": 0, "warning": 0, "total": 6}
    assert body["incidents"] == {
        "open": 1,
        "overdue": 0,
        "open_by_kind": {"unplanned": 1, "planned": 0, "warning": 0},
    }
    delivered = {"queued": 0, "sent": 0, "delivered": 6, "failed": 0, "suppressed": 0}
    assert body["messages"]["sms"] == body["messages"]["email"] == delivered
    assert body["messages"]["in_app"] == delivered
    assert sum(body["messages"]["push"].values()) == 0
    first = body["first_message"]
    assert first["measured"] == 1 and first["awaiting"] == 0
    assert first["p50_seconds"] is not None and 0 <= first["p50_seconds"] <= first["p95_seconds"]
    assert body["bucket_seconds"] == 300
    assert len(body["buckets"]) == 73
    assert body["buckets"][0]["start"] == body["since"]
    assert body["inbound_totals"] == {"replies": 0, "reports": 0, "opt_outs": 0}
    assert body["notes"] == []


def test_an_empty_service_answers_zeros(client: TestClient, keys: dict) -> None:
    body = client.get(
        "/api/v1/dashboard?window_minutes=60&bucket_minutes=1", headers=keys["operator"]
    ).json()
    assert body["affected"]["total"] == 0
    assert body["first_message"]["p95_seconds"] is None
    assert body["bucket_seconds"] == 60
    assert len(body["buckets"]) == 61
    assert all(b["replies"] == b["reports"] == b["opt_outs"] == 0 for b in body["buckets"])


def test_the_window_and_bucket_are_checked(client: TestClient, keys: dict) -> None:
    for query in (
        "window_minutes=4",
        "window_minutes=1441",
        "bucket_minutes=0",
        "bucket_minutes=61",
        "window_minutes=abc",
        "window_minutes=10&bucket_minutes=15",
    ):
        answer = client.get(f"/api/v1/dashboard?{query}", headers=keys["operator"])
        assert answer.status_code == 422, query
        assert answer.json()["error"]["code"] == "validation_failed"


def test_it_is_documented(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/dashboard"]["get"]
    assert set(operation["responses"]) >= {"200", "401", "403", "422"}
    documented = schema["components"]["schemas"]["DashboardOut"]["properties"]
    assert {"affected", "messages", "first_message", "buckets"} <= set(documented)


def test_costly_figures_are_shared_for_a_moment(runtime: Runtime) -> None:
    """A read that took a second is served again for two; a cheap one is never kept."""
    ticks = iter([0.0, 1.0, 2.5, 3.5, 3.6, 3.65, 4.0, 4.01, 4.02])
    shared = SharedStats(timer=lambda: next(ticks))
    window = {"window": timedelta(hours=1), "bucket": timedelta(minutes=1)}
    first = shared.get(runtime, **window)  # read from 0.0 to 1.0: costly
    assert shared.get(runtime, **window) is first  # at 2.5: within 2 × 1 s of it
    second = shared.get(runtime, **window)  # at 3.5: read again, 3.6 to 3.65 (cheap)
    assert second is not first
    assert shared.get(runtime, **window) is not second  # at 4.0: cheap reads are not kept


def test_each_window_is_shared_on_its_own(runtime: Runtime) -> None:
    ticks = iter([0.0, 1.0, 1.1, 2.0])
    shared = SharedStats(timer=lambda: next(ticks))
    hour = shared.get(runtime, window=timedelta(hours=1), bucket=timedelta(minutes=1))
    day = shared.get(runtime, window=timedelta(hours=24), bucket=timedelta(minutes=15))
    assert hour.buckets.count == 61 and day.buckets.count == 97
