"""An agent's actions on a customer through the API (agent keys): a note, a message sent again
on another channel, preferences changed with the reason. Each lands on the timeline; each bad
request is the contract's JSON error with a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage_notify.runtime import Runtime
from tests.town import cells, town

Headers = dict[str, dict[str, str]]


@pytest.fixture
def outage(client: TestClient, keys: Headers, runtime: Runtime) -> dict[str, Any]:
    """The town (SMS chosen) in an outage over C-0-0's corner, its SMS delivered."""
    answer = client.post("/api/v1/customers", json=town(channels="sms"), headers=keys["admin"])
    assert answer.status_code == 200
    body = {"external_id": "API-1", "area": cells(0, 0, 1, 1), "cause": "fallen tree"}
    assert client.post("/api/v1/incidents", json=body, headers=keys["operator"]).status_code == 201
    runtime.drain()
    events = client.get("/api/v1/customers/C-0-0/timeline", headers=keys["agent"]).json()["events"]
    [sms] = [e for e in events if e["type"] == "message" and e["channel"] == "sms"]
    return {"sms": sms["notification_id"]}


def timeline_types(client: TestClient, keys: Headers) -> list[str]:
    answer = client.get("/api/v1/customers/C-0-0/timeline", headers=keys["agent"])
    return [e["type"] for e in answer.json()["events"]]


def error(answer: Any, status: int) -> str:
    assert answer.status_code == status, answer.text
    message = answer.json()["error"]["message"]
    assert isinstance(message, str) and message
    return message


def test_a_note(client: TestClient, keys: Headers, outage: dict[str, Any]) -> None:
    path = "/api/v1/customers/C-0-0/notes"
    answer = client.post(path, json={"text": "Called about the estimate."}, headers=keys["agent"])
    assert answer.status_code == 201
    assert answer.json()["by"] == "apikey:test-agent"
    assert "note" in timeline_types(client, keys)
    assert "empty" in error(client.post(path, json={"text": " "}, headers=keys["agent"]), 422)
    assert "control" in error(client.post(path, json={"text": "a\x00"}, headers=keys["agent"]), 422)
    assert error(client.post(path, json={"text": "x" * 2001}, headers=keys["agent"]), 422)
    assert error(client.post(path, json={}, headers=keys["agent"]), 422)
    assert error(client.post(path, json={"text": "hi"}, headers=keys["operator"]), 403)
    missing = "/api/v1/customers/nobody/notes"
    assert error(client.post(missing, json={"text": "hi"}, headers=keys["agent"]), 404)


def test_a_report(client: TestClient, keys: Headers, outage: dict[str, Any]) -> None:
    path = "/api/v1/customers/C-0-0/reports"
    answer = client.post(path, json={"text": "Dark since six."}, headers=keys["agent"])
    assert answer.status_code == 201
    body = answer.json()
    assert body["by"] == "apikey:test-agent" and body["text"] == "Dark since six."
    assert isinstance(body["id"], int) and body["customer_id"] == "C-0-0"
    assert "report" in timeline_types(client, keys)
    assert client.post(path, json={}, headers=keys["agent"]).json()["text"] is None
    assert "control" in error(client.post(path, json={"text": "a\x00"}, headers=keys["agent"]), 422)
    assert "500" in error(client.post(path, json={"text": "x" * 501}, headers=keys["agent"]), 422)
    assert error(client.post(path, json={"text": "hi"}, headers=keys["operator"]), 403)
    missing = "/api/v1/customers/nobody/reports"
    assert error(client.post(missing, json={"text": "hi"}, headers=keys["agent"]), 404)


def test_resend(client: TestClient, keys: Headers, outage: dict[str, Any]) -> None:
    path = "/api/v1/customers/C-0-0/resend"
    body = {"notification_id": outage["sms"], "channel": "email"}
    answer = client.post(path, json=body, headers=keys["agent"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["to"] == "c0.0@example.com" and answer.json()["of"] == outage["sms"]
    assert "resend" in timeline_types(client, keys)
    assert "already" in error(client.post(path, json=body, headers=keys["agent"]), 409)
    same = {**body, "channel": "sms"}
    assert "another channel" in error(client.post(path, json=same, headers=keys["agent"]), 422)
    assert error(client.post(path, json={**body, "channel": "fax"}, headers=keys["agent"]), 422)
    assert error(
        client.post(path, json={**body, "notification_id": 2**31 - 1}, headers=keys["agent"]), 404
    )
    assert error(
        client.post(path, json={**body, "notification_id": 2**40}, headers=keys["agent"]), 422
    )


def test_preferences(client: TestClient, keys: Headers, outage: dict[str, Any]) -> None:
    path = "/api/v1/customers/C-0-0/preferences"
    body = {"quiet_hours": "22-7", "reason": "asked on the phone"}
    answer = client.post(path, json=body, headers=keys["agent"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["changes"] == {"quiet_hours": [None, "22:00-07:00"]}
    assert "preference_changed" in timeline_types(client, keys)
    customer = client.get("/api/v1/customers/C-0-0", headers=keys["agent"]).json()
    assert customer["quiet_hours"] == "22:00-07:00" and customer["channels"] == ["sms"]
    assert "nothing to change" in error(client.post(path, json=body, headers=keys["agent"]), 422)
    assert "reason" in error(
        client.post(path, json={"language": "sv", "reason": " "}, headers=keys["agent"]), 422
    )
    for bad in ({"language": "de"}, {"channels": ["fax"]}, {"channels": []}, {"quiet_hours": "x"}):
        assert error(client.post(path, json={**bad, "reason": "r"}, headers=keys["agent"]), 422)
    assert error(client.post(path, json={"reason": "r", "other": 1}, headers=keys["agent"]), 422)
