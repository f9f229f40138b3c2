"""Customer links through the API: they open their customer's feed until they expire (a while
after their incident closes) or an agent revokes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.db.models import Incident
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.town import cells, town


def feed(client: TestClient, token: str) -> int:
    return client.get("/api/v1/feed", headers={"Authorization": f"Bearer {token}"}).status_code


def setup_town(client: TestClient, keys: dict) -> str:
    assert client.post("/api/v1/customers", json=town(), headers=keys["admin"]).status_code == 200
    answer = client.post(
        "/api/v1/incidents",
        json={"external_id": "L-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    )
    return str(answer.json()["id"])


def test_an_incident_link_works_until_some_time_after_the_incident_closes(
    client: TestClient, keys: dict, runtime: Runtime
) -> None:
    incident = setup_town(client, keys)
    link = client.get(
        f"/api/v1/customers/C-0-0/link?incident_id={incident}", headers=keys["agent"]
    ).json()
    assert link["incident_id"] == incident
    assert link["expires_at"] is None and link["lifetime_days"] == 30  # lives while it is open
    assert feed(client, link["token"]) == 200
    client.patch(
        f"/api/v1/incidents/{incident}", json={"status": "restored"}, headers=keys["operator"]
    )
    assert feed(client, link["token"]) == 200  # closed just now: still readable
    again = client.get(
        f"/api/v1/customers/C-0-0/link?incident_id={incident}", headers=keys["agent"]
    ).json()
    closed = client.get(f"/api/v1/incidents/{incident}", headers=keys["agent"]).json()
    assert (
        again["expires_at"]
        == (datetime.fromisoformat(closed["closed_at"]) + timedelta(days=30)).isoformat()
    )
    with runtime.transaction() as session:  # a month and a day later
        session.execute(update(Incident).values(closed_at=utcnow() - timedelta(days=31)))
    answer = client.get("/api/v1/feed", headers={"Authorization": f"Bearer {link['token']}"})
    assert answer.status_code == 401 and answer.json()["error"]["message"] == "this link expired"


def test_an_agent_can_revoke_a_customer_s_links(client: TestClient, keys: dict) -> None:
    setup_town(client, keys)
    old = client.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()["token"]
    other = client.get("/api/v1/customers/C-1-0/link", headers=keys["agent"]).json()["token"]
    revoked = client.delete("/api/v1/customers/C-0-0/link", headers=keys["agent"])
    assert revoked.status_code == 200 and revoked.json()["customer_id"] == "C-0-0"
    answer = client.get("/api/v1/feed", headers={"Authorization": f"Bearer {old}"})
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]
    assert feed(client, other) == 200  # another customer's links are untouched
    new = client.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()["token"]
    assert feed(client, new) == 200


def test_a_link_to_an_unknown_incident_is_404(client: TestClient, keys: dict) -> None:
    setup_town(client, keys)
    answer = client.get("/api/v1/customers/C-0-0/link?incident_id=inc_nope", headers=keys["agent"])
    assert answer.status_code == 404


def test_a_link_made_before_an_erasure_does_not_open_a_re_imported_customer(
    client: TestClient, keys: dict, database_url: str
) -> None:
    from tests.conftest import TEST_SECRET
    from tests.test_cli import run

    setup_town(client, keys)
    old = client.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()["token"]
    erased = run(
        database_url,
        "customers",
        "erase",
        "C-0-0",
        extra_env={"OUTAGE_NOTIFY_SECRET_KEY": TEST_SECRET},
    )
    assert erased.returncode == 0, erased.stderr
    client.post("/api/v1/customers", json=town()[:1], headers=keys["admin"])  # C-0-0 again
    answer = client.get("/api/v1/feed", headers={"Authorization": f"Bearer {old}"})
    assert answer.status_code == 401
    new = client.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()["token"]
    assert feed(client, new) == 200


def test_a_link_expires_by_the_runtime_s_clock(make_settings: Callable[..., Settings]) -> None:
    """The API reads "now" from the runtime's clock: a test moves it instead of the data."""
    clock = ManualClock(utcnow())
    runtime = Runtime.build(make_settings(), clock=clock)
    keys = {}
    with runtime.transaction() as session:
        for role in ("admin", "agent"):
            _, key = create_key(session, role=role, name=role, now=clock.now())
            keys[role] = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(runtime=runtime)) as client:
        assert (
            client.post("/api/v1/customers", json=town(), headers=keys["admin"]).status_code == 200
        )
        link = client.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()
        assert link["expires_at"] == (clock.now() + timedelta(days=30)).isoformat()
        clock.advance(timedelta(days=30) - timedelta(minutes=1))
        assert feed(client, link["token"]) == 200
        clock.advance(timedelta(minutes=2))
        answer = client.get("/api/v1/feed", headers={"Authorization": f"Bearer {link['token']}"})
        assert (
            answer.status_code == 401 and answer.json()["error"]["message"] == "this link expired"
        )
