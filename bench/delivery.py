"""Delivery latency: from the POST of an incident (FastAPI app, TestClient) to the first and
the last message arriving at the provider stand-ins, with the dispatcher running as in `serve`.

The stand-ins (Twilio REST via the real twilio SDK, an aiosmtpd SMTP server, a Web Push service
that checks VAPID and decrypts) run in a process of their own, so their work does not share the
app's interpreter lock; on Linux time.perf_counter is CLOCK_MONOTONIC, one clock for both.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench import town as towns
from bench.common import bench_settings, fresh_database, say
from bench.planning import DEMO_AFFECTED, incident_body
from bench.report import Section, ms, per_second
from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.customers.service import add_push_subscription, get_customer, upsert_customers
from outage_notify.db.models import Notification, PushSubscription
from outage_notify.delivery.channels.webpush import generate_vapid_keys
from outage_notify.delivery.outbox import backlog
from outage_notify.ingest.records import CustomerRecord
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.standins.push import PushService
from tests.standins.smtp import SmtpSink
from tests.standins.twilio import TwilioStandIn

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "bench-auth-token-0123456789"
TWILIO_FROM = "+358401234567"
CHANNELS = ("sms", "email", "push")
TIMEOUT_S = 900.0
WARM_UP_AFFECTED = 20


# ---- stand-ins that note when each message arrives -----------------------------------------


@dataclass
class TimedTwilio(TwilioStandIn):
    arrivals: list[float] = field(default_factory=list)

    def handle(self, path: str, headers: Any, form: dict[str, str]) -> tuple[int, dict]:
        status, body = super().handle(path, headers, form)
        if status == 201:
            self.arrivals.append(time.perf_counter())
        return status, body


@dataclass
class TimedSmtp(SmtpSink):
    arrivals: list[float] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        self.arrivals.append(time.perf_counter())
        return reply


@dataclass
class TimedPush(PushService):
    arrivals: list[float] = field(default_factory=list)

    def handle(self, path: str, headers: Any, body: bytes) -> int:
        status = super().handle(path, headers, body)
        if status == 201:
            self.arrivals.append(time.perf_counter())
        return status


def serve_stand_ins(conn: Connection, names: list[str], vapid_public: str) -> None:
    """The stand-ins' process: starts them, then answers "counts", "arrivals" and "stop"."""
    twilio = TimedTwilio(TWILIO_SID, TWILIO_TOKEN).start()
    smtp = TimedSmtp().start()
    push = TimedPush(vapid_public_key=vapid_public).start()
    by_channel: dict[str, Any] = {"sms": twilio, "email": smtp, "push": push}
    conn.send(
        {
            "twilio_url": twilio.base_url,
            "smtp_port": smtp.port,
            "subscriptions": {name: push.subscribe(name) for name in names},
        }
    )
    while (command := conn.recv()) != "stop":
        if command == "cpu":
            conn.send(time.process_time())
        elif command == "counts":
            conn.send({ch: len(s.arrivals) for ch, s in by_channel.items()})
        elif command == "arrivals":
            conn.send({ch: list(s.arrivals) for ch, s in by_channel.items()})
    for stand_in in by_channel.values():
        stand_in.stop()
    conn.send("stopped")


class StandIns:
    """The parent's handle on the stand-ins' process."""

    def __init__(self, names: list[str], vapid_public: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=serve_stand_ins, args=(child, names, vapid_public), name="bench-stand-ins"
        )
        self._process.start()
        child.close()
        self.info: dict[str, Any] = self._conn.recv()

    def counts(self) -> dict[str, int]:
        self._conn.send("counts")
        answer: dict[str, int] = self._conn.recv()
        return answer

    def cpu_seconds(self) -> float:
        """CPU time (all threads) the stand-ins' process has used so far."""
        self._conn.send("cpu")
        answer: float = self._conn.recv()
        return answer

    def arrivals(self) -> dict[str, list[float]]:
        self._conn.send("arrivals")
        answer: dict[str, list[float]] = self._conn.recv()
        return answer

    def stop(self) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._process.join(10)


@contextmanager
def stand_ins(names: list[str], vapid_public: str) -> Iterator[StandIns]:
    handle = StandIns(names, vapid_public)
    try:
        yield handle
    finally:
        handle.stop()


# ---- the measurement -----------------------------------------------------------------------------


@dataclass
class Delivery:
    affected: int
    post_s: float
    expected: dict[str, int]
    arrivals: dict[str, list[float]]  # seconds after the POST started
    statuses: dict[str, int]
    left_in_outbox: int
    cpu_app_s: float  # CPU of this process (API, planning, dispatcher) from POST to last arrival
    cpu_stand_ins_s: float

    @property
    def all_arrivals(self) -> list[float]:
        return sorted(t for times in self.arrivals.values() for t in times)


def run() -> Section:
    section = Section("3. Delivery latency: POST /api/v1/incidents → provider stand-ins")
    records = towns.demo_records()
    town = towns.demo_town(records)
    subscriptions = json.loads((towns.DEMO_DIR / "push_subscriptions.json").read_text("utf-8"))
    names = [sub["customer_id"] for sub in subscriptions]
    vapid_private, vapid_public = generate_vapid_keys()
    with stand_ins(names, vapid_public) as providers, fresh_database("delivery") as url:
        settings = _settings(url, providers.info, vapid_private)
        runtime = Runtime.build(settings)
        headers = _prepare(runtime, records, providers.info["subscriptions"])
        with TestClient(create_app(runtime=runtime)) as client:  # lifespan starts the dispatcher
            say("delivery: warm-up incident")
            warm = _warm_up_area(town)
            _post_and_wait(client, runtime, providers, headers, "WARMUP", warm)
            say("delivery: measured incident")
            area = towns.storm_polygon(town.lon, town.lat, DEMO_AFFECTED)
            result = _post_and_wait(client, runtime, providers, headers, "STORM", area)
            say(f"delivery: {len(result.all_arrivals):,} messages arrived")
        _report(section, f"demo town ({len(town):,})", result, settings.dispatch_threads)
        section.notes.append(_setup_note(settings))
    return section


def _settings(url: str, info: dict[str, Any], vapid_private: str) -> Any:
    return bench_settings(
        url,
        dispatcher_enabled=True,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from=TWILIO_FROM,
        twilio_base_url=info["twilio_url"],
        smtp_host="127.0.0.1",
        smtp_port=info["smtp_port"],
        smtp_from="outages@utility.example",
        vapid_private_key=vapid_private,
        vapid_subject="mailto:ops@utility.example",
    )


def _prepare(
    runtime: Runtime, records: list[CustomerRecord], subscriptions: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """The demo town with its push subscribers registered at the local push service, and an
    operator key. Returns the operator's Authorization header."""
    now = utcnow()
    with runtime.transaction() as session:
        upsert_customers(session, records=records, now=now)
        for customer_id, sub in subscriptions.items():
            customer = get_customer(session, customer_id=customer_id)
            if customer is not None:
                keys = sub["keys"]
                add_push_subscription(
                    session,
                    customer=customer,
                    endpoint=sub["endpoint"],
                    p256dh=keys["p256dh"],
                    auth=keys["auth"],
                    now=now,
                )
        _, key = create_key(session, role="operator", name="bench", now=now)
    with runtime.transaction() as session:
        runtime.customer_index.get(session)  # a serving process has it loaded already
    return {"Authorization": f"Bearer {key}"}


def _warm_up_area(town: towns.Town) -> Any:
    """A small outage at the town's northern edge: templates, SDK clients and SMTP connections
    are ready before the measured one, as in a process that has been serving."""
    north = int(town.lat.argmax())
    centre = (float(town.lon[north]), float(town.lat[north]))
    return towns.storm_polygon(town.lon, town.lat, WARM_UP_AFFECTED, centre=centre, seed=3)


def _post_and_wait(
    client: TestClient,
    runtime: Runtime,
    providers: StandIns,
    headers: dict[str, str],
    label: str,
    area: Any,
) -> Delivery:
    body = _body(label, area)
    before = providers.counts()
    cpu_before = (time.process_time(), providers.cpu_seconds())
    started = time.perf_counter()
    answer = client.post("/api/v1/incidents", json=body, headers=headers)
    post_s = time.perf_counter() - started
    if answer.status_code != 201:
        raise RuntimeError(f"POST answered {answer.status_code}: {answer.text}")
    incident = answer.json()
    expected = _expected(runtime, incident["id"])
    _wait_for(providers, before, expected, label)
    cpu_after = (time.process_time(), providers.cpu_seconds())
    arrivals = providers.arrivals()
    return Delivery(
        cpu_app_s=cpu_after[0] - cpu_before[0],
        cpu_stand_ins_s=cpu_after[1] - cpu_before[1],
        affected=incident["affected_customers"],
        post_s=post_s,
        expected=expected,
        arrivals={ch: [t - started for t in arrivals[ch][before[ch] :]] for ch in CHANNELS},
        statuses=_statuses(runtime, incident["id"]),
        left_in_outbox=_outbox_left(runtime),
    )


def _body(label: str, area: Any) -> dict[str, Any]:
    return incident_body(f"BENCH-DELIVERY-{label}-{utcnow():%H%M%S%f}", area)


def _expected(runtime: Runtime, incident_id: str) -> dict[str, int]:
    """Messages each provider should receive: a push goes to each of the customer's devices."""
    with runtime.transaction() as session:
        sending = (
            Notification.incident_id == incident_id,
            Notification.status != "suppressed",
        )
        counts = dict(
            session.execute(
                select(Notification.channel, func.count())
                .where(*sending, Notification.channel.in_(("sms", "email")))
                .group_by(Notification.channel)
            ).all()
        )
        counts["push"] = (
            session.scalar(
                select(func.count())
                .select_from(Notification)
                .join(PushSubscription, PushSubscription.customer_pk == Notification.customer_pk)
                .where(*sending, Notification.channel == "push")
            )
            or 0
        )
    return {ch: int(counts.get(ch) or 0) for ch in CHANNELS}


def _wait_for(
    providers: StandIns, before: dict[str, int], expected: dict[str, int], label: str
) -> None:
    deadline = time.perf_counter() + TIMEOUT_S
    while time.perf_counter() < deadline:
        counts = providers.counts()
        if all(counts[ch] - before[ch] >= expected[ch] for ch in CHANNELS):
            return
        time.sleep(0.01)
    raise TimeoutError(f"{label}: not every message arrived within {TIMEOUT_S:.0f} s")


def _statuses(runtime: Runtime, incident_id: str) -> dict[str, int]:
    with runtime.transaction() as session:
        rows = session.execute(
            select(Notification.status, func.count())
            .where(Notification.incident_id == incident_id)
            .group_by(Notification.status)
        ).all()
    return {status: int(n) for status, n in rows}


def _outbox_left(runtime: Runtime) -> int:
    with runtime.transaction() as session:
        depth = backlog(session, now=utcnow())
    return depth["due"] + depth["in_flight"]


# ---- reporting -----------------------------------------------------------------------------------


def _report(section: Section, case: str, result: Delivery, threads: int) -> None:
    times = result.all_arrivals
    total = len(times)
    section.add(case, "affected", result.affected, "customers")
    section.add(case, "POST answered", ms(result.post_s), "ms", "plans and commits")
    if not times:
        section.add(case, "messages sent", 0, "", "nothing to send")
        return
    section.add(case, "first message at a provider", ms(times[0]), "ms", "after the POST began")
    section.add(case, "last message at a provider", times[-1], "s", "after the POST began")
    section.add(case, "messages sent", total, "messages", _by_channel(result))
    section.add(
        case,
        "throughput",
        per_second(total, times[-1] - times[0]),
        "msg/s",
        f"first to last; {per_second(total, times[-1]):,.0f} msg/s from the POST",
    )
    for channel in CHANNELS:
        _report_channel(section, case, channel, result.arrivals[channel])
    window = times[-1]
    section.add(
        case,
        "CPU, app process",
        result.cpu_app_s,
        "s",
        f"{result.cpu_app_s / window:.0%} of one core over the {window:.1f} s; API, "
        "planning, dispatcher, channels",
    )
    section.add(
        case,
        "CPU, stand-ins process",
        result.cpu_stand_ins_s,
        "s",
        f"{result.cpu_stand_ins_s / window:.0%} of one core",
    )
    section.add(case, "notification statuses", _plain(result.statuses))
    section.add(case, "outbox left (due + in flight)", result.left_in_outbox, "rows")
    section.figures["demo"] = _figures(result, threads)


def _report_channel(section: Section, case: str, channel: str, times: list[float]) -> None:
    if not times:
        return
    rate = per_second(len(times), max(times) - min(times)) if len(times) > 1 else None
    section.add(
        case,
        f"  {channel}: first / last",
        f"{ms(min(times)):,.0f} ms / {max(times):.2f} s",
        "",
        f"{len(times):,} messages, {rate or 0:,.0f} msg/s",
    )


def _by_channel(result: Delivery) -> str:
    return ", ".join(f"{ch} {len(result.arrivals[ch]):,}" for ch in CHANNELS)


def _plain(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))


def _figures(result: Delivery, threads: int) -> dict[str, Any]:
    times = result.all_arrivals
    return {
        "affected": result.affected,
        "post_s": result.post_s,
        "first_s": times[0],
        "last_s": times[-1],
        "messages": len(times),
        "messages_per_s_first_to_last": per_second(len(times), times[-1] - times[0]),
        "messages_per_s_from_post": per_second(len(times), times[-1]),
        "expected": result.expected,
        "by_channel": {
            ch: {"count": len(t), "first_s": min(t, default=None), "last_s": max(t, default=None)}
            for ch, t in result.arrivals.items()
        },
        "statuses": result.statuses,
        "cpu_app_s": result.cpu_app_s,
        "cpu_stand_ins_s": result.cpu_stand_ins_s,
        "dispatch_threads": threads,
    }


def _setup_note(settings: Any) -> str:
    return (
        "Dispatcher as in `serve` (lifespan thread, dispatcher_enabled=True): batch "
        f"{settings.dispatch_batch_size}, {settings.dispatch_threads} send threads. Stand-ins in a "
        "separate process on 127.0.0.1: Twilio REST (real twilio SDK), aiosmtpd, Web Push "
        "(VAPID checked, payload decrypted). One warm-up incident "
        f"({WARM_UP_AFFECTED} customers) is sent first; the customer index is loaded."
    )
