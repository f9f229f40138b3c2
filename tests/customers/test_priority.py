"""A customer's priority (life_support, critical_facility) through every customer path: the
upsert, POST /customers, GET /customers/{id}, and the export a subject access request gets."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from outage_notify.customers.service import export_customer, get_customer, upsert_customers
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.runtime import Runtime
from tests.town import customer

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def records(*items: dict) -> list:
    parsed = parse_json_list(list(items), CustomerRules())
    assert parsed.rejections == []
    return [r for _, r in parsed.records]


def test_the_upsert_stores_a_priority_and_a_later_upsert_without_one_clears_it(
    runtime: Runtime,
) -> None:
    with runtime.transaction() as session:
        upsert_customers(
            session,
            records=records(
                customer(0, 0, priority="Life_Support"), customer(1, 0, priority=""), customer(2, 0)
            ),
            now=NOW,
        )
    with runtime.reading() as session:
        stored = {
            cid: get_customer(session, customer_id=cid).priority  # type: ignore[union-attr]
            for cid in ("C-0-0", "C-1-0", "C-2-0")
        }
    assert stored == {"C-0-0": "life_support", "C-1-0": None, "C-2-0": None}
    with runtime.transaction() as session:
        upsert_customers(
            session,
            records=records(customer(0, 0), customer(2, 0, priority="critical_facility")),
            now=NOW,
        )
    with runtime.reading() as session:
        first, third = (get_customer(session, customer_id=c) for c in ("C-0-0", "C-2-0"))
        assert first is not None and third is not None
        assert (first.priority, third.priority) == (None, "critical_facility")
        assert export_customer(session, customer=third)["customer"]["priority"] == (
            "critical_facility"
        )


def test_post_customers_takes_a_priority_and_get_shows_it(client: TestClient, keys: dict) -> None:
    people = [
        customer(0, 0, priority=" CRITICAL_FACILITY "),
        customer(1, 0),
        customer(2, 0, priority="vip"),
    ]
    answer = client.post("/api/v1/customers", json=people, headers=keys["admin"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["created"], body["updated"]) == (2, 0)
    [rejected] = body["rejected"]
    assert rejected["index"] == 2 and rejected["customer_id"] == "C-2-0"
    assert "priority 'vip'" in rejected["error"]
    assert "life_support, critical_facility" in rejected["error"]
    shown = client.get("/api/v1/customers/C-0-0", headers=keys["agent"]).json()
    assert shown["priority"] == "critical_facility"
    assert client.get("/api/v1/customers/C-1-0", headers=keys["agent"]).json()["priority"] is None
    found = client.get("/api/v1/customers?q=C-0-0", headers=keys["agent"]).json()["customers"]
    assert [c["priority"] for c in found] == ["critical_facility"]
