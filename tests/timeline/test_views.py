"""The timeline as people read it: every time in its text is in the configured local zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.town import cells, town


def test_incident_lines_show_times_in_the_local_zone(
    client: TestClient, keys: dict, runtime: Runtime
) -> None:
    client.post("/api/v1/customers", json=town(), headers=keys["admin"])
    etr = (utcnow() + timedelta(days=1)).replace(hour=16, minute=30, second=0, microsecond=0)
    client.post(
        "/api/v1/incidents",
        json={"external_id": "T-1", "area": cells(0, 0, 1, 1), "etr": etr.isoformat()},
        headers=keys["operator"],
    )
    runtime.planner.drain()
    events = client.get("/api/v1/customers/C-0-0/timeline", headers=keys["agent"]).json()["events"]
    (affected,) = [e for e in events if e["type"] == "incident_affected"]
    local = etr.astimezone(ZoneInfo("Europe/Helsinki"))
    assert f"ETR {local:%Y-%m-%d %H:%M} {local.tzname()}" in affected["body"]
    assert "+00:00" not in affected["body"] and "T16:30" not in affected["body"]
    assert affected["incident"]["etr"] == etr.astimezone(UTC).isoformat()  # data stays exact


def test_planned_windows_show_in_the_local_zone(
    client: TestClient, keys: dict, runtime: Runtime
) -> None:
    client.post("/api/v1/customers", json=town(), headers=keys["admin"])
    starts = datetime(2099, 6, 1, 6, 0, tzinfo=UTC)
    client.post(
        "/api/v1/incidents",
        json={
            "external_id": "W-1",
            "kind": "planned",
            "area": cells(0, 0, 1, 1),
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=4)).isoformat(),
        },
        headers=keys["operator"],
    )
    runtime.planner.drain()
    events = client.get("/api/v1/customers/C-0-0/timeline", headers=keys["agent"]).json()["events"]
    (affected,) = [e for e in events if e["type"] == "incident_affected"]
    assert "window 2099-06-01 09:00 EEST – 2099-06-01 13:00 EEST" in affected["body"]
