"""The landing page is public: how many customers and messages there are is for staff only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.town import cells, town


def test_counts_show_only_to_signed_in_staff(client: TestClient, keys: dict) -> None:
    client.post("/api/v1/customers", json=town(), headers=keys["admin"])
    client.post(
        "/api/v1/incidents",
        json={"external_id": "L-1", "area": cells(0, 0, 2, 2)},
        headers=keys["operator"],
    )
    public = client.get("/")
    assert public.status_code == 200
    for hidden in ('id="count-customers"', 'id="count-incidents"', 'id="count-messages"'):
        assert hidden not in public.text
    assert "Agent desk" in public.text  # the way in is still there
    agent_key = keys["agent"]["Authorization"].removeprefix("Bearer ")
    signed_in = client.post("/agent/login", data={"api_key": agent_key}, follow_redirects=False)
    assert signed_in.status_code in (302, 303)
    staff = client.get("/")
    assert 'id="count-customers">50<' in staff.text
    assert 'id="count-incidents">1<' in staff.text
