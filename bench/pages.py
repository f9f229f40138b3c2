"""13. Issue 12's target, "a page loads in under 1 s with 100,000 customers and 500 incidents in
the database": every page of the service timed as a browser and as a client see it, served by
a real `outage-notify serve` over 127.0.0.1, on SQLite and on PostgreSQL + PostGIS.

The database: the synthetic town (bench/data.py), then the storm of bench/feeds.py (make_storm,
500 outages) as a file:// feed, polled by the real `poll-outages` job and planned to the end
(runtime.planner.drain()), so incidents, ties, messages and timelines are all there. An
operator and an agent are made with the user service; the bench signs each in through /login
with its CSRF value, as a browser does, and sends the session cookie it is given.

Per page (PAGES: one line each):
  1. the server: GET over real HTTP (a fresh connection, gzip accepted as a browser does), the
     time to the last byte. The first request after serve started is reported on its own
     (cold), then the median of N;
  2. the browser: headless Chromium through Playwright, `page.goto(url, wait_until="load")`,
     Navigation Timing's `loadEventEnd - startTime`, the median of N, as a first visit (a new
     browser context per load: empty cache) and as a return visit (one context: static files
     cached), with the bytes transferred (the document and every resource, Resource Timing's
     transferSize); on a page with maps, also the moment they have drawn their incidents
     (static/map.js fetches them after DOMContentLoaded, which the load event does not wait for).
Each median is marked against the target (TARGET_MS).
"""

from __future__ import annotations

import http.client
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import data, feeds, postgres, services
from bench import town as towns
from bench.common import bench_settings, fresh_database, say, timed
from bench.report import Section, ms
from outage_notify.auth.users import create_user
from outage_notify.db.models import Customer, Incident, IncidentCustomer
from outage_notify.runtime import Runtime
from outage_notify.scheduler.jobs import JOBS, run_job
from outage_notify.timeutil import utcnow
from outage_notify.web.signin import SESSION_COOKIE
from tests.web.browser import ARGS, CHROMIUM, DESKTOP, chromium_problem
from tests.web.signing import CSRF_FIELD

CUSTOMERS = 100_000
INCIDENTS = 500
TARGET_MS = 1000.0
BACKENDS = ("sqlite", "postgresql")
PASSWORD = "bench-pages-password-0123"
PLAN_TIMEOUT_S = 3_600.0
HTTP_TIMEOUT_S = 120.0
BROWSER_TIMEOUT_MS = 120_000
ACCEPT_HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# The signed-in users: username → role. A page names the one it needs (None: public).
USERS = {"bench-operator": "operator", "bench-agent": "agent"}
# The browser's load, read once the load event's handlers have run (loadEventEnd is 0 before),
# and the bytes of the document and of every resource it loaded.
LOAD_TIMING = """() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const resources = performance.getEntriesByType("resource");
    return {
        load_ms: nav.loadEventEnd - nav.startTime,
        document_ms: nav.responseEnd - nav.startTime,
        dom_ms: nav.domContentLoadedEventEnd - nav.startTime,
        bytes: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
        resources: resources.length,
        maps: document.querySelectorAll("[data-map]").length,
    };
}"""
LOADED = "() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
# A page's maps fetch their incidents after DOMContentLoaded and draw them (static/map.js),
# which the load event does not wait for: the moment every map says data-map-ready, from the
# navigation's start (0 while one is still drawing).
MAPS_DRAWN = """() => {
    const maps = [...document.querySelectorAll("[data-map]")];
    const states = maps.map((m) => m.getAttribute("data-map-ready"));
    if (states.includes("failed")) return -1;
    return states.every((state) => state === "true") ? performance.now() : 0;
}"""


@dataclass(frozen=True)
class Page:
    """A page to time: its path (a template of Subjects' fields) and who may see it."""

    name: str
    path: str
    user: str | None = None  # a key of USERS; None: no one signed in


# More pages are one line each; {incident}, {customer} and {phone} come from Subjects.
PAGES: tuple[Page, ...] = (
    Page("public map", "/map"),
    Page("public outages GeoJSON", "/api/v1/public/outages.geojson"),
    Page("incident list", "/incidents", "bench-operator"),
    Page("largest incident", "/incidents/{incident}", "bench-operator"),
    Page("storm dashboard", "/dashboard", "bench-operator"),
    Page("operator console", "/console", "bench-operator"),
    Page("agent desk", "/agent", "bench-agent"),
    Page("agent: search by phone", "/agent?q={phone}", "bench-agent"),
    Page("agent: affected customer", "/agent/customers/{customer}", "bench-agent"),
)


@dataclass(frozen=True)
class Subjects:
    """What the pages' paths name: the largest incident, and the customer tied to the most of
    the storm's incidents (the longest timeline) and their phone number."""

    incident: str
    incident_affected: int
    customer: str
    phone: str
    customer_incidents: int

    def path(self, page: Page) -> str:
        return page.path.format(
            incident=urllib.parse.quote(self.incident, safe=""),
            customer=urllib.parse.quote(self.customer, safe=""),
            phone=urllib.parse.quote(self.phone, safe=""),
        )


@dataclass
class Visits:
    """A page's loads in the browser of one kind (VISITS), from the navigation's start."""

    load_ms: list[float] = field(default_factory=list)  # loadEventEnd
    document_ms: list[float] = field(default_factory=list)  # the HTML received (responseEnd)
    dom_ms: list[float] = field(default_factory=list)  # DOMContentLoaded's handlers done
    drawn_ms: list[float] = field(default_factory=list)  # every map drawn; pages with maps
    bytes: int = 0  # transferred by the last load: the document and its resources
    resources: int = 0

    def add(self, load: dict[str, Any]) -> None:
        self.load_ms.append(load["load_ms"])
        self.document_ms.append(load["document_ms"])
        self.dom_ms.append(load["dom_ms"])
        if load["drawn_ms"] is not None:
            self.drawn_ms.append(load["drawn_ms"])
        self.bytes, self.resources = int(load["bytes"]), int(load["resources"])

    @property
    def load_median_ms(self) -> float:
        return statistics.median(self.load_ms)

    @property
    def drawn_median_ms(self) -> float | None:
        return statistics.median(self.drawn_ms) if self.drawn_ms else None


# A first visit: a new browser context for each load (empty cache, no connection open); a
# return visit: one context, loaded once before the timed loads (the static files cached, as
# the service's Cache-Control lets them be).
VISITS = ("first visit", "return visit")


@dataclass
class Timing:
    """One page on one back end."""

    page: str
    path: str
    cold_ms: float
    server_ms: list[float]
    response_bytes: int
    browser: dict[str, Visits] = field(default_factory=dict)  # by VISITS

    @property
    def server_median_ms(self) -> float:
        return statistics.median(self.server_ms)

    def slowest_ms(self) -> float:
        """The worst of the medians, server and browser: the page's verdict."""
        medians = [self.server_median_ms]
        for visits in self.browser.values():
            medians += [visits.load_median_ms, visits.drawn_median_ms or 0.0]
        return max(medians)


@dataclass
class Case:
    backend: str
    customers: int
    load_s: float
    storm_s: float
    incidents: int
    messages: int
    subjects: Subjects
    ready_s: float
    timings: list[Timing]
    serve_peak_mb: float | None
    load_average: float | None


# ---- the measurement -------------------------------------------------------------------------


def run(
    customers: int = CUSTOMERS,
    incidents: int = INCIDENTS,
    repeats: int = 7,
    backends: tuple[str, ...] = BACKENDS,
) -> Section:
    section = Section(
        f"13. Pages: server and browser load, {customers:,} customers, {incidents} incidents"
    )
    say(f"pages: building {customers:,} synthetic customers and a storm of {incidents}")
    town = data.build(customers)
    mix = feeds.Mix(incidents, 0, 0, 0)
    now = utcnow().replace(microsecond=0)
    storm = feeds.make_storm(
        town, mix, now=now, point_radius_m=feeds.POINT_RADIUS_M, seed=data.SEED
    )
    browser_problem = chromium_problem()
    if browser_problem:
        section.notes.append(f"Browser not measured: {browser_problem}")
    cases = []
    if "sqlite" in backends:
        with fresh_database("pages") as url:
            load_s, _ = timed(lambda: data.write_sqlite(url, town))
            cases.append(_case("sqlite", url, town, storm, load_s, repeats, browser_problem))
    if "postgresql" in backends:
        if (why := postgres.available()) is None:
            with postgres.Cluster(services.CLUSTER_SETTINGS) as cluster:
                started = time.perf_counter()
                url = services.postgres_database(cluster, "pages", town)
                load_s = time.perf_counter() - started
                cases.append(
                    _case("postgresql", url, town, storm, load_s, repeats, browser_problem)
                )
        else:
            section.notes.append(f"PostgreSQL not measured: {why}")
    for case in cases:
        _report(section, case, repeats)
    section.figures["pages"] = [_figures(case) for case in cases]
    section.notes += _notes(storm, repeats)
    return section


def _case(
    backend: str,
    url: str,
    town: towns.Town,
    storm: feeds.Storm,
    load_s: float,
    repeats: int,
    browser_problem: str | None,
) -> Case:
    with tempfile.TemporaryDirectory(prefix="outage-bench-pages-") as directory:
        storm_s, (subjects, incidents, messages) = timed(
            lambda: _storm(url, storm, Path(directory) / "outages.geojson")
        )
        say(
            f"pages {backend}: {incidents} incidents, {messages:,} messages in {storm_s:.0f} s; "
            f"largest incident {subjects.incident} ({subjects.incident_affected:,} affected)"
        )
        # Quiet: the pages alone are timed, not a dispatcher sending the storm's messages.
        env = services.service_env(url, dispatcher_enabled="false", scheduler_enabled="false")
        serve = services.Serve(env, Path(directory) / "serve.log")
        with services.running(serve):
            ready_s = serve.wait_ready()
            say(f"pages {backend}: serve ready in {ready_s:.1f} s")
            cookies = {name: _sign_in(serve.base_url, name) for name in USERS}
            load_average = services.load_average()
            timings = _server_timings(serve.base_url, subjects, cookies, repeats)
            if browser_problem is None:
                _browser_timings(serve.base_url, timings, cookies, repeats)
            serve.check_alive()
            peak = serve.peak_rss_mb()
    return Case(
        backend=backend,
        customers=len(town),
        load_s=load_s,
        storm_s=storm_s,
        incidents=incidents,
        messages=messages,
        subjects=subjects,
        ready_s=ready_s,
        timings=timings,
        serve_peak_mb=peak,
        load_average=load_average,
    )


def _storm(url: str, storm: feeds.Storm, feed: Path) -> tuple[Subjects, int, int]:
    """The storm polled from the feed and planned to the end; the users made; what the pages
    will name, and the incidents and messages the database then holds."""
    feed.write_bytes(feeds.feed_body(storm.first))
    settings = bench_settings(
        url,
        outage_feeds=[feed.as_uri()],
        point_radius_meters=feeds.POINT_RADIUS_M,
        scheduler_enabled=False,
    )
    runtime = Runtime.build(settings)
    try:
        runtime.warm_index()
        outcome = run_job(JOBS["poll-outages"], runtime.job_context("bench"))
        if not outcome.ok or outcome.result is None:
            raise RuntimeError(f"poll-outages failed: {outcome.error}")
        polled = outcome.result["feeds"][0]
        if polled.get("error") or polled.get("rejected"):
            raise RuntimeError(f"the storm's feed was not read whole: {polled}")
        runtime.planner.drain(timeout=PLAN_TIMEOUT_S)
        with runtime.transaction() as session:
            for username, role in USERS.items():
                create_user(session, username=username, role=role, password=PASSWORD, now=utcnow())
        with runtime.reading() as session:
            return _subjects(session), *_counts(session)
    finally:
        runtime.close()


def _subjects(session: Any) -> Subjects:
    largest = session.execute(
        select(Incident.id, Incident.affected_count)
        .order_by(Incident.affected_count.desc(), Incident.id)
        .limit(1)
    ).one()
    ties = func.count().label("ties")
    customer = session.execute(
        select(Customer.customer_id, Customer.phone, ties)
        .join(IncidentCustomer, IncidentCustomer.customer_pk == Customer.id)
        .where(IncidentCustomer.affected.is_(True), Customer.phone.is_not(None))
        .group_by(Customer.id, Customer.customer_id, Customer.phone)
        .order_by(ties.desc(), Customer.id)
        .limit(1)
    ).one_or_none()
    if customer is None:
        raise RuntimeError("the storm affected no customer with a phone number")
    return Subjects(
        incident=largest.id,
        incident_affected=int(largest.affected_count),
        customer=customer.customer_id,
        phone=customer.phone,
        customer_incidents=int(customer.ties),
    )


def _counts(session: Any) -> tuple[int, int]:
    from outage_notify.db.models import Notification

    incidents = session.scalar(select(func.count()).select_from(Incident))
    messages = session.scalar(select(func.count()).select_from(Notification))
    return int(incidents or 0), int(messages or 0)


# ---- HTTP, as a browser's requests ------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    status: int
    seconds: float
    body_bytes: int
    headers: list[tuple[str, str]]
    text: str


def fetch(
    base_url: str,
    path: str,
    *,
    cookie: str = "",
    method: str = "GET",
    form: dict[str, str] | None = None,
) -> Fetched:
    """One request on a fresh connection, timed from sending it to its body's last byte
    (as sent: gzip when the service compresses it)."""
    parts = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=HTTP_TIMEOUT_S)
    headers = {"Accept": ACCEPT_HTML, "Accept-Encoding": "gzip"}
    if cookie:
        headers["Cookie"] = cookie
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        payload = answer.read()
        seconds = time.perf_counter() - started
    finally:
        connection.close()
    text = "" if answer.getheader("Content-Encoding") else payload.decode(errors="replace")
    return Fetched(answer.status, seconds, len(payload), answer.getheaders(), text)


def cookies_of(fetched: Fetched) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in fetched.headers:
        if name.lower() == "set-cookie":
            jar.load(value)
    return {key: morsel.value for key, morsel in jar.items()}


def _sign_in(base_url: str, username: str) -> str:
    """Signs in through the form (its CSRF value and cookie first, as tests/web/signing.py
    does); returns the session cookie's value."""
    form = fetch(base_url, "/login")
    found = CSRF_FIELD.search(form.text)
    if form.status != 200 or not found:
        raise RuntimeError(f"/login answered {form.status} without its form")
    csrf_cookie = "; ".join(f"{k}={v}" for k, v in cookies_of(form).items())
    fields = {"username": username, "password": PASSWORD, "csrf_token": found.group(1)}
    answer = fetch(
        base_url, "/login", cookie=csrf_cookie, method="POST", form=fields | {"next": ""}
    )
    token = cookies_of(answer).get(SESSION_COOKIE)
    if answer.status != 303 or not token:
        raise RuntimeError(f"signing {username} in answered {answer.status}: {answer.text[:300]}")
    return token


def _server_timings(
    base_url: str, subjects: Subjects, cookies: dict[str, str], repeats: int
) -> list[Timing]:
    """Every page's first request after the start (cold), then `repeats` more each."""
    timings = []
    for page in PAGES:
        path = subjects.path(page)
        first = _get(base_url, page, path, cookies)
        timings.append(Timing(page.name, path, ms(first.seconds), [], first.body_bytes))
    for timing, page in zip(timings, PAGES, strict=True):
        timing.server_ms = [
            ms(_get(base_url, page, timing.path, cookies).seconds) for _ in range(repeats)
        ]
        say(f"pages: {timing.path}: server {timing.server_median_ms:.0f} ms")
    return timings


def _get(base_url: str, page: Page, path: str, cookies: dict[str, str]) -> Fetched:
    cookie = f"{SESSION_COOKIE}={cookies[page.user]}" if page.user else ""
    fetched = fetch(base_url, path, cookie=cookie)
    if fetched.status != 200:
        raise RuntimeError(f"{path} answered {fetched.status}: {fetched.text[:300]}")
    return fetched


# ---- the browser ------------------------------------------------------------------------------


@contextmanager
def _chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright  # only where the browser is measured

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _browser_timings(
    base_url: str, timings: list[Timing], cookies: dict[str, str], repeats: int
) -> None:
    with _chromium() as browser:
        for timing, page in zip(timings, PAGES, strict=True):
            token = cookies[page.user] if page.user else None
            first, again = Visits(), Visits()
            for _ in range(repeats):
                with _context(browser, base_url, token) as context:
                    first.add(_browser_load(context, base_url, timing.path))
            with _context(browser, base_url, token) as context:
                _browser_load(context, base_url, timing.path)  # fills the cache
                for _ in range(repeats):
                    again.add(_browser_load(context, base_url, timing.path))
            timing.browser = dict(zip(VISITS, (first, again), strict=True))
            say(
                f"pages: {timing.path}: browser {first.load_median_ms:.0f} ms "
                f"(return visit {again.load_median_ms:.0f} ms)"
            )


@contextmanager
def _context(browser: Any, base_url: str, token: str | None) -> Iterator[Any]:
    """A browser context of its own (cache, cookies), with the session cookie when signed in."""
    context = browser.new_context(**DESKTOP)
    try:
        if token:
            context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base_url}])
        yield context
    finally:
        context.close()


def _browser_load(context: Any, base_url: str, path: str) -> dict[str, Any]:
    """One load in a new tab of the context, until the load event's handlers have run and
    the page's maps (if any) have drawn their incidents."""
    page = context.new_page()
    try:
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        response = page.goto(base_url + path, wait_until="load")
        if response is None or response.status != 200 or page.url != base_url + path:
            status = response.status if response else None
            raise RuntimeError(f"browser: {path} answered {status} at {page.url}")
        page.wait_for_function(LOADED)
        loaded: dict[str, Any] = page.evaluate(LOAD_TIMING)
        loaded["drawn_ms"] = None
        if loaded["maps"]:
            drawn = page.wait_for_function(MAPS_DRAWN, polling="raf").json_value()
            if drawn < 0:
                raise RuntimeError(f"browser: {path}: a map could not load its data")
            loaded["drawn_ms"] = drawn
        return loaded
    finally:
        page.close()


# ---- the table -------------------------------------------------------------------------------


def verdict(value_ms: float | None) -> str:
    if value_ms is None:
        return "not measured"
    return "within target" if value_ms < TARGET_MS else "OVER TARGET"


def _report(section: Section, case: Case, repeats: int) -> None:
    label = f"{case.backend}, {case.customers:,}"
    section.add(label, "load customers", case.load_s, "s")
    section.add(
        label,
        f"storm: poll + plan {case.incidents} incidents",
        case.storm_s,
        "s",
        f"{case.messages:,} messages",
    )
    section.add(label, "serve ready", case.ready_s, "s", f"load average {case.load_average}")
    for timing in case.timings:
        where = f"{case.backend}: {timing.path}"
        section.add(where, "server: first request (cold)", timing.cold_ms, "ms")
        section.add(
            where,
            f"server: to last byte, median of {repeats}",
            timing.server_median_ms,
            "ms",
            f"{verdict(timing.server_median_ms)}; {timing.response_bytes / 1024:,.1f} KB sent",
        )
        for kind, visits in timing.browser.items():
            _report_visits(section, where, kind, visits, repeats)
    section.add(label, "serve peak RSS (VmHWM)", case.serve_peak_mb, "MB")


def _report_visits(section: Section, where: str, kind: str, visits: Visits, repeats: int) -> None:
    section.add(
        where,
        f"browser, {kind}: load event, median of {repeats}",
        visits.load_median_ms,
        "ms",
        f"{verdict(visits.load_median_ms)}; {visits.bytes / 1024:,.1f} KB transferred, "
        f"{visits.resources} resources; HTML in {statistics.median(visits.document_ms):,.0f} "
        f"ms, DOMContentLoaded done {statistics.median(visits.dom_ms):,.0f} ms",
    )
    if visits.drawn_ms:
        section.add(
            where,
            f"browser, {kind}: map drawn, median of {repeats}",
            visits.drawn_median_ms,
            "ms",
            verdict(visits.drawn_median_ms),
        )


def _figures(case: Case) -> dict[str, Any]:
    return {
        "backend": case.backend,
        "customers": case.customers,
        "incidents": case.incidents,
        "messages": case.messages,
        "load_s": case.load_s,
        "storm_s": case.storm_s,
        "ready_s": case.ready_s,
        "serve_peak_mb": case.serve_peak_mb,
        "load_average": case.load_average,
        "subjects": case.subjects.__dict__,
        "pages": [
            {
                "page": timing.page,
                "path": timing.path,
                "cold_ms": timing.cold_ms,
                "server_ms": timing.server_ms,
                "server_median_ms": timing.server_median_ms,
                "response_bytes": timing.response_bytes,
                "browser": {
                    kind: visits.__dict__
                    | {
                        "load_median_ms": visits.load_median_ms,
                        "drawn_median_ms": visits.drawn_median_ms,
                    }
                    for kind, visits in timing.browser.items()
                },
                "within_target": timing.slowest_ms() < TARGET_MS,
            }
            for timing in case.timings
        ],
    }


def _notes(storm: feeds.Storm, repeats: int) -> list[str]:
    return [
        f"Storm: bench/feeds.py's make_storm ({storm.points} Points, {storm.polygons} polygons, "
        f"covering {storm.covered_share:.1%} of the customers) as a file:// feed, polled by the "
        "real poll-outages job and planned to the end (runtime.planner.drain()); messages "
        "written, not sent.",
        "serve = `python -m outage_notify serve` subprocess, dispatcher and scheduler off (the "
        "pages alone are timed). An operator and an agent signed in through /login (its CSRF "
        "form); each page is fetched with the session cookie of the user it needs.",
        "server: a fresh connection per request over 127.0.0.1, gzip accepted, time from the "
        "request to the last byte of the body; 'cold' is the page's first request after serve "
        f"started and the users signed in (pages in table order), then the median of {repeats}.",
        "browser: headless Chromium (Playwright, Debian's /usr/bin/chromium), 1280 × 900, "
        "page.goto(wait_until='load') in a new tab; first visit: a new context per load (empty "
        "cache); return visit: one context, loaded once untimed first (static files cached). "
        "Navigation Timing loadEventEnd - startTime (HTML received: responseEnd; "
        "DOMContentLoaded done: domContentLoadedEventEnd); KB = transferSize of the document "
        "and its resources.",
        "A map fetches its incidents (and outlines) after DOMContentLoaded, which the load event "
        "does not wait for: 'map drawn' is the moment every [data-map] on the page says "
        "data-map-ready (static/map.js), from the navigation's start, polled every frame.",
        "The GeoJSON's browser row is Chromium showing the raw JSON as text, not how it is used "
        "(the map's script fetches it); its server row is the figure that matters.",
        f"Target: {TARGET_MS:.0f} ms (issue 12), for the server median and the browser medians.",
    ]
