"""Weather warnings end to end (issue 11 item 5; CONTRACT.md rules 6 and 7): FMI-profile CAP
documents served by a local HTTP server → poll-cap → an incident of kind `warning` → one
`advisory` per exposed customer, in their language → delivery; Updates, Cancels, quiet hours
and expiry, moved by the injectable clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import Customer, Incident, Notification
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.matching.grid import import_lines, parse_collection
from outage_notify.runtime import Runtime
from tests.engine import at, run_sweep
from tests.standins.feeds import FeedServer
from tests.town import LAT0, LON0, STEP, ids, town

HELSINKI = ZoneInfo("Europe/Helsinki")
DAY = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 10:00 in Helsinki
NIGHT = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # 23:30 in Helsinki
SENDER = "urn:oid:2.49.0.0.246.0"
HEADLINES = {"fi-FI": "Keltainen tuulivaroitus: Testikaupunki", "en-GB": "Yellow wind warning"}


# ---- CAP documents as FMI writes them --------------------------------------------------------


def cells_latlon(col0: int, row0: int, col1: int, row1: int) -> str:
    """A CAP polygon ("lat,lon" pairs) over the town's grid points col0..col1, row0..row1,
    a little beyond them so that nobody sits on its edge."""
    lat0, lat1 = LAT0 + row0 * STEP - 0.002, LAT0 + row1 * STEP + 0.002
    lon0, lon1 = LON0 + col0 * STEP - 0.002, LON0 + col1 * STEP + 0.002
    corners = [(lat0, lon0), (lat0, lon1), (lat1, lon1), (lat1, lon0), (lat0, lon0)]
    return " ".join(f"{lat:.4f},{lon:.4f}" for lat, lon in corners)


def stamp(moment: datetime) -> str:
    return moment.astimezone(HELSINKI).isoformat(timespec="seconds")


def cap(
    identifier: str,
    *,
    sent: datetime,
    polygon: str,
    severity: str = "Moderate",
    msg_type: str = "Alert",
    references: list[tuple[str, datetime]] = (),  # type: ignore[assignment]
    expires: datetime | None = None,
    headlines: dict[str, str] | None = None,
) -> bytes:
    expires = expires or sent + timedelta(hours=14)
    infos = "".join(
        f"""<info><language>{language}</language><category>Met</category>
        <event>{event}</event><urgency>Expected</urgency><severity>{severity}</severity>
        <certainty>Likely</certainty>
        <eventCode><valueName>profile:cap:https://alerts.fmi.fi/cap/profile/v1.0.0</valueName>
        <value>wind</value></eventCode>
        <onset>{stamp(sent)}</onset><expires>{stamp(expires)}</expires>
        {f"<headline>{escape(headline)}</headline>" if headline else ""}
        <area><areaDesc>Testikaupunki</areaDesc><polygon>{polygon}</polygon></area></info>"""
        for language, event, headline in (
            ("fi-FI", "Tuulivaroitus maa-alueille", (headlines or HEADLINES).get("fi-FI")),
            ("en-GB", "Wind warning for land areas", (headlines or HEADLINES).get("en-GB")),
        )
    )
    refs = " ".join(f"{SENDER},{ref},{stamp(when)}" for ref, when in references)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>{identifier}</identifier><sender>{SENDER}</sender><sent>{stamp(sent)}</sent>
<status>Actual</status><msgType>{msg_type}</msgType><scope>Public</scope>
{f"<references>{refs}</references>" if refs else ""}
{infos}
</alert>""".encode()


# ---- the service under test -------------------------------------------------------------------


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def make_runtime(
    make_settings: Callable[..., Settings], feed_server: FeedServer
) -> Iterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(now: datetime = DAY, **customer_fields: Any) -> Runtime:
        settings = make_settings(cap_feeds=[feed_server.url("/warnings.cap")])
        runtime = Runtime.build(settings, clock=ManualClock(now))
        parsed = parse_json_list(town(**customer_fields), CustomerRules())
        with runtime.transaction() as session:
            upsert_customers(session, records=[r for _, r in parsed.records], now=now)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def poll(runtime: Runtime, server: FeedServer, document: bytes, now: datetime) -> dict[str, Any]:
    server.serve("/warnings.cap", document, content_type="application/cap+xml")
    result = run_sweep(runtime, "poll-cap", now=now)["feeds"][0]
    assert result["error"] is None, result
    runtime.drain()
    return dict(result)


def advisories(runtime: Runtime, channel: str = "sms") -> list[Any]:
    with runtime.reading() as session:
        return list(
            session.execute(
                select(
                    Customer.customer_id,
                    Customer.language,
                    Notification.body,
                    Notification.status,
                    Notification.reason,
                    Notification.not_before,
                )
                .join(Customer, Customer.id == Notification.customer_pk)
                .where(Notification.kind == "advisory", Notification.channel == channel)
                .order_by(Notification.id)
            )
        )


def warning_incident(runtime: Runtime) -> Incident:
    with runtime.reading() as session:
        [incident] = session.scalars(select(Incident).where(Incident.kind == "warning")).all()
        session.expunge(incident)
        return incident


# ---- rule 6 -----------------------------------------------------------------------------------


def test_a_warning_tells_each_exposed_customer_once_in_their_language(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    polled = poll(runtime, feed_server, cap("w1", sent=DAY, polygon=cells_latlon(0, 0, 1, 1)), DAY)
    assert polled["active"] == 1
    incident = warning_incident(runtime)
    assert (incident.kind, incident.status, incident.severity) == (
        "warning",
        "detected",
        "Moderate",
    )
    assert incident.source == "cap" and incident.affected_count == 4
    sent = advisories(runtime)
    assert {row.customer_id for row in sent} == ids(0, 0, 1, 1)
    assert {row.status for row in sent} == {"delivered"}  # through the development sink
    bodies = {row.language: row.body for row in sent}
    # FMI's own headline where it wrote one in the customer's language; ours otherwise.
    assert bodies["fi"].startswith("Keltainen tuulivaroitus: Testikaupunki, Testikatu")
    assert bodies["en"].startswith("Yellow wind warning, Testikatu")
    assert bodies["sv"].startswith("Vädervarning (gul nivå), Testikatu")
    assert "klo 10.00 - to 26.11. klo 0.00" in bodies["fi"]  # onset and expiry, local time
    assert len(advisories(runtime, "email")) == len(advisories(runtime, "in_app")) == 4
    # The same document again, and then re-served as new bytes: nothing more.
    feed_server.serve("/warnings.cap", b"", content_type="application/cap+xml")
    poll(runtime, feed_server, cap("w1", sent=DAY, polygon=cells_latlon(0, 0, 1, 1)), DAY)
    assert len(advisories(runtime)) == 4


def test_updates_tell_only_what_is_new_a_raised_severity_or_a_newly_exposed_customer(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    area = cells_latlon(0, 0, 1, 1)
    poll(runtime, feed_server, cap("w1", sent=DAY, polygon=area), DAY)
    later = DAY + timedelta(hours=1)
    same = cap("w2", sent=later, polygon=area, msg_type="Update", references=[("w1", DAY)])
    poll(runtime, feed_server, same, later)
    assert len(advisories(runtime)) == 4  # same severity and area: nothing
    raised_at = DAY + timedelta(hours=2)
    raised = cap(
        "w3",
        sent=raised_at,
        polygon=area,
        severity="Severe",
        msg_type="Update",
        references=[("w2", later)],
    )
    poll(runtime, feed_server, raised, raised_at)
    sent = advisories(runtime)
    assert len(sent) == 8  # one new advisory to everyone in the area
    assert [
        row.body.startswith("Vädervarning (orange nivå)") for row in sent if row.language == "sv"
    ][-1]
    grown_at = DAY + timedelta(hours=3)
    grown = cap(
        "w4",
        sent=grown_at,
        polygon=cells_latlon(0, 0, 2, 1),
        severity="Severe",
        msg_type="Update",
        references=[("w3", raised_at)],
    )
    poll(runtime, feed_server, grown, grown_at)
    newly = [row.customer_id for row in advisories(runtime)[8:]]
    assert sorted(newly) == ["C-2-0", "C-2-1"]
    # One incident throughout, revised by each Update.
    incident = warning_incident(runtime)
    assert incident.severity == "Severe" and incident.affected_count == 6


def test_a_warning_for_somewhere_else_makes_no_incident(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    lapland = "68.0,25.0 68.0,26.0 69.0,26.0 69.0,25.0 68.0,25.0"
    assert poll(runtime, feed_server, cap("w1", sent=DAY, polygon=lapland), DAY)["active"] == 1
    with runtime.reading() as session:
        assert session.scalars(select(Incident)).all() == []
    assert advisories(runtime) == []


# ---- rule 7: quiet hours, Cancel, expiry --------------------------------------------------------


def test_quiet_hours_hold_advisories_and_a_cancel_withdraws_them(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime(NIGHT, quiet_hours="22:00-07:00")
    poll(runtime, feed_server, cap("w1", sent=NIGHT, polygon=cells_latlon(0, 0, 1, 1)), NIGHT)
    held = advisories(runtime)
    morning = datetime(2026, 11, 26, 7, 0, tzinfo=HELSINKI)
    assert {(row.status, row.not_before) for row in held} == {("queued", morning)}
    assert {row.status for row in advisories(runtime, "in_app")} == {"delivered"}
    cancelled_at = NIGHT + timedelta(minutes=30)
    cancel = cap(
        "w2",
        sent=cancelled_at,
        polygon=cells_latlon(0, 0, 1, 1),
        msg_type="Cancel",
        references=[("w1", NIGHT)],
    )
    poll(runtime, feed_server, cancel, cancelled_at)
    assert {(row.status, row.reason) for row in advisories(runtime)} == {
        ("suppressed", "the warning was cancelled")
    }
    assert warning_incident(runtime).status == "cancelled"
    at(runtime, morning + timedelta(minutes=5))
    assert runtime.drain() == 0  # nothing is sent in the morning
    # The agent's timeline says so, with why.
    events = timeline(runtime, "C-0-0")
    withdrawn = [e for e in events if e["kind"] == "advisory" and e["channel"] == "sms"]
    assert withdrawn[-1]["status"] == "suppressed"
    assert withdrawn[-1]["reason"] == "the warning was cancelled"
    [closed] = [e for e in events if e["type"] == "incident_closed"]
    assert closed["incident"]["kind"] == "warning"
    assert closed["body"].startswith("closed weather warning wrn_")
    assert "status cancelled; severity Moderate" in closed["body"]


def test_an_extreme_warning_is_not_held_by_quiet_hours(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime(NIGHT, quiet_hours="22:00-07:00")
    red = cap("w1", sent=NIGHT, polygon=cells_latlon(0, 0, 1, 1), severity="Extreme")
    poll(runtime, feed_server, red, NIGHT)
    assert {(row.status, row.not_before) for row in advisories(runtime)} == {("delivered", None)}


def test_an_advisory_held_past_the_warnings_expiry_is_never_sent(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime(NIGHT, quiet_hours="22:00-07:00")
    short = cap(
        "w1",
        sent=NIGHT,
        polygon=cells_latlon(0, 0, 1, 1),
        expires=NIGHT + timedelta(hours=4),  # 03:30, before the quiet hours end
    )
    poll(runtime, feed_server, short, NIGHT)
    assert {(row.status, row.reason) for row in advisories(runtime)} == {
        ("suppressed", "the warning expires before the customer's quiet hours end")
    }


def test_at_its_expiry_a_warning_closes_and_what_it_still_held_is_withdrawn(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime(NIGHT, quiet_hours="22:00-07:00")
    # Expires at 08:00 local: held until 07:00, the advisories would still be in time...
    expires = datetime(2026, 11, 26, 8, 0, tzinfo=HELSINKI)
    poll(
        runtime,
        feed_server,
        cap("w1", sent=NIGHT, polygon=cells_latlon(0, 0, 1, 1), expires=expires),
        NIGHT,
    )
    assert {row.status for row in advisories(runtime)} == {"queued"}
    # ...but nothing sent them (say the service was down) until after the expiry.
    swept = run_sweep(runtime, "due-rules", now=expires + timedelta(seconds=1))
    assert swept["warnings_expired"] == 1
    assert run_sweep(runtime, "due-rules")["warnings_expired"] == 0  # once
    assert warning_incident(runtime).status == "expired"
    assert {(row.status, row.reason) for row in advisories(runtime)} == {
        ("suppressed", "the warning expired")
    }
    [shown] = warnings_api(runtime)
    assert shown["state"] == "expired" and shown["incident_id"] is not None


# ---- what agents see ---------------------------------------------------------------------------


def agent_key(runtime: Runtime) -> str:
    with runtime.transaction() as session:
        return create_key(session, role="agent", name=f"a{id(session)}", now=DAY)[1]


def timeline(runtime: Runtime, customer_id: str) -> list[dict[str, Any]]:
    key = agent_key(runtime)
    with TestClient(create_app(runtime=runtime)) as client:
        answer = client.get(
            f"/api/v1/customers/{customer_id}/timeline",
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["events"])


def warnings_api(runtime: Runtime) -> list[dict[str, Any]]:
    key = agent_key(runtime)
    with TestClient(create_app(runtime=runtime)) as client:
        answer = client.get("/api/v1/warnings", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["warnings"])


def test_the_timeline_shows_the_warning_and_its_advisory_on_every_channel(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    poll(runtime, feed_server, cap("w1", sent=DAY, polygon=cells_latlon(0, 0, 1, 1)), DAY)
    events = timeline(runtime, "C-1-1")
    touched = [e for e in events if e["type"] == "incident_affected"]
    assert touched and touched[0]["incident"]["kind"] == "warning"
    assert touched[0]["incident"]["severity"] == "Moderate"
    assert "valid 2026-11-25 10:00 EET – 2026-11-26 00:00 EET" in touched[0]["body"]
    told = {e["channel"]: e["status"] for e in events if e["kind"] == "advisory"}
    assert told == {"sms": "delivered", "email": "delivered", "in_app": "delivered"}


# ---- grid-aware exposure (item 4) ----------------------------------------------------------------


def test_customers_whose_feeder_crosses_the_area_are_exposed_though_their_house_is_not(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    # F-5 feeds column 5, far east of the storm, from a substation west of the town: its
    # line runs through the warned area between rows 0 and 1. F-7 stays east of it.
    west, row_half = LON0 - 0.01, LAT0 + STEP / 2
    lines = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"feeder": "F-5"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[west, row_half], [LON0 + 5 * STEP, row_half]],
                },
            },
            {
                "type": "Feature",
                "properties": {"feeder": "F-7"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[LON0 + 7 * STEP, LAT0], [LON0 + 7 * STEP, LAT0 + 0.05]],
                },
            },
        ],
    }
    with runtime.transaction() as session:
        import_lines(session, parsed=parse_collection(lines), now=DAY)
    poll(runtime, feed_server, cap("w1", sent=DAY, polygon=cells_latlon(0, 0, 1, 1)), DAY)
    told = {row.customer_id for row in advisories(runtime)}
    assert told == ids(0, 0, 1, 1) | ids(5, 0, 5, 4)
    assert warning_incident(runtime).feeders == ["F-5"]
