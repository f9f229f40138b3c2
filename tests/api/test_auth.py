"""Every /api/v1 call needs a key; a role that may not call an endpoint gets 403."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from outage_notify.auth.apikeys import find_key, hash_key
from outage_notify.db.models import ApiKey
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.town import cells

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


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize("role", ["operator", "agent"])
def test_roles_may_call_only_their_endpoints(
    client: TestClient, keys: dict, role: str, method: str, path: str, body: object
) -> None:
    answer = call(client, method, path, body, keys[role])
    status = answer.status_code  # type: ignore[attr-defined]
    if path in ALLOWED[role] and not (role == "agent" and method in ("post", "patch")):
        assert status != 403
    else:
        assert status == 403
        assert "may not" in answer.json()["error"]["message"]  # type: ignore[attr-defined]


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
