"""/openapi.json (and so /docs) describes the API as it really answers: the real error body,
the statuses each route can give, and a response model for every success."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient

from tests.town import cells, town

# The customer app's routes take a signed customer link, not an API key: no role, so no 403.
CUSTOMER_LINK_ROUTES = {("post", "/api/v1/push/subscriptions"), ("get", "/api/v1/feed")}
# The public outage map's open feed: no key, so no 401 and no 403.
PUBLIC_ROUTES = {("get", "/api/v1/public/outages"), ("get", "/api/v1/public/outages.geojson")}
INCIDENT_CHANGES = {("post", "/api/v1/incidents"), ("patch", "/api/v1/incidents/{incident_id}")}
ERROR_BODY = "#/components/schemas/ErrorBody"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def api_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [o for o in operations(spec) if o[1].startswith("/api/v1/")]


def error_ref(op: dict[str, Any], status: int) -> str | None:
    response = op["responses"].get(str(status))
    if response is None:
        return None
    schema: dict[str, Any] = response.get("content", {}).get("application/json", {}).get("schema")
    return schema.get("$ref") if schema else None


def test_the_schema_no_longer_names_fastapis_validation_error(spec: dict[str, Any]) -> None:
    text = json.dumps(spec)
    assert "HTTPValidationError" not in text
    assert "ValidationError" not in spec["components"]["schemas"]
    assert "ErrorBody" in spec["components"]["schemas"]


def test_every_json_operation_declares_a_named_success_model(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if path.startswith("/webhooks/") or path == "/metrics":
            continue
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert successes, f"{method} {path} documents no 2xx"
        for status, response in successes.items():
            content = response.get("content", {})
            media = "application/geo+json" if path.endswith(".geojson") else "application/json"
            assert list(content) == [media], f"{method} {path} {status}: {list(content)}"
            schema = content[media].get("schema", {})
            assert schema.get("$ref", "").startswith("#/components/schemas/"), (
                f"{method} {path} {status}: {schema}"
            )


def test_the_webhooks_and_metrics_document_their_media_types(spec: dict[str, Any]) -> None:
    inbound = spec["paths"]["/webhooks/twilio/inbound"]["post"]
    assert inbound["responses"]["200"]["content"]["application/xml"]["schema"]["type"] == "string"
    assert "application/x-www-form-urlencoded" in inbound["requestBody"]["content"]
    status = spec["paths"]["/webhooks/twilio/status"]["post"]
    assert {"200", "202"} <= set(status["responses"])
    assert all("content" not in status["responses"][s] for s in ("200", "202"))  # empty bodies
    assert "application/x-www-form-urlencoded" in status["requestBody"]["content"]
    metrics = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]


def test_every_api_operation_documents_401_with_the_error_body(spec: dict[str, Any]) -> None:
    for method, path, op in api_operations(spec):
        if (method, path) in PUBLIC_ROUTES:
            assert "401" not in op["responses"], f"{method} {path}: no key, no 401"
            continue
        assert error_ref(op, 401) == ERROR_BODY, f"{method} {path}"
        assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True


def test_operations_guarded_by_a_role_document_403(spec: dict[str, Any]) -> None:
    for method, path, op in api_operations(spec):
        if (method, path) in CUSTOMER_LINK_ROUTES | PUBLIC_ROUTES:
            assert "403" not in op["responses"], f"{method} {path}: no role, no 403"
        else:
            assert error_ref(op, 403) == ERROR_BODY, f"{method} {path}"


def test_operations_on_an_id_document_404(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if "{" in path or (method, path) in CUSTOMER_LINK_ROUTES:
            assert error_ref(op, 404) == ERROR_BODY, f"{method} {path}"


def test_operations_with_a_body_document_400_413_and_422(spec: dict[str, Any]) -> None:
    bodies = [o for o in operations(spec) if "requestBody" in o[2]]
    assert len(bodies) >= 6  # customers, incidents post and patch, push, the two webhooks
    for method, path, op in bodies:
        for status in (400, 413, 422):
            assert error_ref(op, status) == ERROR_BODY, f"{method} {path} {status}"


def test_operations_with_query_parameters_document_422(spec: dict[str, Any]) -> None:
    for method, path, op in api_operations(spec):
        if any(p["in"] == "query" for p in op.get("parameters", [])):
            assert error_ref(op, 422) == ERROR_BODY, f"{method} {path}"


def test_changes_to_a_closed_incident_document_409(spec: dict[str, Any]) -> None:
    for method, path in INCIDENT_CHANGES:
        assert error_ref(spec["paths"][path][method], 409) == ERROR_BODY, f"{method} {path}"


def test_readiness_documents_its_503_body(spec: dict[str, Any]) -> None:
    readyz = spec["paths"]["/readyz"]["get"]["responses"]
    assert (
        readyz["503"]["content"]["application/json"]["schema"]
        == (readyz["200"]["content"]["application/json"]["schema"])
    )


def test_the_documented_error_body_matches_real_error_answers(
    client: TestClient, keys: dict
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    assert client.post("/api/v1/customers", json=town(), headers=keys["admin"]).status_code == 200
    made = client.post(
        "/api/v1/incidents",
        json={"external_id": "E-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    ).json()
    closed = client.post(
        "/api/v1/incidents",
        json={"external_id": "E-2", "area": cells(2, 2, 3, 3), "status": "restored"},
        headers=keys["operator"],
    ).json()
    answers = [
        ("GET", "/api/v1/incidents/{incident_id}", client.get("/api/v1/incidents/inc_x"), 401),
        (
            "GET",
            "/api/v1/customers/{customer_id}",
            client.get("/api/v1/customers/NOPE", headers=keys["agent"]),
            404,
        ),
        (
            "POST",
            "/api/v1/incidents",
            client.post("/api/v1/incidents", json={"external_id": "E-1"}, headers=keys["agent"]),
            403,
        ),
        (
            "POST",
            "/api/v1/incidents",
            client.post(
                "/api/v1/incidents",
                content=b"{oops",
                headers={**keys["operator"], "Content-Type": "application/json"},
            ),
            400,
        ),
        (
            "PATCH",
            "/api/v1/incidents/{incident_id}",
            client.patch(
                f"/api/v1/incidents/{made['id']}", json={"kind": 1}, headers=keys["operator"]
            ),
            422,
        ),
        (
            "POST",
            "/api/v1/customers",
            client.post("/api/v1/customers", content=b"", headers=keys["admin"]),
            400,
        ),
        (
            "PATCH",
            "/api/v1/incidents/{incident_id}",
            client.patch(
                f"/api/v1/incidents/{closed['id']}", json={"cause": "x"}, headers=keys["operator"]
            ),
            409,
        ),
        (
            "GET",
            "/api/v1/incidents",
            client.get("/api/v1/incidents?limit=0", headers=keys["agent"]),
            422,
        ),
    ]
    for method, path, answer, status in answers:
        assert answer.status_code == status, answer.text
        operation = schema[path][method]
        assert str(status) in operation.definition.raw["responses"]
        operation.validate_response(answer)
    assert "details" in answers[-1][2].json()["error"]  # the documented optional list
