"""The operator's reads: incidents by source, kind and overdue ETR; an incident's history with
who made each revision; and the priority customers it affects, in the order to call them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.runtime import Runtime
from tests.engine import at, upsert_incident
from tests.town import box, cells, town

START = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass
class Ops:
    runtime: Runtime
    client: TestClient
    keys: dict[str, dict[str, str]]

    def post(self, body: dict[str, Any], key: str = "operator") -> dict[str, Any]:
        answer = self.client.post("/api/v1/incidents", json=body, headers=self.keys[key])
        assert answer.status_code == 201, answer.text
        self.runtime.planner.drain()
        return dict(answer.json())

    def patch(self, incident_id: str, body: dict[str, Any], key: str = "operator") -> Any:
        answer = self.client.patch(
            f"/api/v1/incidents/{incident_id}", json=body, headers=self.keys[key]
        )
        assert answer.status_code == 200, answer.text
        self.runtime.planner.drain()
        return answer.json()

    def get(self, path: str, key: str = "agent") -> Any:
        answer = self.client.get(f"/api/v1{path}", headers=self.keys[key])
        assert answer.status_code == 200, answer.text
        return answer.json()

    def listed(self, query: str) -> set[str]:
        return {i["external_id"] for i in self.get(f"/incidents?{query}")["incidents"]}


@pytest.fixture
def ops(make_settings: Callable[..., Settings]) -> Iterator[Ops]:
    runtime = Runtime.build(make_settings(), clock=ManualClock(START))
    keys = {}
    with runtime.transaction() as session:
        for role, name in [
            ("admin", "admin"),
            ("operator", "day-shift"),
            ("operator", "night-shift"),
            ("agent", "desk"),
        ]:
            _, key = create_key(session, role=role, name=name, now=START)
            keys[name if role == "operator" else role] = {"Authorization": f"Bearer {key}"}
    keys["operator"] = keys["day-shift"]
    with TestClient(create_app(runtime=runtime)) as client:
        yield Ops(runtime, client, keys)
    runtime.close()


def load(ops: Ops, priorities: dict[str, str] | None = None) -> None:
    people = [{**c, "priority": (priorities or {}).get(c["customer_id"], "")} for c in town()]
    answer = ops.client.post("/api/v1/customers", json=people, headers=ops.keys["admin"])
    assert answer.status_code == 200 and not answer.json()["rejected"], answer.text


def iso(moment: datetime) -> str:
    return moment.isoformat()


# ---- GET /incidents filters ---------------------------------------------------------------------


def test_incidents_filter_by_source_kind_and_status(ops: Ops) -> None:
    load(ops)
    ops.post({"external_id": "O-1", "area": cells(0, 0, 1, 1)})
    ops.post(
        {
            "external_id": "P-1",
            "kind": "planned",
            "area": cells(5, 0, 6, 1),
            "starts_at": iso(START + 48 * HOUR),
            "ends_at": iso(START + 52 * HOUR),
        }
    )
    upsert_incident(
        ops.runtime, {"external_id": "F-1", "area": cells(3, 3, 4, 4)}, now=START, source="feed:pge"
    )
    done = ops.post({"external_id": "O-2", "area": cells(8, 0, 9, 1)})
    ops.patch(done["id"], {"status": "restored"})
    assert ops.listed("") == {"O-1", "O-2", "P-1", "F-1"}
    assert ops.listed("source=operator") == {"O-1", "O-2", "P-1"}
    assert ops.listed("source=feed:pge") == {"F-1"}
    assert ops.listed("source=feed") == set()  # exact, not a prefix
    assert ops.listed("source=%00") == set()
    assert ops.listed("kind=planned") == {"P-1"}
    assert ops.listed("kind=unplanned&source=operator") == {"O-1", "O-2"}
    assert ops.listed("status=active&source=operator") == {"O-1", "P-1"}
    assert ops.listed("status=restored") == {"O-2"}
    [feed] = ops.get("/incidents?source=feed:pge")["incidents"]
    assert feed["source"] == "feed:pge" and feed["overdue"] is False


def test_overdue_lists_open_incidents_whose_etr_has_passed_by_the_clock(ops: Ops) -> None:
    load(ops)
    soon = ops.post({"external_id": "SOON", "area": cells(0, 0, 1, 1), "etr": iso(START + HOUR)})
    assert soon["overdue"] is False
    ops.post({"external_id": "LATER", "area": cells(2, 0, 3, 1), "etr": iso(START + 3 * HOUR)})
    ops.post({"external_id": "NO-ETR", "area": cells(4, 0, 5, 1)})
    closed = ops.post(
        {"external_id": "CLOSED", "area": cells(6, 0, 7, 1), "etr": iso(START + HOUR)}
    )
    ops.patch(closed["id"], {"status": "restored"})
    assert ops.listed("overdue=true") == set()
    assert ops.listed("overdue=false") == {"SOON", "LATER", "NO-ETR", "CLOSED"}

    at(ops.runtime, START + HOUR)  # the ETR itself: the promised time has come, no power
    assert ops.listed("overdue=true") == {"SOON"}
    assert ops.listed("overdue=false") == {"LATER", "NO-ETR", "CLOSED"}
    assert ops.listed("overdue=true&status=active&source=operator&kind=unplanned") == {"SOON"}
    assert ops.listed("overdue=true&source=feed:pge") == set()
    flags = {i["external_id"]: i["overdue"] for i in ops.get("/incidents")["incidents"]}
    assert flags == {"SOON": True, "LATER": False, "NO-ETR": False, "CLOSED": False}
    assert ops.get(f"/incidents/{soon['id']}")["overdue"] is True
    detail = ops.get("/customers/C-0-0")
    assert [(i["external_id"], i["overdue"]) for i in detail["current_incidents"]] == [
        ("SOON", True)
    ]

    at(ops.runtime, START + 4 * HOUR)
    assert ops.listed("overdue=true") == {"SOON", "LATER"}
    moved = ops.patch(soon["id"], {"etr": iso(START + 6 * HOUR)})
    assert moved["overdue"] is False  # a new ETR in the future: no longer overdue
    assert ops.listed("overdue=true") == {"LATER"}


@pytest.mark.parametrize(
    "query",
    [
        "overdue=maybe",
        "overdue=",
        "kind=storm",
        "status=overdue",
        "source=" + "x" * 301,
        "limit=0",
        "limit=1001",
        "offset=-1",
    ],
)
def test_bad_incident_filters_are_422(ops: Ops, query: str) -> None:
    answer = ops.client.get(f"/api/v1/incidents?{query}", headers=ops.keys["agent"])
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"]


# ---- GET /incidents/{id}/revisions --------------------------------------------------------------


def test_revisions_show_every_change_oldest_first_and_who_made_it(ops: Ops) -> None:
    load(ops)
    made = ops.post({"external_id": "H-1", "area": cells(0, 0, 1, 1), "cause": "storm"})
    at(ops.runtime, START + HOUR)
    ops.patch(made["id"], {"etr": iso(START + 5 * HOUR)}, key="night-shift")
    at(ops.runtime, START + 2 * HOUR)
    ops.patch(made["id"], {"status": "restored"})
    history = ops.get(f"/incidents/{made['id']}/revisions")
    assert history["incident_id"] == made["id"] and history["next_after_version"] is None
    revisions = history["revisions"]
    assert [(r["version"], r["at"], r["actor"]) for r in revisions] == [
        (1, iso(START), "apikey:day-shift"),
        (2, iso(START + HOUR), "apikey:night-shift"),
        (3, iso(START + 2 * HOUR), "apikey:day-shift"),
    ]
    assert "NEW" in revisions[0]["changes"]
    assert "ETR_CHANGED" in revisions[1]["changes"]
    assert "RESTORED" in revisions[2]["changes"]
    assert revisions[0]["snapshot"]["cause"] == "storm"
    assert revisions[0]["snapshot"]["etr"] is None
    assert datetime.fromisoformat(revisions[1]["snapshot"]["etr"]) == START + 5 * HOUR
    assert revisions[2]["snapshot"]["status"] == "restored"


def test_revisions_page_by_version(ops: Ops) -> None:
    load(ops)
    made = ops.post({"external_id": "H-2", "area": cells(0, 0, 1, 1)})
    for n in range(1, 5):
        ops.patch(made["id"], {"etr": iso(START + n * HOUR)})
    path = f"/incidents/{made['id']}/revisions"
    first = ops.get(f"{path}?limit=2")
    assert [r["version"] for r in first["revisions"]] == [1, 2]
    assert first["next_after_version"] == 2
    second = ops.get(f"{path}?limit=2&after_version=2")
    assert [r["version"] for r in second["revisions"]] == [3, 4]
    assert second["next_after_version"] == 4
    last = ops.get(f"{path}?limit=2&after_version=4")
    assert [r["version"] for r in last["revisions"]] == [5]
    assert last["next_after_version"] is None
    beyond = ops.get(f"{path}?after_version=99")
    assert (beyond["revisions"], beyond["next_after_version"]) == ([], None)


def test_a_feed_s_revisions_name_their_actor(ops: Ops) -> None:
    load(ops)
    outcome = upsert_incident(
        ops.runtime, {"external_id": "F-9", "area": cells(0, 0, 1, 1)}, now=START, source="feed:x"
    )
    [revision] = ops.get(f"/incidents/{outcome.incident.id}/revisions", key="operator")["revisions"]
    assert revision["actor"] == "apikey:test"  # what tests.engine passes as the actor


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "after_version=-1", "after_version=one", "limit=2.5"]
)
def test_bad_revision_paging_is_422(ops: Ops, query: str) -> None:
    load(ops)
    made = ops.post({"external_id": "H-3", "area": cells(0, 0, 1, 1)})
    answer = ops.client.get(
        f"/api/v1/incidents/{made['id']}/revisions?{query}", headers=ops.keys["agent"]
    )
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize("suffix", ["revisions", "priority-customers"])
def test_an_unknown_incident_is_404(ops: Ops, suffix: str) -> None:
    answer = ops.client.get(f"/api/v1/incidents/nope/{suffix}", headers=ops.keys["agent"])
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "no incident 'nope'"


@pytest.mark.parametrize("suffix", ["revisions", "priority-customers"])
def test_the_new_reads_need_a_reader_key(ops: Ops, suffix: str) -> None:
    load(ops)
    made = ops.post({"external_id": "K-1", "area": cells(0, 0, 1, 1)})
    path = f"/api/v1/incidents/{made['id']}/{suffix}"
    assert ops.client.get(path).status_code == 401
    for key in ("agent", "operator", "admin"):
        assert ops.client.get(path, headers=ops.keys[key]).status_code == 200


# ---- GET /incidents/{id}/priority-customers -----------------------------------------------------

PRIORITIES = {
    "C-0-0": "critical_facility",
    "C-1-0": "LIFE_SUPPORT",
    "C-1-1": "critical_facility",
    "C-0-1": "life_support",
    "C-3-3": "life_support",  # outside the outage
}


def test_priority_customers_are_listed_life_support_first_then_by_id(ops: Ops) -> None:
    load(ops, PRIORITIES)
    made = ops.post({"external_id": "PR-1", "area": cells(0, 0, 1, 1)})
    answer = ops.get(f"/incidents/{made['id']}/priority-customers")
    assert answer["incident_id"] == made["id"]
    assert [(c["customer_id"], c["priority"]) for c in answer["customers"]] == [
        ("C-0-1", "life_support"),
        ("C-1-0", "life_support"),
        ("C-0-0", "critical_facility"),
        ("C-1-1", "critical_facility"),
    ]
    first = answer["customers"][0]
    assert first == {
        "customer_id": "C-0-1",
        "name": "Customer 0/1",
        "address": "Testikatu 11, Helsinki",
        "phone": "+358401000010",
        "priority": "life_support",
        "language": "sv",
    }


def test_released_customers_are_no_longer_listed(ops: Ops) -> None:
    load(ops, PRIORITIES)
    made = ops.post({"external_id": "PR-2", "area": cells(0, 0, 1, 1)})
    column_0 = box(24.895, 60.145, 24.905, 60.165)  # only col 0, rows 0 and 1
    ops.patch(made["id"], {"area": column_0})
    answer = ops.get(f"/incidents/{made['id']}/priority-customers", key="operator")
    assert [c["customer_id"] for c in answer["customers"]] == ["C-0-1", "C-0-0"]
    ops.patch(made["id"], {"status": "restored"})
    assert ops.get(f"/incidents/{made['id']}/priority-customers")["customers"] == []


def test_an_incident_without_priority_customers_lists_none(ops: Ops) -> None:
    load(ops, PRIORITIES)
    made = ops.post({"external_id": "PR-3", "area": cells(6, 0, 9, 4)})
    assert made["affected_customers"] > 0
    assert ops.get(f"/incidents/{made['id']}/priority-customers")["customers"] == []
