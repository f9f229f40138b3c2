"""poll-outages against a local feed server playing snapshots, with the clock moved by hand:
what each customer is told (or not) as outages appear, change, flap and end."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.service import upsert_customers
from outage_notify.db.models import (
    Customer,
    Feed,
    Incident,
    IngestLogEntry,
    Notification,
    TimelineEvent,
)
from outage_notify.incidents import views
from outage_notify.ingest.customers import CustomerRules, parse_json_list
from outage_notify.ingest.outage_poll import FeedSpec
from outage_notify.runtime import Runtime
from tests.engine import at, run_sweep
from tests.outages import EARLIER, LATER, pge_snapshot
from tests.standins.feeds import FeedServer
from tests.town import cells, ids, town

T0 = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
POLL = timedelta(seconds=60)
PATH = "/outages.geojson"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def make_runtime(
    make_settings: Callable[..., Settings], feed_server: FeedServer
) -> Iterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        values: dict[str, Any] = {
            "outage_feeds": [feed_server.url(PATH)],
            "confirm_seconds": 180,
            "restore_after_polls": 2,
            "poll_seconds": 60,
        }
        values.update(overrides)
        runtime = Runtime.build(make_settings(**values), clock=ManualClock(T0))
        made.append(runtime)
        parsed = parse_json_list(town(channels="sms"), CustomerRules())
        with runtime.transaction() as session:
            upsert_customers(session, records=[r for _, r in parsed.records], now=T0)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def outage(external_id: str, area: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "id": external_id, "geometry": area, "properties": props}


def snapshot(server: FeedServer, *features: dict[str, Any]) -> None:
    body = {"type": "FeatureCollection", "features": list(features)}
    server.serve(PATH, json.dumps(body).encode(), content_type="application/geo+json")


def poll(runtime: Runtime, now: datetime) -> dict[str, Any]:
    result = run_sweep(runtime, "poll-outages", now=now)
    return dict(result["feeds"][0])


def sms(runtime: Runtime) -> list[tuple[str, str]]:
    """(customer id, kind) of every SMS written, in order."""
    with runtime.reading() as session:
        rows = session.execute(
            select(Customer.customer_id, Notification.kind)
            .join(Customer, Customer.id == Notification.customer_pk)
            .where(Notification.channel == "sms")
            .order_by(Notification.id)
        )
        return [(c, k) for c, k in rows]


def told(runtime: Runtime, kind: str) -> set[str]:
    return {c for c, k in sms(runtime) if k == kind}


def iso(moment: datetime) -> str:
    return moment.isoformat()


# ---- new outages and confirmation ------------------------------------------------------------


def test_an_outage_that_has_lasted_is_told_at_once(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    snapshot(
        feed_server,
        outage(
            "OMS-1",
            cells(0, 0, 1, 1),
            started_at=iso(T0 - timedelta(minutes=10)),
            cause="fallen tree",
            etr=iso(T0 + timedelta(hours=2)),
        ),
    )
    result = poll(runtime, T0)
    assert result["read"] and result["created"] == 1
    assert told(runtime, "outage") == ids(0, 0, 1, 1)
    with runtime.reading() as session:
        incident = session.scalar(select(Incident))
        assert incident is not None
        assert incident.source == FeedSpec.parse(feed_server.url(PATH)).source
        assert incident.confirmed_at == T0 and incident.cause == "fallen tree"


def test_a_momentary_cut_sends_nothing_and_the_timeline_says_why(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    snapshot(feed_server, outage("OMS-2", cells(0, 0, 1, 1), started_at=iso(T0)))
    poll(runtime, T0)
    snapshot(feed_server)  # gone at the next poll: power came back
    poll(runtime, T0 + POLL)
    run_sweep(runtime, "due-rules", now=T0 + timedelta(seconds=200))  # never confirmed
    result = poll(runtime, T0 + 2 * POLL)
    assert result["restored"] == 1
    assert sms(runtime) == []
    with runtime.reading() as session:
        incident = session.scalar(select(Incident))
        assert incident is not None and incident.status == "restored"
        assert incident.confirmed_at is None and incident.closed_at == T0 + POLL
        closed = session.scalars(
            select(TimelineEvent.reason).where(TimelineEvent.type == "incident_closed")
        ).all()
    assert len(closed) == len(ids(0, 0, 1, 1))
    assert all(reason and "momentary" in reason for reason in closed)


def test_an_outage_is_confirmed_once_it_has_lasted_if_the_feed_still_lists_it(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    snapshot(feed_server, outage("OMS-3", cells(2, 0, 3, 1), started_at=iso(T0)))
    poll(runtime, T0)
    assert run_sweep(runtime, "due-rules", now=T0 + timedelta(seconds=179))["confirmed"] == 0
    assert sms(runtime) == []
    poll(runtime, T0 + POLL)  # still listed
    assert run_sweep(runtime, "due-rules", now=T0 + timedelta(seconds=180))["confirmed"] == 1
    assert told(runtime, "outage") == ids(2, 0, 3, 1)
    assert run_sweep(runtime, "due-rules", now=T0 + timedelta(seconds=240))["confirmed"] == 0
    with runtime.reading() as session:
        incident = session.scalar(select(Incident))
        assert incident is not None and incident.confirmed_at == T0 + timedelta(seconds=180)


def test_an_outage_missing_from_the_latest_poll_is_not_confirmed(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    snapshot(feed_server, outage("OMS-4", cells(3, 0, 4, 1), started_at=iso(T0)))
    poll(runtime, T0)
    snapshot(feed_server)
    poll(runtime, T0 + 3 * POLL)
    assert run_sweep(runtime, "due-rules")["confirmed"] == 0
    assert sms(runtime) == []


# ---- changes, flapping, restoration ---------------------------------------------------------


def test_a_changed_etr_is_an_update_and_an_unchanged_poll_changes_nothing(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    begun = iso(T0 - timedelta(hours=1))
    first = outage("OMS-5", cells(0, 2, 1, 3), started_at=begun, etr=iso(T0 + timedelta(hours=2)))
    snapshot(feed_server, first)
    poll(runtime, T0)
    again = poll(runtime, T0 + POLL)
    assert again["unchanged"] and again["changed"] == 0
    assert any(
        "if-none-match" in {h.lower() for h in headers} for _, headers in feed_server.requests
    )
    moved = outage("OMS-5", cells(0, 2, 1, 3), started_at=begun, etr=iso(T0 + timedelta(hours=4)))
    snapshot(feed_server, moved)
    changed = poll(runtime, T0 + 2 * POLL)
    assert changed["changed"] == 1
    assert told(runtime, "etr_update") == ids(0, 2, 1, 3)
    assert len(sms(runtime)) == 2 * len(ids(0, 2, 1, 3))


def test_a_flapping_outage_sends_neither_restored_nor_a_second_outage(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    item = outage("OMS-6", cells(4, 0, 5, 1), started_at=iso(T0 - timedelta(hours=1)))
    snapshot(feed_server, item)
    poll(runtime, T0)
    snapshot(feed_server)
    assert poll(runtime, T0 + POLL)["absent"] == 1
    snapshot(feed_server, item)
    poll(runtime, T0 + 2 * POLL)
    snapshot(feed_server)
    poll(runtime, T0 + 3 * POLL)
    snapshot(feed_server, item)
    poll(runtime, T0 + 4 * POLL)
    assert sorted(k for _, k in sms(runtime)) == ["outage"] * len(ids(4, 0, 5, 1))


def test_an_outage_missing_for_enough_polls_is_restored_from_its_first_absence(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    snapshot(
        feed_server, outage("OMS-7", cells(5, 0, 6, 1), started_at=iso(T0 - timedelta(hours=1)))
    )
    poll(runtime, T0)
    snapshot(feed_server)
    assert poll(runtime, T0 + POLL)["restored"] == 0
    assert poll(runtime, T0 + 2 * POLL)["restored"] == 1
    assert told(runtime, "restored") == ids(5, 0, 6, 1)
    with runtime.reading() as session:
        incident = session.scalar(select(Incident))
        assert incident is not None and incident.closed_at == T0 + POLL
    assert poll(runtime, T0 + 3 * POLL)["restored"] == 0  # closed once


def test_an_outage_listed_again_after_its_restoration_is_a_new_outage(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime(restore_after_polls=1)
    item = outage("OMS-8", cells(6, 0, 7, 1), started_at=iso(T0 - timedelta(hours=1)))
    snapshot(feed_server, item)
    poll(runtime, T0)
    snapshot(feed_server)
    poll(runtime, T0 + POLL)
    snapshot(feed_server, outage("OMS-8", cells(6, 0, 7, 1), started_at=iso(T0 + POLL)))
    poll(runtime, T0 + 2 * POLL)
    run_sweep(runtime, "due-rules", now=T0 + 6 * POLL)
    each: dict[str, list[str]] = {}
    for customer_id, kind in sms(runtime):
        each.setdefault(customer_id, []).append(kind)
    assert each == {c: ["outage", "restored", "outage"] for c in ids(6, 0, 7, 1)}
    with runtime.reading() as session:
        external = session.scalars(select(Incident.external_id).order_by(Incident.created_at))
        assert list(external) == ["OMS-8", "OMS-8/2"]


# ---- a feed that misbehaves -------------------------------------------------------------------


def test_a_feed_that_is_down_is_stale_backs_off_and_restores_nothing(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    snapshot(
        feed_server, outage("OMS-9", cells(7, 0, 8, 1), started_at=iso(T0 - timedelta(hours=1)))
    )
    poll(runtime, T0)
    feed_server.fail(PATH, 503)
    failed = poll(runtime, T0 + POLL)
    assert failed["error"] and "503" in failed["error"] and not failed["read"]
    skipped = poll(runtime, T0 + POLL + timedelta(seconds=30))  # backing off: not even tried
    assert "backing off" in (skipped["error"] or "")
    for n in range(2, 12):
        poll(runtime, T0 + n * 10 * POLL)
    assert told(runtime, "restored") == set()
    with runtime.reading() as session:
        feed = session.scalar(select(Feed))
        assert feed is not None and feed.failures >= 2 and feed.last_error
        failures = session.scalars(
            select(IngestLogEntry.outcome).where(IngestLogEntry.item.is_(None))
        ).all()
    assert failures and set(failures) == {"failed"}


def test_one_bad_item_is_refused_with_a_reason_and_the_others_are_applied(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    begun = iso(T0 - timedelta(hours=1))
    snapshot(
        feed_server,
        outage("OK-1", cells(8, 0, 9, 1), started_at=begun),
        outage("BAD-1", cells(8, 2, 9, 3), started_at=begun, status="fixed"),
        outage("FAR-1", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}),
        # json.dumps writes the literals NaN and Infinity, as a careless OMS export does.
        outage("NAN-1", {"type": "Point", "coordinates": [math.nan, 60.17]}, started_at=begun),
        outage("INF-1", {"type": "Point", "coordinates": [24.95, math.inf]}, started_at=begun),
    )
    result = poll(runtime, T0)
    assert result["created"] == 1 and result["rejected"] == 4
    assert told(runtime, "outage") == ids(8, 0, 9, 1)
    with runtime.reading() as session:
        log = {e.item: e.reason for e in session.scalars(select(IngestLogEntry))}
    assert set(log) == {"BAD-1", "FAR-1", "NAN-1", "INF-1"}
    assert "status" in log["BAD-1"] and "territory" in log["FAR-1"]
    assert "finite" in log["NAN-1"] and "finite" in log["INF-1"]


def test_a_feed_etr_already_past_makes_the_incident_overdue_and_is_never_told(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime()
    past = T0 - timedelta(minutes=5)
    snapshot(
        feed_server,
        outage("OMS-10", cells(8, 0, 9, 1), started_at=iso(T0 - timedelta(hours=3)), etr=iso(past)),
    )
    poll(runtime, T0)
    poll(runtime, T0 + POLL)  # the same past ETR again: logged once
    with runtime.reading() as session:
        incident = session.scalar(select(Incident))
        assert incident is not None and incident.etr == past
        outcomes = session.scalars(select(IngestLogEntry.outcome)).all()
        bodies = session.scalars(
            select(Notification.body).where(Notification.kind == "outage")
        ).all()
    assert outcomes == ["overdue"]
    with runtime.reading() as session:
        listed = views.list_incidents(
            session, now=T0 + POLL, where=views.IncidentFilter(overdue=True), limit=10
        )
    assert [i.external_id for i in listed] == ["OMS-10"]  # what operators see as overdue
    assert told(runtime, "outage") == ids(8, 0, 9, 1)
    shown = past.astimezone(runtime.settings.zone).strftime("%H.%M").lstrip("0")
    assert bodies and not any(shown in body for body in bodies)
    # Nobody holds a time that passed, so nobody is told "taking longer than estimated".
    assert run_sweep(runtime, "due-rules", now=T0 + timedelta(hours=1))["etr_missed"] == 0
    assert told(runtime, "etr_update") == set()


def test_the_api_shows_each_feed_and_its_log(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    from fastapi.testclient import TestClient

    from outage_notify.app import create_app
    from outage_notify.auth.apikeys import create_key

    runtime = make_runtime()
    snapshot(feed_server, outage("BAD-2", cells(0, 0, 1, 1), status="fixed"))
    poll(runtime, T0)
    with runtime.transaction() as session:
        key = create_key(session, role="operator", name="ops", now=T0)[1]
    at(runtime, T0 + POLL)
    with TestClient(create_app(runtime=runtime)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        listed = client.get("/api/v1/feeds", headers=headers).json()["feeds"]
        log = client.get("/api/v1/feeds/log", headers=headers).json()["entries"]
    assert [f["state"] for f in listed] == ["ok"]
    assert listed[0]["rejected"] == 1 and "?" not in listed[0]["spec"]
    assert [(e["item"], e["outcome"]) for e in log] == [("BAD-2", "rejected")]


# ---- the real PG&E outage map, twice, moved onto the test town -------------------------------


def _pge_on_town(*names: str) -> list[list[dict[str, Any]]]:
    """The snapshots, thinned to one outage in 15 (the same ones in each) and moved linearly
    from California onto the test town, as a utility's own map would lie over its customers."""
    snapshots = [json.loads(pge_snapshot(name)) for name in names]
    points = [(float(o["longitude"]), float(o["latitude"])) for s in snapshots for o in s]
    lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
    lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
    moved = []
    for snapshot_items in snapshots:
        kept = []
        for item in snapshot_items:
            if int(item["outageNumber"]) % 15:
                continue
            lon = 24.90 + (float(item["longitude"]) - lon0) / (lon1 - lon0) * 0.09
            lat = 60.15 + (float(item["latitude"]) - lat0) / (lat1 - lat0) * 0.04
            kept.append({**item, "longitude": f"{lon:.6f}", "latitude": f"{lat:.6f}"})
        moved.append(kept)
    return moved


def test_the_real_pge_map_twice_each_change_applied_once(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    from outage_notify.ingest.outage_feed import parse_outage_feed

    earlier, later = _pge_on_town(EARLIER, LATER)
    runtime = make_runtime(outage_feeds=[f"pge+{feed_server.url('/pge.json')}"])

    def serve(items: list[dict[str, Any]]) -> dict[str, Any]:
        feed_server.serve("/pge.json", json.dumps(items).encode(), content_type="application/json")
        return {
            o.record.external_id: o
            for o in parse_outage_feed(json.dumps(items).encode(), mapping="pge").outages
        }

    before = serve(earlier)
    first = poll(runtime, T0)
    assert first["created"] == len(before) > 100 and first["rejected"] == 0
    with runtime.reading() as session:
        affected = dict(
            session.execute(select(Incident.external_id, Incident.affected_count)).all()
        )
    assert len(sms(runtime)) == sum(affected.values())  # one outage SMS per customer and outage
    # The exact words one customer reads: PG&E's own cause (its sentence's full stop not
    # doubled), its crew status in ours, the start in Helsinki time.
    assert texts(runtime, "681195") == {
        ("C-3-2", "outage"): "Power cut at Testikatu 24, Helsinki since Sun 27 Oct 03:16, cause: "
        "To protect public safety, power in your area has been turned off due to extreme "
        "weather conditions with high fire danger. Power will be restored as soon as it is safe "
        "to do so. Our crew is on the way. We will send a repair estimate soon."
    }

    after = serve(later)
    second = poll(runtime, T0 + POLL)
    gone = set(before) - set(after)
    moved = {i for i in set(before) & set(after) if before[i].record != after[i].record}
    assert second["created"] == len(set(after) - set(before))
    assert second["changed"] == len(moved) and second["absent"] == len(gone) > 0
    assert second["restored"] == 0

    third = poll(runtime, T0 + 2 * POLL)
    assert third["unchanged"] and third["restored"] == len(gone)
    restored = [c for c, k in sms(runtime) if k == "restored"]
    assert len(restored) == sum(affected[i] for i in gone)
    # A change PG&E made only to its own bookkeeping (lastUpdateTime) tells nobody anything;
    # what the second snapshot dropped is told, in each customer's language, and nothing else.
    assert texts(runtime, "681345")[("C-5-3", "restored")] == (
        "Power is back at Testikatu 36, Helsinki. Thank you for your patience. "
        "Still without power? Reply OUT."
    )
    assert texts(runtime, "690855")[("C-4-2", "restored")] == (
        "Sähköt ovat palanneet osoitteeseen Testikatu 25, Helsinki. Kiitos kärsivällisyydestä. "
        "Vieläkin ilman sähköä? Vastaa EI SÄHKÖÄ."
    )
    assert {kind for _, kind in sms(runtime)} == {"outage", "restored"}


def texts(runtime: Runtime, external_id: str) -> dict[tuple[str, str], str]:
    """{(customer id, kind): SMS text} of one incident."""
    with runtime.reading() as session:
        rows = session.execute(
            select(Customer.customer_id, Notification.kind, Notification.body)
            .join(Customer, Customer.id == Notification.customer_pk)
            .join(Incident, Incident.id == Notification.incident_id)
            .where(Notification.channel == "sms", Incident.external_id == external_id)
        )
        return {(c, k): body for c, k, body in rows}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"type": "FeatureCollection", "features": [{"type": "Fea', "JSON"),
        (b"<html><body>502 Bad Gateway</body></html>", "JSON"),
        (b'{"type": "FeatureCollection", "features": "none"}', "features"),
        (b"x" * 5000, "larger than"),
    ],
    ids=["truncated", "an error page", "wrong types", "over the byte cap"],
)
def test_a_feed_that_cannot_be_read_fails_the_poll_and_keeps_what_it_said_last(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer, body: bytes, reason: str
) -> None:
    runtime = make_runtime(feed_max_bytes=4096, restore_after_polls=1)
    listed = outage("OMS-11", cells(0, 0, 1, 1), started_at=iso(T0 - timedelta(hours=1)))
    snapshot(feed_server, listed)
    poll(runtime, T0)
    feed_server.serve(PATH, body)
    failed = poll(runtime, T0 + POLL)
    assert not failed["read"] and reason.lower() in (failed["error"] or "").lower()
    assert failed["restored"] == 0 and told(runtime, "restored") == set()
    with runtime.reading() as session:
        incident = session.scalar(select(Incident))
        assert incident is not None and incident.status == "detected"
        logged = session.scalars(select(IngestLogEntry.reason)).all()
    assert any(reason.lower() in entry.lower() for entry in logged)


# ---- a whole outage told from the feed alone ------------------------------------------------
#
# As one customer reads it: the feed server plays
# the snapshots, the clock moves, the polls and the clock's sweeps run as the scheduler runs
# them, and the test compares every SMS one customer got, word for word. The story: an outage
# with an estimate; the estimate passes (taking longer than estimated); a late new estimate;
# hours of silence (a reassurance); the first compensation band; a restoration; the power out
# again within two hours (the same outage, as the Act counts it, so its next band comes from
# the whole duration); the final restoration naming the band.

WHO = "C-0-0"  # in the outage's area (cells 0,0 to 1,1); reads Finnish
STARTED = T0 - timedelta(minutes=10)  # 18:00 in Helsinki at T0; the outage began 17:50


def sms_of(runtime: Runtime, customer_id: str) -> list[tuple[str, str]]:
    """(kind, text) of every SMS the customer got, in order."""
    with runtime.reading() as session:
        rows = session.execute(
            select(Notification.kind, Notification.body)
            .join(Customer, Customer.id == Notification.customer_pk)
            .where(Customer.customer_id == customer_id, Notification.channel == "sms")
            .order_by(Notification.id)
        )
        return [(kind, body) for kind, body in rows]


def test_an_outage_from_the_feed_told_from_start_to_finish(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime(compensation_hours=[4, 8, 12, 16, 20, 24], reassure_hours=2)
    area = cells(0, 0, 1, 1)

    def listed(started: datetime = STARTED, **props: Any) -> None:
        snapshot(
            feed_server,
            outage("OMS-50", area, started_at=iso(started), cause="fallen tree", **props),
        )

    def tick(hours: float) -> dict[str, Any]:
        """A poll and the clock's rules at T0 + hours, as the scheduler runs them."""
        moment = T0 + timedelta(hours=hours)
        result = poll(runtime, moment)
        run_sweep(runtime, "due-rules", now=moment)
        return result

    listed(etr=iso(T0 + timedelta(hours=1)))  # 19:00
    assert tick(0)["created"] == 1
    tick(1.25)  # the estimate passed 15 minutes ago (ETR_GRACE_MINUTES)
    listed(etr=iso(T0 + timedelta(hours=6)))  # a late new estimate: midnight
    tick(1.5)
    tick(3.5)  # two hours of silence (REASSURE_HOURS)
    tick(3.84)  # 4 h since 17:50: the first band (10 %)
    snapshot(feed_server)  # the feed drops it: restored at the second poll without it
    tick(4)
    tick(4 + POLL / timedelta(hours=1))
    again = T0 + timedelta(hours=5)  # out again at 23:00, an hour after the restoration
    listed(again, etr=iso(T0 + timedelta(hours=9)))
    tick(5)
    tick(5.05)  # lasted CONFIRM_SECONDS (3 min): told
    # The first outage lasted 4 h 10 min (17:50-22:00); this one from 23:00 reaches 8 h
    # in all at 02:50.
    tick(8.84)
    snapshot(feed_server)
    tick(9)
    tick(9 + POLL / timedelta(hours=1))

    place = "Sähkökatko osoitteessa Testikatu 1, Helsinki"
    band = "Olet oikeutettu vakiokorvaukseen: {} % vuotuisesta verkkopalvelumaksustasi"
    paid = "Se maksetaan automaattisesti myöhemmällä laskullasi, eikä sitä tarvitse hakea."
    back = (
        "Sähköt ovat palanneet osoitteeseen Testikatu 1, Helsinki. {}, maksetaan "
        "automaattisesti. Kiitos kärsivällisyydestä. Vieläkin ilman sähköä? Vastaa EI SÄHKÖÄ."
    )
    assert sms_of(runtime, WHO) == [
        (
            "outage",
            f"{place} klo 17.50 alkaen, syy: kaatunut puu. Vikaa paikannetaan. "
            "Arvioitu korjausaika klo 19.00.",
        ),
        (
            "etr_missed",
            f"{place} jatkuu: korjaus kestää arvioitua kauemmin. Kerromme uuden arvion heti, "
            "kun se on tiedossa. Vikaa paikannetaan.",
        ),
        ("etr_update", f"{place}: arvioitu korjausaika to 26.11. klo 0.00. Vikaa paikannetaan."),
        (
            "reassurance",
            f"{place} jatkuu (klo 17.50 alkaen). Teemme yhä töitä sen korjaamiseksi. "
            "Arvioitu korjausaika to 26.11. klo 0.00.",
        ),
        ("compensation", f"{place} on kestänyt yli 4 tuntia. {band.format(10)}. {paid}"),
        ("restored", back.format(band.format(10))),
        (
            "outage",
            f"{place} klo 23.00 alkaen, syy: kaatunut puu. Vikaa paikannetaan. "
            "Arvioitu korjausaika to 26.11. klo 3.00.",
        ),
        # 4 h 10 min before and 3 h 50 min since: 8 h as the Act counts it.
        ("compensation", f"{place} on kestänyt yli 8 tuntia. {band.format(25)}. {paid}"),
        ("restored", back.format(band.format(25))),
    ]
