"""`outage-notify demo`: load the demo town and play a storm night end to end.

Every step goes through the same services the API calls (incident upsert and patch, planning,
the outbox and the dispatcher) against whatever database and providers are configured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from outage_notify import paths
from outage_notify.auth.apikeys import create_key
from outage_notify.config import Settings
from outage_notify.customers.imports import import_customers
from outage_notify.customers.service import add_push_subscription, get_customer
from outage_notify.incidents.service import IncidentOutcome
from outage_notify.ingest.customers import CustomerRules, parse_file
from outage_notify.ingest.operator_api import incident_from_body
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

TOWN = paths.FIXTURES / "demo_town"
SOURCE = "operator"
ACTOR = "demo"


class DemoRefused(Exception):
    pass


@dataclass
class DemoResult:
    customers: int = 0
    incidents: dict[str, str] = field(default_factory=dict)  # scenario ref → incident id
    messages: int = 0
    agent_key: str = ""


def play(
    settings: Settings,
    *,
    pace: float = 0.0,
    allow_real_providers: bool = False,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Loads the town, plays the storm, prints what happened at each step."""
    real_sms = settings.twilio_configured and "api.twilio.com" in settings.twilio_base_url
    if real_sms and not allow_real_providers:
        raise DemoRefused(
            "a real Twilio account is configured: the demo town's random numbers would be "
            "texted. Use --allow-real-providers only if that is really meant."
        )
    runtime = Runtime.build(settings, migrate=True)
    try:
        result = DemoResult(customers=_load_town(runtime))
        say(f"Demo town loaded: {result.customers} customers in Porvoo (fixtures/demo_town).")
        _play_storm(runtime, result, pace, say)
        with runtime.transaction() as session:
            _, result.agent_key = create_key(session, role="agent", name="demo-agent", now=utcnow())
    finally:
        runtime.close()
    say(f"Messages sent: {result.messages}. Agent key for /agent: {result.agent_key}")
    return result


def _load_town(runtime: Runtime) -> int:
    settings = runtime.settings
    data = (TOWN / "customers.csv").read_bytes()
    parsed = parse_file(data, "customers.csv", CustomerRules(settings.default_language, "FI"))
    with runtime.transaction() as session:
        import_customers(session, parsed=parsed, now=utcnow())
        add_town_subscriptions(session, now=utcnow())
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


def _play_storm(
    runtime: Runtime, result: DemoResult, pace: float, say: Callable[[str], None]
) -> None:
    scenario = json.loads((TOWN / "storm.json").read_text(encoding="utf-8"))
    started = utcnow()
    run = started.astimezone(runtime.settings.zone).strftime("%Y%m%d-%H%M%S")
    for number, step in enumerate(scenario["steps"], start=1):
        say(f"[{number}] {step['say']}")
        outcome = _step(runtime, step, result, run, started)
        sent = runtime.drain(timeout=600)
        result.messages += sent
        say(f"    {_describe(outcome)}; {sent} messages delivered")
        if pace:
            time.sleep(pace)


def _step(
    runtime: Runtime, step: dict[str, Any], result: DemoResult, run: str, started: datetime
) -> IncidentOutcome:
    now = utcnow()
    with runtime.transaction() as session:
        if "post" in step:
            body = _body(step["post"], runtime, started)
            body["external_id"] = f"DEMO-{run}-{step['post']['ref'].upper()}"
            record = incident_from_body(body, max_vertices=runtime.settings.max_area_vertices)
            outcome = runtime.incidents.upsert(
                session, source=SOURCE, record=record, actor=ACTOR, now=now
            )
            result.incidents[step["post"]["ref"]] = outcome.incident.id
        else:
            patch = _body(step["patch"], runtime, started)
            incident_id = result.incidents[step["patch"]["ref"]]
            outcome = runtime.incidents.patch(
                session, incident_id=incident_id, patch=patch, actor=ACTOR, now=now
            )
    return outcome


def _body(spec: dict[str, Any], runtime: Runtime, started: datetime) -> dict[str, Any]:
    body = {
        k: v
        for k, v in spec.items()
        if k not in ("ref", "etr_minutes", "started_minutes", "local_window")
    }
    if "etr_minutes" in spec:
        body["etr"] = (started + timedelta(minutes=spec["etr_minutes"])).isoformat()
    if "started_minutes" in spec:
        body["started_at"] = (started + timedelta(minutes=spec["started_minutes"])).isoformat()
    if "local_window" in spec:
        body["starts_at"], body["ends_at"] = _window(spec["local_window"], runtime, started)
    return body


def _window(window: dict[str, Any], runtime: Runtime, started: datetime) -> tuple[str, str]:
    day = (started.astimezone(runtime.settings.zone) + timedelta(days=window["days_ahead"])).date()
    zone = runtime.settings.zone

    def at(hhmm: str) -> str:
        hours, minutes = (int(part) for part in hhmm.split(":"))
        return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone).isoformat()

    return at(window["start"]), at(window["end"])


def _describe(outcome: IncidentOutcome) -> str:
    changes = ", ".join(c.value for c in outcome.changes) or "no change"
    return f"{outcome.incident.external_id}: {changes}; {outcome.incident.affected_count} affected"
