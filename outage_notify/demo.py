"""`outage-notify demo`: load the demo town and play a storm night end to end.

The night (fixtures/demo_town/storm.json) is played on a simulated clock, a poll period at a
time, as the scheduler would run it: at each moment the weather service's CAP warning of that
moment (fixtures/demo_town/cap/) and the OMS feed's snapshot (fixtures/demo_town/feed/) are
served from local files, `poll-cap`, `poll-outages` and `due-rules` run, and the workers plan
and deliver what is due. The town's feeder network (fixtures/demo_town/feeders.geojson) is
loaded with its customers: a warning over a feeder's line reaches the customers it feeds.
Operators' requests go through the same service the API calls. So every message comes from the
real path: source → incident → planning → outbox → providers (the development sink unless
configured) → timeline.

Messages held for later (a customer's quiet hours, a planned-work notice) stay queued with
their time: only what is due at each simulated moment is delivered.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select

from outage_notify import paths
from outage_notify.auth.users import create_user, enable_user, find_user, set_password
from outage_notify.clock import ManualClock
from outage_notify.config import Settings
from outage_notify.customers.imports import import_customers
from outage_notify.customers.service import add_push_subscription, get_customer
from outage_notify.db.models import FeedItem, Incident, IncidentRevision
from outage_notify.incidents.model import ACTIVE_STATUSES, IncidentKind
from outage_notify.ingest.customers import CustomerRules, parse_file
from outage_notify.ingest.operator_api import incident_from_body
from outage_notify.matching.grid import import_lines, parse_lines
from outage_notify.runtime import Runtime
from outage_notify.scheduler.jobs import JOBS, run_job
from outage_notify.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

TOWN = paths.FIXTURES / "demo_town"
FEED = TOWN / "feed"
CAP = TOWN / "cap"
SOURCE = "operator"
ACTOR = "demo"
# The feed's times, moved with the night (the canonical form's time properties).
TIME_PROPERTIES = ("started_at", "etr", "starts_at", "ends_at", "updated_at")
EMPTY_FEED = b'{"type": "FeatureCollection", "features": []}\n'
SWEEPS = ("poll-cap", "poll-outages", "due-rules")
# A CAP document's times (sent, onset, expires, those in references).
CAP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
# Between the story's steps the feed does not change, so the clock moves by this much unless a
# poll can still decide something (see Player.in_motion).
SETTLED_STEP = timedelta(minutes=5)
# Who can sign in to the pages after `make run`, and their roles.
DEMO_USERS = {"demo-agent": "agent", "demo-operator": "operator"}


class DemoRefused(Exception):
    pass


@dataclass
class DemoResult:
    customers: int = 0
    incidents: dict[str, str] = field(default_factory=dict)  # scenario ref → incident id
    messages: int = 0
    passwords: dict[str, str] = field(default_factory=dict)  # demo user → their password


def play(
    settings: Settings,
    *,
    pace: float = 0.0,
    allow_real_providers: bool = False,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Loads the town, plays the storm night, prints what happened at each step."""
    real_sms = settings.twilio_configured and "api.twilio.com" in settings.twilio_base_url
    if real_sms and not allow_real_providers:
        raise DemoRefused(
            "a real Twilio account is configured: the demo town's random numbers would be "
            "texted. Use --allow-real-providers only if that is really meant."
        )
    scenario = json.loads((TOWN / "storm.json").read_text(encoding="utf-8"))
    night = Night.last_ended(scenario, settings.zone, now=utcnow())
    # Per run: the operator's external ids and the feed (its incidents' source) are new, so a
    # second run on the same database plays the whole night again instead of finding it done.
    run = utcnow().astimezone(settings.zone).strftime("%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory(prefix="outage-notify-demo-") as folder:
        feed = Path(folder) / f"oms-{run}.geojson"
        _serve(feed, EMPTY_FEED, night.at(0))
        warnings = Path(folder) / f"fmi-{run}.xml"
        story = settings.model_copy(
            update={
                **scenario["settings"],
                "outage_feeds": [feed.as_uri()],
                "cap_feeds": [warnings.as_uri()],
            }
        )
        runtime = Runtime.build(story, migrate=True, clock=ManualClock(night.at(0)))
        try:
            result = DemoResult(customers=_load_town(runtime))
            say(f"Demo town loaded: {result.customers} customers in Porvoo (fixtures/demo_town).")
            say(night.headline(scenario, story))
            player = Player(runtime, night, Served(feed, warnings), run, result, say)
            player.play(scenario["steps"], pace)
            with runtime.transaction() as session:
                result.passwords = demo_users(session, now=utcnow())
        finally:
            runtime.close()
    say(f"Messages sent: {result.messages}.")
    say("Sign in at /login (these passwords are shown once; each demo run makes new ones):")
    for name, password in result.passwords.items():
        say(f"  {name}  {password}  ({DEMO_USERS[name]})")
    return result


def demo_users(session: Session, *, now: datetime) -> dict[str, str]:
    """The demo's users with new random passwords: made on the first run, given new
    passwords (and enabled again) on the next ones, since no earlier run's can be shown."""
    passwords = {}
    for name, role in DEMO_USERS.items():
        password = secrets.token_urlsafe(12)
        user = find_user(session, username=name)
        if user is None:
            create_user(session, username=name, role=role, password=password, now=now)
        else:
            user.role = role
            enable_user(session, user=user)
            set_password(session, user=user, password=password)
        passwords[name] = password
    return passwords


@dataclass(frozen=True)
class Night:
    """The story's night moved by whole days to the one being played (local times kept)."""

    start: datetime  # local, aware
    days: int  # from the night the story (and its feed snapshots) was written for
    minutes: int  # from the start to the last step

    @classmethod
    def last_ended(cls, scenario: dict[str, Any], zone: ZoneInfo, *, now: datetime) -> Night:
        """The most recent night whose story has ended by now (the served app then shows it
        as history), and with no change of UTC offset in it (minutes are wall-clock minutes)."""
        written = datetime.fromisoformat(scenario["start"]).astimezone(zone)
        minutes = max(step["minute"] for step in scenario["steps"])
        day = now.astimezone(zone).date()
        while True:
            start = datetime.combine(day, written.timetz().replace(tzinfo=None), tzinfo=zone)
            end = start + timedelta(minutes=minutes)
            if end <= now and start.utcoffset() == end.utcoffset():
                return cls(start, (day - written.date()).days, minutes)
            day -= timedelta(days=1)

    def at(self, minute: int) -> datetime:
        return (self.start + timedelta(minutes=minute)).astimezone(UTC)

    def moved(self, text: str) -> str:
        """A feed time of the story's night, on the night played."""
        written = datetime.fromisoformat(text)
        return (written.astimezone(self.start.tzinfo) + timedelta(days=self.days)).isoformat()

    def headline(self, scenario: dict[str, Any], settings: Settings) -> str:
        rules = ", ".join(f"{name.upper()}={value}" for name, value in scenario["settings"].items())
        return (
            f"{scenario['title']}: {self.start:%A %d %B %Y}, from {self.start:%H:%M} "
            f"({settings.timezone}), on a simulated clock: the feed is polled and the due rules "
            f"run every POLL_SECONDS while an outage awaits confirmation or restoration, else "
            f"every {SETTLED_STEP.seconds // 60} minutes (the feed changes only at the "
            f"story's steps).\nRules as the story is written for: {rules}."
        )


@dataclass(frozen=True)
class Served:
    """The local files the sources are read from: the OMS feed and the CAP warnings (the
    latter only once the story's weather service has said something)."""

    feed: Path
    warnings: Path


class Player:
    def __init__(
        self,
        runtime: Runtime,
        night: Night,
        served: Served,
        run: str,
        result: DemoResult,
        say: Callable[[str], None],
    ) -> None:
        self.runtime, self.night, self.served, self.run = runtime, night, served, run
        self.result, self.say = result, say
        self.context = runtime.job_context("demo")
        with runtime.reading() as session:
            self.seen = session.scalar(select(IncidentRevision.id).order_by(-IncidentRevision.id))
        self.seen = self.seen or 0

    def play(self, steps: list[dict[str, Any]], pace: float) -> None:
        pending = sorted(steps, key=lambda step: step["minute"])
        poll = self.runtime.settings.poll_seconds
        offset, end = 0.0, self.night.minutes * 60.0
        clock = self.runtime.clock
        assert isinstance(clock, ManualClock)
        while offset <= end:
            now = self.night.at(0) + timedelta(seconds=offset)
            clock.set(now)
            label = f"[{now.astimezone(self.night.start.tzinfo):%H:%M}]"
            step = pending.pop(0) if pending and pending[0]["minute"] * 60 <= offset else None
            if step is not None:
                self.say(f"{label} {step['say']}")
                self._act(step, now)
            news = self._tick()
            if step is not None:
                self.say("    " + ("; ".join(news) or "nothing to tell anyone"))
                if pace:
                    time.sleep(pace)
            elif news:
                self.say(f"{label} " + "; ".join(news))
            settled = SETTLED_STEP.total_seconds()
            ahead = poll if self._in_motion() else max(poll, settled - offset % settled)
            if pending:
                ahead = min(ahead, pending[0]["minute"] * 60 - offset)
            offset += ahead

    def _tick(self) -> list[str]:
        """The scheduler's sweeps at this moment, then planning and delivery."""
        for name in SWEEPS:
            outcome = run_job(JOBS[name], self.context)
            if not outcome.ok:
                raise RuntimeError(f"{name} failed: {outcome.error}")
        sent = self.runtime.drain(timeout=600)
        self.result.messages += sent
        news = self._revisions()
        if sent:
            news.append(f"{sent} messages delivered")
        return news

    def _in_motion(self) -> bool:
        """Whether the next poll can decide something though the feed is unchanged: an
        outage not yet confirmed (or found momentary), or one missing from the feed and not
        yet restored. Otherwise the polls until the next step would all read the same
        snapshot and change nothing, and the clock moves on by SETTLED_STEP (the due rules
        then run at most that late: the story's times fall on its multiples)."""
        open_unplanned = (Incident.kind == IncidentKind.UNPLANNED) & Incident.status.in_(
            ACTIVE_STATUSES
        )
        unconfirmed = exists().where(open_unplanned, Incident.confirmed_at.is_(None))
        missing = exists().where(
            FeedItem.incident_id == Incident.id,
            FeedItem.absent_polls > 0,
            Incident.status.in_(ACTIVE_STATUSES),
        )
        with self.runtime.reading() as session:
            return bool(session.scalar(select(unconfirmed | missing)))

    def _act(self, step: dict[str, Any], now: datetime) -> None:
        if "cap" in step:
            document = (CAP / step["cap"]).read_text(encoding="utf-8")
            _serve(self.served.warnings, self._moved_cap(document).encode(), now)
        if "feed" in step:
            snapshot = json.loads((FEED / step["feed"]).read_text(encoding="utf-8"))
            _serve(self.served.feed, json.dumps(self._moved(snapshot)).encode(), now)
        if "post" not in step and "patch" not in step:
            return
        with self.runtime.transaction() as session:
            if "post" in step:
                body = self._body(step["post"])
                body["external_id"] = f"DEMO-{self.run}-{step['post']['ref'].upper()}"
                record = incident_from_body(
                    body, max_vertices=self.runtime.settings.max_area_vertices
                )
                outcome = self.runtime.incidents.upsert(
                    session, source=SOURCE, record=record, actor=ACTOR, now=now
                )
                self.result.incidents[step["post"]["ref"]] = outcome.incident.id
            else:
                self.runtime.incidents.patch(
                    session,
                    incident_id=self.result.incidents[step["patch"]["ref"]],
                    patch=self._body(step["patch"]),
                    actor=ACTOR,
                    now=now,
                )

    def _moved(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        for feature in snapshot["features"]:
            properties = feature.get("properties") or {}
            for name in TIME_PROPERTIES:
                if isinstance(properties.get(name), str):
                    properties[name] = self.night.moved(properties[name])
        return snapshot

    def _moved_cap(self, document: str) -> str:
        """The warning on the night played, and new to this run (its identifiers name it)."""
        moved = CAP_TIME.sub(lambda match: self.night.moved(match.group(0)), document)
        return moved.replace(".RUN", f".{self.run.replace('-', '.')}")

    def _body(self, spec: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in spec.items() if k not in ("ref", "local_window")}
        if "local_window" in spec:
            window = spec["local_window"]
            day = self.night.start.date() + timedelta(days=window["days_ahead"])
            for name, hhmm in (("starts_at", window["start"]), ("ends_at", window["end"])):
                hours, minutes = (int(part) for part in hhmm.split(":"))
                local = datetime(day.year, day.month, day.day, hours, minutes)
                body[name] = local.replace(tzinfo=self.night.start.tzinfo).isoformat()
        return body

    def _revisions(self) -> list[str]:
        """What changed in the incidents since the last look, and who or what changed it."""
        with self.runtime.reading() as session:
            rows = session.execute(
                select(IncidentRevision, Incident)
                .join(Incident, Incident.id == IncidentRevision.incident_id)
                .where(IncidentRevision.id > self.seen)
                .order_by(IncidentRevision.id)
            ).all()
        lines = []
        for revision, incident in rows:
            self.seen = revision.id
            if incident.source != SOURCE:
                self.result.incidents.setdefault(incident.external_id, incident.id)
            changes = ", ".join(revision.changes)
            lines.append(
                f"{incident.external_id}: {changes} by {_who(revision.actor)}; "
                f"{incident.affected_count} affected"
            )
        return lines


def _who(actor: str) -> str:
    """The sources' actors name the demo's temporary files: "the feed" says enough here."""
    if actor.startswith("feed:"):
        return "the feed"
    if actor.startswith("cap:"):
        return "the weather service's CAP feed"
    return actor


def _serve(feed: Path, body: bytes, now: datetime) -> None:
    """The OMS's snapshot from now on. The file's time is the simulated moment, so the
    poller's conditional read (mtime and size) sees each snapshot as new, and only those."""
    feed.write_bytes(body)
    stamp = int(now.timestamp() * 1_000_000_000)
    os.utime(feed, ns=(stamp, stamp))


def _load_town(runtime: Runtime) -> int:
    settings = runtime.settings
    now = runtime.clock.now()
    data = (TOWN / "customers.csv").read_bytes()
    parsed = parse_file(data, "customers.csv", CustomerRules(settings.default_language, "FI"))
    lines = parse_lines((TOWN / "feeders.geojson").read_bytes())
    with runtime.transaction() as session:
        import_customers(session, parsed=parsed, now=now)
        add_town_subscriptions(session, now=now)
        import_lines(session, parsed=lines, now=now)
    return len(parsed.records)


def add_town_subscriptions(session: Session, *, now: datetime) -> None:
    """The demo town's app users: push subscriptions in the browser's toJSON() form."""
    subscriptions = json.loads((TOWN / "push_subscriptions.json").read_text(encoding="utf-8"))
    for sub in subscriptions:
        customer = get_customer(session, customer_id=sub["customer_id"])
        if customer is not None:
            add_push_subscription(
                session,
                customer=customer,
                endpoint=sub["endpoint"],
                p256dh=sub["keys"]["p256dh"],
                auth=sub["keys"]["auth"],
                now=now,
            )
