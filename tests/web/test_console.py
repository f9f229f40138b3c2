"""The operator console without a browser: who may use it, the preview (the set-based count,
nothing written, the three SMS texts), sending a new incident and a change through the API's
rules with the operator as actor, the API's words for bad input, CSRF, and the map's data
(the open incidents with overdue flags; the customers clustered for a view)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from outage_notify.app import create_app
from outage_notify.auth.users import create_user
from outage_notify.clock import ManualClock
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer, Incident, IncidentRevision
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.ingest.operator_api import incident_from_body
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from outage_notify.web import console_words, i18n
from outage_notify.web.clusters import Bounds, count_cells, grid_for
from outage_notify.web.console import local_input
from tests.engine import at, upsert_incident
from tests.town import cells, town
from tests.web.signing import form_token, sign_in

PASSWORD = "a password for the console"


@pytest.fixture
def runtime(make_settings: Any) -> Iterator[Runtime]:
    now = utcnow().replace(microsecond=0)
    rt = Runtime.build(make_settings(public_url="http://127.0.0.1:8000"), clock=ManualClock(now))
    parsed = parse_json_list(town(channels="sms"), CustomerRules())
    with rt.transaction() as session:
        upsert_customers(session, records=[r for _, r in parsed.records], now=now)
        for role in ("operator", "agent"):
            create_user(session, username=f"{role}-1", role=role, password=PASSWORD, now=now)
    yield rt
    rt.close()


def client_as(runtime: Runtime, role: str) -> TestClient:
    client = TestClient(create_app(runtime=runtime))
    assert sign_in(client, f"{role}-1", PASSWORD).status_code == 303
    return client


def form(client: TestClient, runtime: Runtime, **fields: Any) -> dict[str, Any]:
    """The console's form as a browser sends it: its token, the area as GeoJSON text."""
    page = client.get("/console")
    assert page.status_code == 200, page.text
    etr = local_input(runtime.clock.now() + timedelta(hours=3), runtime.settings.zone)
    values: dict[str, Any] = {
        "csrf_token": form_token(page),
        "incident_id": "",
        "external_id": "OP-TEST-1",
        "kind": "unplanned",
        "status": "crew_assigned",
        "cause": "fallen tree",
        "etr": etr,
        "message": "",
        "area": _json(cells(0, 0, 2, 1)),  # 3 columns × 2 rows: 6 customers
    }
    values.update(fields)
    return values


def _json(value: Any) -> str:
    return json.dumps(value)


def incidents_written(runtime: Runtime) -> int:
    with runtime.reading() as session:
        return session.scalar(select(func.count()).select_from(Incident)) or 0


def test_the_preview_counts_and_words_without_writing(runtime: Runtime) -> None:
    client = client_as(runtime, "operator")
    answer = client.post(
        "/console/preview", data=form(client, runtime), headers={"Accept": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["affected"] == 6 and shown["kind"] == "outage"
    assert [s["language"] for s in shown["sms"]] == ["fi", "sv", "en"]
    english = shown["sms"][2]
    assert "[address]" in english["text"] and "fallen tree" in english["text"]
    assert english["segments"] >= 1 and english["encoding"] in ("GSM-7", "UCS-2")
    assert "[address]" in shown["sms"][0]["text"]
    assert incidents_written(runtime) == 0


def test_the_form_without_scripts_previews_in_the_page(runtime: Runtime) -> None:
    client = client_as(runtime, "operator")
    page = client.post("/console", data={**form(client, runtime), "action": "preview"})
    assert page.status_code == 200
    assert "Customers who will be told: 6" in page.text
    assert page.text.count('class="sms"') == 3 and "SMS segments: 1" in page.text
    assert incidents_written(runtime) == 0


def test_send_creates_the_incident_as_the_operator_and_goes_to_its_page(
    runtime: Runtime,
) -> None:
    client = client_as(runtime, "operator")
    answer = client.post(
        "/console", data={**form(client, runtime), "action": "send"}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    incident_id = answer.headers["location"].removeprefix("/incidents/")
    with runtime.reading() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        assert (incident.source, incident.external_id) == ("operator", "OP-TEST-1")
        assert incident.status == "crew_assigned" and incident.affected_count == 6
        actor = session.scalar(
            select(IncidentRevision.actor).where(IncidentRevision.incident_id == incident_id)
        )
    assert actor == "user:operator-1"
    assert client.get(answer.headers["location"]).status_code == 200


def test_a_change_is_a_patch_and_previews_as_an_etr_update(runtime: Runtime) -> None:
    now = runtime.clock.now()
    etr = (now + timedelta(hours=1)).isoformat()
    incident_id = upsert_incident(
        runtime, {"external_id": "OMS-5", "area": cells(0, 0, 1, 1), "etr": etr}, now=now
    ).incident.id
    client = client_as(runtime, "operator")
    page = client.get(f"/console?incident={incident_id}")
    assert page.status_code == 200 and "Change OMS-5" in page.text
    later = local_input(now + timedelta(hours=4), runtime.settings.zone)
    fields = form(
        client,
        runtime,
        incident_id=incident_id,
        external_id="OMS-5",
        status="in_progress",
        etr=later,
        area=_json(cells(0, 0, 1, 1)),
    )
    shown = client.post("/console/preview", data=fields, headers={"Accept": "application/json"})
    assert shown.status_code == 200, shown.text
    assert shown.json()["kind"] == "etr_update" and shown.json()["affected"] == 4
    sent = client.post("/console", data={**fields, "action": "send"}, follow_redirects=False)
    assert sent.status_code == 303
    with runtime.reading() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None and incident.status == "in_progress"
        assert local_input(incident.etr, runtime.settings.zone) == later
        assert incident.cause == "fallen tree"


BAD_DRAFTS = [
    ({"area": ""}, "incident_needs_area"),
    ({"area": "{not json"}, "area_json"),
    ({"area": _json({"type": "Point", "coordinates": [24.9, 60.1]})}, "area_not_polygon"),
    (
        {"area": _json({"type": "Polygon", "coordinates": [[[24.9, 60.1], [25.0, 60.1]]]})},
        "area_ring_short",
    ),
    (
        {
            "area": _json(
                {"type": "Polygon", "coordinates": [[[24.9, 99], [25, 99], [25, 98], [24.9, 99]]]}
            )
        },
        "area_range",
    ),
    (
        {
            "area": _json(
                {
                    "type": "Polygon",
                    "coordinates": [[[24.9, 60.1], [25.0, 60.1], [24.95, 60.1], [24.9, 60.1]]],
                }
            )
        },
        "area_degenerate",
    ),
    ({"area": _json({"type": "Polygon", "coordinates": [[["a", 60.1]] * 4]})}, "area_positions"),
    (
        {"area": _json({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})},
        "area_outside_territory",
    ),
    ({"status": "burning"}, "choice"),
    ({"etr": "tomorrow"}, "time_format"),
    ({"external_id": ""}, "external_id_required"),
    ({"external_id": "x" * 201}, "text_too_long"),
    ({"cause": "tree\x07"}, "text_control"),
    ({"kind": "planned"}, "planned_needs_window"),
    (
        {"kind": "planned", "starts_at": "2030-01-02T10:00", "ends_at": "2030-01-02T09:00"},
        "window_order",
    ),
]


@pytest.mark.parametrize(("fields", "code"), BAD_DRAFTS)
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_bad_input_is_refused_in_the_page_s_language_and_writes_nothing(
    runtime: Runtime, fields: dict[str, Any], code: str, lang: str
) -> None:
    """Every refusal the form can meet has a sentence of its own in each language: the
    operator never reads the API's English on a Finnish page."""
    client = client_as(runtime, "operator")
    client.cookies.set("lang", lang)
    values = form(client, runtime, **fields)
    preview = client.post("/console/preview", data=values, headers={"Accept": "application/json"})
    assert preview.status_code == 422, preview.text
    error = preview.json()["error"]
    assert error["code"] == code
    page = client.post("/console", data={**values, "action": "send"})
    assert page.status_code == 422
    shown = _alert(page.text)
    assert shown == error["message"]
    sentence = i18n.translations(lang).gettext(console_words.REFUSALS[code])
    assert lang == "en" or sentence != console_words.REFUSALS[code]
    assert re.fullmatch(_pattern(sentence), shown), (shown, sentence)
    assert incidents_written(runtime) == 0


def _pattern(sentence: str) -> str:
    """The sentence as a pattern, each %(name)s placeholder matching what fills it."""
    return re.sub(r"%\\\(\w+\\\)s", ".+", re.escape(sentence))


def _alert(html: str) -> str:
    """The text of the form's alert, unescaped."""
    found = re.search(r'<p class="error" role="alert" id="form-error">(.*?)</p>', html, re.S)
    assert found, "no alert on the page"
    return unescape(found.group(1))


def test_a_past_estimate_is_refused_on_send_in_plain_words(runtime: Runtime) -> None:
    client = client_as(runtime, "operator")
    client.cookies.set("lang", "fi")
    past = local_input(runtime.clock.now() - timedelta(hours=1), runtime.settings.zone)
    values = form(client, runtime, etr=past)
    # The preview refuses what sending would: it never shows a count for a draft that fails.
    preview = client.post("/console/preview", data=values)
    assert preview.status_code == 422 and preview.json()["error"]["code"] == "etr_passed"
    page = client.post("/console", data={**values, "action": "send"})
    assert page.status_code == 422
    assert _alert(page.text) == _said("fi", "etr_passed")
    assert incidents_written(runtime) == 0


def test_a_closed_incident_is_refused_in_the_page_s_language(runtime: Runtime) -> None:
    client = client_as(runtime, "operator")
    client.cookies.set("lang", "sv")
    incident_id = _sent(client, runtime)
    _restore(runtime, incident_id)
    change = form(client, runtime, incident_id=incident_id, cause="another cause")
    preview = client.post("/console/preview", data=change)
    assert preview.status_code == 409 and preview.json()["error"]["code"] == "incident_closed"
    page = client.post("/console", data={**change, "action": "send"})
    assert page.status_code == 409
    assert _alert(page.text) == _said("sv", "incident_closed")


def test_a_new_draft_under_a_closed_incident_s_id_is_refused_at_preview(
    runtime: Runtime,
) -> None:
    """Send would update the incident of that id: the preview checks it as Send would."""
    client = client_as(runtime, "operator")
    incident_id = _sent(client, runtime)
    planned = {"kind": "planned", "starts_at": "2030-01-02T08:00", "ends_at": "2030-01-02T10:00"}
    kind = client.post("/console/preview", data=form(client, runtime, **planned))
    assert kind.status_code == 422 and kind.json()["error"]["code"] == "kind_fixed"
    _restore(runtime, incident_id)
    again = client.post("/console/preview", data=form(client, runtime, cause="again"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "incident_closed"


def test_an_overdue_estimate_with_seconds_is_kept_when_the_form_gives_it_back(
    runtime: Runtime,
) -> None:
    """A feed's estimate (19:00:17) has passed; the form shows it to the minute (19:00).
    Changing only the cause must not be refused as a new estimate in the past."""
    now = runtime.clock.now()
    record = incident_from_body(
        {"external_id": "OP-FEEDLIKE", "area": cells(0, 0, 1, 1)}, max_vertices=1000
    )
    passed = (now - timedelta(minutes=30)).replace(second=17)
    with runtime.transaction() as session:
        made = runtime.incidents.upsert(
            session,
            source="operator",
            record=replace(record, etr=passed),
            actor="test",
            now=now,
            past_etr_allowed=True,
        )
        incident_id = made.incident.id
    client = client_as(runtime, "operator")
    page = client.get("/console", params={"incident": incident_id})
    shown = re.search(r'id="etr"[^>]*value="([^"]*)"', page.text)
    assert shown and shown.group(1) == local_input(passed, runtime.settings.zone)
    change = form(client, runtime, incident_id=incident_id, cause="fallen tree", etr=shown.group(1))
    assert client.post("/console/preview", data=change).status_code == 200
    sent = client.post("/console", data={**change, "action": "send"}, follow_redirects=False)
    assert sent.status_code == 303


def _sent(client: TestClient, runtime: Runtime) -> str:
    """Sends the form's new incident; its id."""
    sent = client.post(
        "/console", data={**form(client, runtime), "action": "send"}, follow_redirects=False
    )
    assert sent.status_code == 303
    return str(sent.headers["location"].rsplit("/", 1)[1])


def _restore(runtime: Runtime, incident_id: str) -> None:
    with runtime.transaction() as session:
        runtime.incidents.patch(
            session,
            incident_id=incident_id,
            patch={"status": "restored"},
            actor="test",
            now=runtime.clock.now(),
        )


def _said(lang: str, code: str) -> str:
    return i18n.translations(lang).gettext(console_words.REFUSALS[code])


def test_without_the_csrf_token_nothing_is_previewed_or_sent(runtime: Runtime) -> None:
    client = client_as(runtime, "operator")
    values = form(client, runtime)
    del values["csrf_token"]
    json_only = {"Accept": "application/json"}
    assert client.post("/console/preview", data=values, headers=json_only).status_code == 403
    refused = client.post("/console", data={**values, "action": "send"})
    assert refused.status_code == 403 and "security token" in refused.text
    assert incidents_written(runtime) == 0


def test_only_operators_use_the_console(runtime: Runtime) -> None:
    anonymous = TestClient(create_app(runtime=runtime))
    answer = anonymous.get("/console", follow_redirects=False)
    assert answer.status_code == 303 and "/login?next=" in answer.headers["location"]
    assert client_as(runtime, "agent").get("/console").status_code == 403
    assert client_as(runtime, "operator").get("/console?incident=inc_none").status_code == 404


def test_the_map_shows_open_incidents_with_overdue_ones_marked(runtime: Runtime) -> None:
    now = runtime.clock.now()
    etr = (now + timedelta(hours=1)).isoformat()
    upsert_incident(
        runtime, {"external_id": "OMS-1", "area": cells(0, 0, 1, 1), "etr": etr}, now=now
    )
    upsert_incident(runtime, {"external_id": "OMS-2", "feeders": ["F-9"]}, now=now)
    at(runtime, now + timedelta(hours=2))
    client = client_as(runtime, "operator")
    features = client.get("/console/incidents.geojson").json()["features"]
    assert [(f["properties"]["external_id"], f["properties"]["overdue"]) for f in features] == [
        ("OMS-1", True)
    ]
    page = client.get("/console")
    assert 'id="overdue-note"' in page.text and "overdue" in page.text
    assert "OMS-2" in page.text  # listed, though it has no area to draw


def test_customers_come_counted_per_cell_at_the_cell_s_centre(runtime: Runtime) -> None:
    client = client_as(runtime, "operator")
    view = {"south": 60.1, "west": 24.8, "north": 60.3, "east": 25.1}
    far = client.get("/console/customers.geojson", params={**view, "zoom": 8}).json()
    assert sum(f["properties"]["count"] for f in far["features"]) == 50
    assert len(far["features"]) == 1  # one cell holds the town at zoom 8
    near = client.get("/console/customers.geojson", params={**view, "zoom": 14}).json()
    assert sum(f["properties"]["count"] for f in near["features"]) == 50
    # The database's cells are the pure function's.
    grid = grid_for(Bounds(**view), 14)
    with runtime.reading() as session:
        points = [(c.lat, c.lon) for c in session.scalars(select(Customer))]
    expected = count_cells(grid, points)
    assert sorted(f["properties"]["count"] for f in near["features"]) == sorted(expected.values())
    bad = client.get(
        "/console/customers.geojson",
        params={**view, "north": 50, "zoom": 8},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 422 and "south must be less than north" in bad.text
