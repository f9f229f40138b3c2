"""Bad input of every endpoint gets a 4xx with a JSON message, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from outage_notify.db.models import (
    Customer,
    Incident,
    Notification,
    OutboxItem,
    PushSubscription,
    TimelineEvent,
)
from outage_notify.runtime import Runtime
from tests.town import box, cells, town

SWAPPED = {  # Helsinki with lat and lon swapped: inside the ranges, outside the territory
    "type": "Polygon",
    "coordinates": [[[60.15, 24.9], [60.2, 24.9], [60.2, 25.0], [60.15, 25.0], [60.15, 24.9]]],
}

BAD_INCIDENTS: list[tuple[str, Any, int, str]] = [
    ("not json", "{not json", 400, "not valid JSON"),
    ("a list", [], 422, "body"),
    ("no external_id", {"area": cells(0, 0, 1, 1)}, 422, "external_id"),
    ("empty external_id", {"external_id": "", "area": cells(0, 0, 1, 1)}, 422, "external_id"),
    ("unknown kind", {"external_id": "X", "kind": "storm", "area": cells(0, 0, 1, 1)}, 422, "kind"),
    (
        "unknown status",
        {"external_id": "X", "status": "fixed", "area": cells(0, 0, 1, 1)},
        422,
        "status",
    ),
    ("no area or grid", {"external_id": "X"}, 422, "area, feeders or transformers"),
    (
        "point area",
        {"external_id": "X", "area": {"type": "Point", "coordinates": [24.9, 60.1]}},
        422,
        "Polygon",
    ),
    (
        "line area",
        {
            "external_id": "X",
            "area": {"type": "LineString", "coordinates": [[24.9, 60.1], [25, 60.2]]},
        },
        422,
        "Polygon",
    ),
    ("lat out of range", {"external_id": "X", "area": box(24.9, 95, 25, 96)}, 422, "out of range"),
    ("lon out of range", {"external_id": "X", "area": box(190, 60, 191, 61)}, 422, "out of range"),
    (
        "swapped lat/lon",
        {"external_id": "X", "area": SWAPPED},
        422,
        "outside the service territory",
    ),
    (
        "short ring",
        {
            "external_id": "X",
            "area": {"type": "Polygon", "coordinates": [[[24.9, 60.1], [25, 60.2], [24.9, 60.1]]]},
        },
        422,
        "at least 4",
    ),
    (
        "string coordinates",
        {"external_id": "X", "area": {"type": "Polygon", "coordinates": "nope"}},
        422,
        "coordinates",
    ),
    (
        "nan coordinate",
        {
            "external_id": "X",
            "area": {
                "type": "Polygon",
                "coordinates": [[["a", 60.1], [25, 60.2], [25, 60.1], ["a", 60.1]]],
            },
        },
        422,
        "position",
    ),
    (
        "etr without offset",
        {"external_id": "X", "area": cells(0, 0, 1, 1), "etr": "2026-11-25T18:30:00"},
        422,
        "offset",
    ),
    ("etr not a time", {"external_id": "X", "area": cells(0, 0, 1, 1), "etr": "soon"}, 422, "etr"),
    (
        "planned without window",
        {"external_id": "X", "kind": "planned", "area": cells(0, 0, 1, 1)},
        422,
        "starts_at and ends_at",
    ),
    (
        "planned ends first",
        {
            "external_id": "X",
            "kind": "planned",
            "area": cells(0, 0, 1, 1),
            "starts_at": "2026-12-01T10:00:00+02:00",
            "ends_at": "2026-12-01T09:00:00+02:00",
        },
        422,
        "ends_at",
    ),
    (
        "message in german",
        {"external_id": "X", "area": cells(0, 0, 1, 1), "message": {"de": "Hallo"}},
        422,
        "fi, sv, en",
    ),
    ("feeders not a list", {"external_id": "X", "feeders": "F-1"}, 422, "feeders"),
]


@pytest.fixture
def town_client(client: TestClient, keys: dict) -> TestClient:
    assert client.post("/api/v1/customers", json=town(), headers=keys["admin"]).status_code == 200
    return client


def counts(runtime: Runtime) -> dict[str, int]:
    models = (Customer, Incident, Notification, OutboxItem, PushSubscription, TimelineEvent)
    with runtime.transaction() as session:
        return {
            m.__name__: session.scalar(select(func.count()).select_from(m)) or 0 for m in models
        }


def assert_error(answer: Any, status: int, fragment: str) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) >= {"code", "message"}
    assert fragment.lower() in answer.text.lower(), error


@pytest.mark.parametrize(
    ("name", "body", "status", "fragment"), BAD_INCIDENTS, ids=[b[0] for b in BAD_INCIDENTS]
)
def test_bad_incident_posts_are_refused_and_change_nothing(
    town_client: TestClient,
    runtime: Runtime,
    keys: dict,
    name: str,
    body: Any,
    status: int,
    fragment: str,
) -> None:
    before = counts(runtime)
    if isinstance(body, str):
        answer = town_client.post(
            "/api/v1/incidents",
            content=body,
            headers={**keys["operator"], "Content-Type": "application/json"},
        )
    else:
        answer = town_client.post("/api/v1/incidents", json=body, headers=keys["operator"])
    assert_error(answer, status, fragment)
    assert counts(runtime) == before


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 422, "nothing to change"),
        ({"kind": "planned"}, 422, "kind"),
        ({"external_id": "other"}, 422, "external_id"),
        ({"etr": "tomorrow"}, 422, "etr"),
        ({"status": "fixed"}, 422, "status"),
        ({"area": {"type": "Point", "coordinates": [24.9, 60.1]}}, 422, "Polygon"),
        ({"area": SWAPPED}, 422, "territory"),
        ({"area": None}, 422, "area, feeders or transformers"),
    ],
)
def test_bad_patches_are_refused_and_change_nothing(
    town_client: TestClient, runtime: Runtime, keys: dict, body: Any, status: int, fragment: str
) -> None:
    made = town_client.post(
        "/api/v1/incidents",
        json={"external_id": "P-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    ).json()
    before = counts(runtime)
    answer = town_client.patch(
        f"/api/v1/incidents/{made['id']}", json=body, headers=keys["operator"]
    )
    assert_error(answer, status, fragment)
    assert counts(runtime) == before


def test_a_closed_incident_cannot_be_reopened_but_can_be_reposted_unchanged(
    town_client: TestClient, runtime: Runtime, keys: dict
) -> None:
    body = {"external_id": "C-1", "area": cells(0, 0, 1, 1)}
    made = town_client.post("/api/v1/incidents", json=body, headers=keys["operator"]).json()
    town_client.patch(
        f"/api/v1/incidents/{made['id']}", json={"status": "restored"}, headers=keys["operator"]
    )
    before = counts(runtime)
    again = town_client.post(
        "/api/v1/incidents", json={**body, "status": "restored"}, headers=keys["operator"]
    )
    assert again.status_code == 200 and again.json()["changes"] == []
    reopened = town_client.post("/api/v1/incidents", json=body, headers=keys["operator"])
    assert_error(reopened, 409, "can no longer change")
    assert counts(runtime) == before


def test_unknown_ids_are_404(town_client: TestClient, keys: dict) -> None:
    assert_error(
        town_client.get("/api/v1/incidents/inc_nope", headers=keys["agent"]), 404, "inc_nope"
    )
    assert_error(
        town_client.patch(
            "/api/v1/incidents/inc_nope", json={"status": "restored"}, headers=keys["operator"]
        ),
        404,
        "inc_nope",
    )
    for path in (
        "/api/v1/customers/NOPE",
        "/api/v1/customers/NOPE/timeline",
        "/api/v1/customers/NOPE/link",
    ):
        assert_error(town_client.get(path, headers=keys["agent"]), 404, "NOPE")
    assert_error(town_client.get("/api/v1/no/such/path", headers=keys["agent"]), 404, "no such")


def test_bodies_over_the_limit_are_413(make_settings: Any, keys: dict) -> None:
    from outage_notify.app import create_app

    settings = make_settings(max_body_bytes=2048)
    runtime = Runtime.build(settings)
    with TestClient(create_app(runtime=runtime)) as small:
        from outage_notify.auth.apikeys import create_key
        from outage_notify.timeutil import utcnow

        with runtime.transaction() as session:
            _, key = create_key(session, role="admin", name="a", now=utcnow())
        headers = {"Authorization": f"Bearer {key}"}
        answer = small.post("/api/v1/customers", json=town(), headers=headers)
        assert_error(answer, 413, "larger than 2048")

        def chunks():  # no Content-Length: counted as it streams
            yield b"["
            for _ in range(100):
                yield b'{"customer_id": "x", "lat": 60, "lon": 25},'
            yield b"{}]"

        streamed = small.post(
            "/api/v1/customers",
            content=chunks(),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert_error(streamed, 413, "larger than")
    runtime.close()


def test_customer_upserts_reject_bad_rows_by_index_and_keep_the_good_ones(
    client: TestClient, runtime: Runtime, keys: dict
) -> None:
    good = town()[:3]
    bad = [
        {"customer_id": "B-1", "lat": 60.1, "lon": 24.9, "phone": "+358 40 12"},
        {"customer_id": "B-2", "lat": 91, "lon": 24.9},
        {"customer_id": "B-3", "lat": 60.1, "lon": 24.9, "email": "not-an-email"},
        {"customer_id": "B-4", "lat": 60.1, "lon": 24.9, "language": "de"},
        "not an object",
    ]
    answer = client.post(
        "/api/v1/customers", json=[good[0], *bad, *good[1:]], headers=keys["admin"]
    )
    assert answer.status_code == 200
    result = answer.json()
    assert (result["created"], result["updated"]) == (3, 0)
    assert [r["index"] for r in result["rejected"]] == [1, 2, 3, 4, 5]
    reasons = " ".join(r["error"] for r in result["rejected"])
    for fragment in ("not a valid number", "lat", "email", "language", "object"):
        assert fragment in reasons
    assert counts(runtime)["Customer"] == 3
    again = client.post("/api/v1/customers", json=good, headers=keys["admin"]).json()
    assert (again["created"], again["updated"]) == (0, 3)


@pytest.mark.parametrize(
    ("body", "status"),
    [("{oops", 400), ({"customers": "x"}, 422), (42, 422)],
)
def test_customer_upsert_bodies_of_the_wrong_shape(
    client: TestClient, runtime: Runtime, keys: dict, body: Any, status: int
) -> None:
    if isinstance(body, str):
        answer = client.post(
            "/api/v1/customers",
            content=body,
            headers={**keys["admin"], "Content-Type": "application/json"},
        )
    else:
        answer = client.post("/api/v1/customers", json=body, headers=keys["admin"])
    assert_error(answer, status, "")
    assert counts(runtime)["Customer"] == 0


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("", "give phone or q"), ("?phone=12", "phone"), ("?limit=0&q=x", "limit")],
)
def test_customer_search_refuses_bad_queries(
    client: TestClient, keys: dict, query: str, fragment: str
) -> None:
    assert_error(client.get(f"/api/v1/customers{query}", headers=keys["agent"]), 422, fragment)


def test_incident_list_refuses_bad_paging(client: TestClient, keys: dict) -> None:
    assert_error(client.get("/api/v1/incidents?limit=-1", headers=keys["agent"]), 422, "limit")
    assert_error(client.get("/api/v1/incidents?offset=x", headers=keys["agent"]), 422, "offset")


@pytest.mark.parametrize(
    "change",
    [{"etr": "2099-11-25T18:10:00+02:00"}, {"cause": "lightning"}, {"area": cells(0, 0, 2, 2)}],
)
def test_a_closed_incident_refuses_any_change_rather_than_ignoring_it(
    town_client: TestClient, runtime: Runtime, keys: dict, change: dict
) -> None:
    made = town_client.post(
        "/api/v1/incidents",
        json={"external_id": "CL-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    ).json()
    town_client.patch(
        f"/api/v1/incidents/{made['id']}", json={"status": "restored"}, headers=keys["operator"]
    )
    before = counts(runtime)
    answer = town_client.patch(
        f"/api/v1/incidents/{made['id']}", json=change, headers=keys["operator"]
    )
    assert_error(answer, 409, "can no longer change")
    same = town_client.patch(
        f"/api/v1/incidents/{made['id']}", json={"status": "restored"}, headers=keys["operator"]
    )
    assert same.status_code == 200 and same.json()["changes"] == []
    assert counts(runtime) == before


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_lost_race_with_another_transaction_is_503_retry_not_500(
    town_client: TestClient, runtime: Runtime, keys: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    def deadlocked(*_: Any, **__: Any) -> Any:
        raise OperationalError("SELECT … FOR UPDATE", {}, _Deadlock("deadlock detected"))

    monkeypatch.setattr(type(runtime.incidents), "upsert", deadlocked)
    answer = town_client.post(
        "/api/v1/incidents",
        json={"external_id": "R-1", "area": cells(0, 0, 1, 1)},
        headers=keys["operator"],
    )
    assert_error(answer, 503, "retry")
    assert answer.headers["Retry-After"] == "1"
