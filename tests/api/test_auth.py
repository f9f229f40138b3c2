"""Every /api/v1 call needs a key; a role that may not call an endpoint gets 403."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from outage_notify.auth.apikeys import find_key, hash_key
from outage_notify.db.models import ApiKey
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.town import cells, customer

INCIDENT = {"external_id": "A-1", "area": cells(0, 0, 1, 1)}

ENDPOINTS = [
    ("post", "/api/v1/customers", []),
    ("get", "/api/v1/customers?q=x", None),
    ("get", "/api/v1/customers/C-1", None),
    ("get", "/api/v1/customers/C-1/timeline", None),
    ("get", "/api/v1/customers/C-1/link", None),
    ("post", "/api/v1/incidents", INCIDENT),
    ("patch", "/api/v1/incidents/inc_x", {"status": "restored"}),
    ("get", "/api/v1/incidents", None),
    ("get", "/api/v1/incidents/inc_x", None),
]

# Who may call what: admin everything; operators post incidents and read them; agents read.
ALLOWED = {
    "admin": {e[1] for e in ENDPOINTS},
    "operator": {"/api/v1/incidents", "/api/v1/incidents/inc_x"},
    "agent": {
        "/api/v1/customers?q=x",
        "/api/v1/customers/C-1",
        "/api/v1/customers/C-1/timeline",
        "/api/v1/customers/C-1/link",
        "/api/v1/incidents",
        "/api/v1/incidents/inc_x",
    },
}


def call(client: TestClient, method: str, path: str, body: object, headers: dict) -> object:
    if body is None:
        return getattr(client, method)(path, headers=headers)
    return getattr(client, method)(path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer onk_not-a-real-key"}, {"Authorization": "Basic abc"}],
    ids=["missing", "unknown", "not-bearer"],
)
def test_a_missing_or_wrong_key_is_401_with_a_json_error(
    client: TestClient, method: str, path: str, body: object, headers: dict
) -> None:
    answer = call(client, method, path, body, headers)
    assert answer.status_code == 401  # type: ignore[attr-defined]
    error = answer.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "unauthorized"
    assert error["message"]


# What an allowed call answers on a database holding customer C-1 and incident {incident}:
# the status, and a field of the body that only a real answer has.
ANSWERS = {
    ("post", "/api/v1/customers"): (
        200,
        lambda b: b == {"created": 0, "updated": 0, "rejected": [], "warnings": []},
    ),
    ("get", "/api/v1/customers?q=x"): (200, lambda b: b == {"customers": []}),
    ("get", "/api/v1/customers/C-1"): (200, lambda b: b["customer_id"] == "C-1"),
    ("get", "/api/v1/customers/C-1/timeline"): (200, lambda b: b["customer_id"] == "C-1"),
    ("get", "/api/v1/customers/C-1/link"): (200, lambda b: b["token"].startswith("ocl_")),
    ("post", "/api/v1/incidents"): (201, lambda b: b["external_id"] == "A-1" and b["created"]),
    ("patch", "/api/v1/incidents/inc_x"): (200, lambda b: b["status"] == "restored"),
    ("get", "/api/v1/incidents"): (
        200,
        lambda b: [i["external_id"] for i in b["incidents"]] == ["EXISTING"],
    ),
    ("get", "/api/v1/incidents/inc_x"): (200, lambda b: b["external_id"] == "EXISTING"),
}


@pytest.fixture
def world(client: TestClient, keys: dict) -> str:
    """Customer C-1 and one incident; returns the incident's id."""
    person = {**customer(0, 0), "customer_id": "C-1"}
    assert client.post("/api/v1/customers", json=[person], headers=keys["admin"]).status_code == 200
    made = client.post(
        "/api/v1/incidents",
        json={"external_id": "EXISTING", "area": cells(0, 0, 1, 1)},
        headers=keys["admin"],
    )
    return str(made.json()["id"])


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize("role", ["operator", "agent", "admin"])
def test_each_role_gets_a_real_answer_where_allowed_and_403_elsewhere(
    client: TestClient, keys: dict, world: str, role: str, method: str, path: str, body: object
) -> None:
    answer = call(client, method, path.replace("inc_x", world), body, keys[role])
    status = answer.status_code  # type: ignore[attr-defined]
    allowed = path in ALLOWED[role] and not (role == "agent" and method in ("post", "patch"))
    if allowed:
        expected, looks_right = ANSWERS[(method, path)]
        assert status == expected, answer.text  # type: ignore[attr-defined]
        assert looks_right(answer.json())  # type: ignore[attr-defined]
    else:
        assert status == 403
        error = answer.json()["error"]  # type: ignore[attr-defined]
        assert error["code"] == "forbidden" and f"role {role} may not" in error["message"]


def test_keys_are_stored_only_as_hashes_and_revoked_keys_stop_working(
    client: TestClient, runtime: Runtime, keys: dict
) -> None:
    key = keys["agent"]["Authorization"].removeprefix("Bearer ")
    with runtime.transaction() as session:
        stored = session.query(ApiKey).filter_by(name="test-agent").one()
        assert stored.key_hash == hash_key(key)
        assert key not in {stored.key_hash, stored.name}
        stored.revoked_at = utcnow()
    assert client.get("/api/v1/incidents", headers=keys["agent"]).status_code == 401
    with runtime.transaction() as session:
        assert find_key(session, key=key) is None
