"""Delivery against the real protocols: retries outlast a failing provider, permanent failures
fall back to email, a killed worker's claims are taken up again and flagged, receipts only
move a message forward, dead push subscriptions are dropped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.db.models import Notification, OutboxItem, PushSubscription
from outage_notify.delivery import outbox
from outage_notify.delivery.channels.base import Outcome, OutgoingMessage, SendResult
from outage_notify.delivery.receipts import apply_twilio_status
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.standins.push import PushService
from tests.standins.smtp import SmtpSink, recipient
from tests.standins.twilio import Fault, TwilioStandIn
from tests.town import cells, customer, town


@pytest.fixture
def setup(make_settings: Any, provider_settings: dict[str, Any]) -> Iterator[dict[str, Any]]:
    settings = make_settings(**provider_settings, retry_base_seconds=0.01, lease_seconds=5)
    runtime = Runtime.build(settings)
    client = TestClient(create_app(runtime=runtime))
    with runtime.transaction() as session:
        keys = {
            role: {
                "Authorization": f"Bearer {create_key(session, role=role, name=role, now=utcnow())[1]}"
            }
            for role in ("admin", "operator", "agent")
        }
    yield {"runtime": runtime, "client": client, "keys": keys}
    runtime.close()


def load(setup: dict[str, Any], people: list[dict[str, Any]]) -> None:
    answer = setup["client"].post("/api/v1/customers", json=people, headers=setup["keys"]["admin"])
    assert answer.status_code == 200 and not answer.json()["rejected"], answer.text


def post(setup: dict[str, Any], **body: Any) -> dict[str, Any]:
    answer = setup["client"].post("/api/v1/incidents", json=body, headers=setup["keys"]["operator"])
    assert answer.status_code in (200, 201), answer.text
    setup["runtime"].planner.drain()  # what the planning worker does at once in `serve`
    return answer.json()


def drain_until_empty(runtime: Runtime, rounds: int = 400) -> None:
    """Drains, letting retries come due, until nothing is left in the outbox."""
    for _ in range(rounds):
        runtime.drain()
        with runtime.transaction() as session:
            left = session.scalars(select(OutboxItem)).all()
            if not left:
                return
            session.execute(update(OutboxItem).values(available_at=utcnow()))
    raise AssertionError("outbox never emptied")


def claim_as(session: Any, worker: str, *, lease_seconds: int, limit: int) -> list[OutgoingMessage]:
    """A claim by another worker (one that will stall or die), made by hand."""
    return outbox.claim(
        session, worker=worker, now=utcnow(), lease=timedelta(seconds=lease_seconds), limit=limit
    )


def notifications(runtime: Runtime, channel: str | None = None) -> list[Notification]:
    with runtime.transaction() as session:
        query = select(Notification).order_by(Notification.id)
        if channel:
            query = query.where(Notification.channel == channel)
        return list(session.scalars(query))


def test_a_provider_failing_half_its_calls_loses_nothing_and_duplicates_nothing(
    setup: dict[str, Any], twilio: TwilioStandIn
) -> None:
    load(setup, town(channels="sms"))
    twilio.failure_rate = 0.5
    post(setup, external_id="F-1", area=cells(0, 0, 9, 4))
    drain_until_empty(setup["runtime"])
    delivered = Counter(m["to"] for m in twilio.messages)
    assert delivered == Counter({p["phone"]: 1 for p in town()})
    assert twilio.requests > len(twilio.messages)  # there were failures, and they were retried
    sms = notifications(setup["runtime"], "sms")
    assert {n.status for n in sms} == {"sent"}
    assert max(n.attempts for n in sms) > 1


def test_a_transient_failure_is_retried_with_backoff_and_logged(
    setup: dict[str, Any], twilio: TwilioStandIn
) -> None:
    load(setup, [customer(0, 0, channels="sms")])
    twilio.faults = [Fault(429, 20429, "Too Many Requests")]
    post(setup, external_id="T-1", area=cells(0, 0, 1, 1))
    runtime = setup["runtime"]
    # One batch, not a drain: with a 10 ms backoff a drain may already have retried it.
    assert runtime.dispatcher.run_once() == 1
    with runtime.transaction() as session:
        item = session.scalars(select(OutboxItem)).one()
        assert item.attempts == 1 and item.available_at > utcnow() - timedelta(seconds=1)
        assert "429" in (item.last_error or "")
    drain_until_empty(runtime)
    assert len(twilio.messages) == 1
    events = setup["client"].get("/api/v1/customers/C-0-0/timeline", headers=setup["keys"]["agent"])
    sms = next(e for e in events.json()["events"] if e["channel"] == "sms")
    steps = [(h["status"], h["reason"] or "") for h in sms["history"]]
    assert steps[0][0] == "queued"
    assert steps[1][0] == "queued" and "retrying in" in steps[1][1] and "429" in steps[1][1]
    assert steps[-1][0] == "sent" and sms["status"] == "sent"


def test_a_provider_down_longer_than_every_retry_ends_in_failed_not_lost(
    make_settings: Any, provider_settings: dict[str, Any], twilio: TwilioStandIn
) -> None:
    runtime = Runtime.build(
        make_settings(**provider_settings, retry_base_seconds=0.01, max_attempts=3)
    )
    client = TestClient(create_app(runtime=runtime))
    with runtime.transaction() as session:
        admin = create_key(session, role="admin", name="a", now=utcnow())[1]
    client.post(
        "/api/v1/customers",
        json=[customer(0, 0, channels="sms")],
        headers={"Authorization": f"Bearer {admin}"},
    )
    twilio.failure_rate = 1.0
    client.post(
        "/api/v1/incidents",
        json={"external_id": "D-1", "area": cells(0, 0, 1, 1)},
        headers={"Authorization": f"Bearer {admin}"},
    )
    drain_until_empty(runtime)
    (sms,) = notifications(runtime, "sms")
    assert sms.status == "failed" and "gave up after 3 attempts" in (sms.reason or "")
    runtime.close()


def test_an_invalid_number_fails_for_good_and_the_message_goes_by_email(
    setup: dict[str, Any], twilio: TwilioStandIn, smtp: SmtpSink
) -> None:
    load(setup, [customer(0, 0, channels="sms")])  # has an email, but chose SMS only
    twilio.faults = [Fault(400, 21211, "The 'To' number is not a valid phone number.")]
    post(setup, external_id="P-1", area=cells(0, 0, 1, 1), cause="fallen tree")
    drain_until_empty(setup["runtime"])
    sms, email = (
        notifications(setup["runtime"], "sms")[0],
        notifications(setup["runtime"], "email")[0],
    )
    assert sms.status == "failed" and "21211" in (sms.reason or "")
    assert email.fallback_of == sms.id and email.status == "sent"
    (mail,) = smtp.messages
    assert recipient(mail) == customer(0, 0)["email"]
    assert customer(0, 0)["address"] in mail["Subject"]


def test_a_killed_worker_s_sends_in_flight_are_taken_up_again_and_marked_possible_duplicates(
    setup: dict[str, Any], twilio: TwilioStandIn
) -> None:
    runtime = setup["runtime"]
    load(setup, [customer(0, 0, channels="sms")])
    post(setup, external_id="K-1", area=cells(0, 0, 1, 1))
    with runtime.transaction() as session:  # a worker claims, starts sending, then dies
        claimed = claim_as(session, "dead-worker", lease_seconds=5, limit=10)
    assert len(claimed) == 1
    with runtime.transaction() as session:
        assert outbox.start_sending(
            session, worker="dead-worker", message=claimed[0], hasher=runtime.hasher, now=utcnow()
        )
    assert runtime.drain() == 0  # the lease still holds: nobody else takes it
    with runtime.transaction() as session:  # ... until it runs out
        session.execute(update(OutboxItem).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert runtime.drain() == 1
    (sms,) = notifications(runtime, "sms")
    assert sms.status == "sent" and sms.possible_duplicate
    assert len(twilio.messages) == 1
    events = setup["client"].get("/api/v1/customers/C-0-0/timeline", headers=setup["keys"]["agent"])
    entry = next(e for e in events.json()["events"] if e["channel"] == "sms")
    assert entry["possible_duplicate"] is True
    assert any("may arrive twice" in (h["reason"] or "") for h in entry["history"])


def test_a_claim_whose_send_never_started_is_taken_up_again_silently(
    setup: dict[str, Any], twilio: TwilioStandIn
) -> None:
    runtime = setup["runtime"]
    load(setup, [customer(0, 0, channels="sms")])
    post(setup, external_id="K-2", area=cells(0, 0, 1, 1))
    with runtime.transaction() as session:  # a worker claims, then dies before sending
        claimed = claim_as(session, "dead", lease_seconds=5, limit=10)
    assert len(claimed) == 1
    with runtime.transaction() as session:
        session.execute(update(OutboxItem).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert runtime.drain() == 1
    (sms,) = notifications(runtime, "sms")
    assert sms.status == "sent" and not sms.possible_duplicate and sms.attempts == 1
    events = setup["client"].get("/api/v1/customers/C-0-0/timeline", headers=setup["keys"]["agent"])
    entry = next(e for e in events.json()["events"] if e["channel"] == "sms")
    assert entry["possible_duplicate"] is False
    assert [h["status"] for h in entry["history"]] == ["queued", "sent"]


def test_a_worker_whose_lease_was_taken_over_does_not_send(
    setup: dict[str, Any], twilio: TwilioStandIn
) -> None:
    runtime = setup["runtime"]
    load(setup, [customer(0, 0, channels="sms")])
    post(setup, external_id="K-3", area=cells(0, 0, 1, 1))
    with runtime.transaction() as session:
        (slow,) = claim_as(session, "slow", lease_seconds=5, limit=10)
        session.execute(update(OutboxItem).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert runtime.drain() == 1  # another worker took it over and sent it
    with runtime.transaction() as session:  # the slow worker wakes up: it must not send
        assert not outbox.start_sending(
            session, worker="slow", message=slow, hasher=runtime.hasher, now=utcnow()
        )
    assert len(twilio.messages) == 1


def test_receipts_only_move_a_message_forward(setup: dict[str, Any], twilio: TwilioStandIn) -> None:
    runtime = setup["runtime"]
    load(setup, [customer(0, 0, channels="sms")])
    post(setup, external_id="R-1", area=cells(0, 0, 1, 1))
    with runtime.transaction() as session:
        (message,) = claim_as(session, "w", lease_seconds=30, limit=1)
    # The receipt beats our own write-back of the provider's answer.
    with runtime.transaction() as session:
        assert apply_twilio_status(
            session,
            notification_id=message.notification_id,
            message_sid="SM" + "1" * 32,
            status="delivered",
            error_code=None,
            renderer=runtime.renderer,
            hasher=runtime.hasher,
            now=utcnow(),
        )
    with runtime.transaction() as session:
        outbox.record(
            session,
            worker="w",
            message=message,
            result=SendResult(Outcome.SENT, "twilio", "SM" + "1" * 32),
            policy=outbox.RetryPolicy(30, 5),
            now=utcnow(),
        )
    (sms,) = notifications(runtime, "sms")
    assert sms.status == "delivered"
    with runtime.transaction() as session:
        assert session.scalars(select(OutboxItem)).all() == []
        # a late "sent" or "failed" after "delivered" changes nothing
        for late in ("sent", "undelivered"):
            apply_twilio_status(
                session,
                notification_id=sms.id,
                message_sid=sms.provider_ref or "",
                status=late,
                error_code="30003",
                renderer=runtime.renderer,
                hasher=runtime.hasher,
                now=utcnow(),
            )
    assert notifications(runtime, "sms")[0].status == "delivered"
    assert notifications(runtime, "email") == []


def test_a_gone_push_subscription_is_removed(
    setup: dict[str, Any], push_service: PushService
) -> None:
    runtime, client, keys = setup["runtime"], setup["client"], setup["keys"]
    load(setup, [customer(0, 0, channels="push")])
    link = client.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()
    for device in ("phone", "tablet"):
        subscription = push_service.subscribe(device)
        answer = client.post(
            "/api/v1/push/subscriptions",
            json=subscription,
            headers={"Authorization": f"Bearer {link['token']}"},
        )
        assert answer.status_code == 201
    push_service.gone.add("tablet")
    post(setup, external_id="G-1", area=cells(0, 0, 1, 1))
    drain_until_empty(runtime)
    (push,) = notifications(runtime, "push")
    assert push.status == "sent" and push.provider_ref == "1/2 devices"
    assert [r["name"] for r in push_service.received] == ["phone"]
    with runtime.transaction() as session:
        endpoints = session.scalars(select(PushSubscription.endpoint)).all()
    assert endpoints == [push_service.endpoint("phone")]


def test_smtp_refusals_are_permanent_for_5xx_and_retried_for_4xx(
    setup: dict[str, Any], smtp: SmtpSink
) -> None:
    bad, busy = customer(0, 0, channels="email"), customer(1, 0, channels="email")
    load(setup, [bad, busy])
    smtp.refuse = {bad["email"]: "550 5.1.1 No such user", busy["email"]: "451 4.3.0 Try later"}
    post(setup, external_id="S-1", area=cells(0, 0, 2, 1))
    setup["runtime"].drain()
    smtp.refuse.pop(busy["email"])
    drain_until_empty(setup["runtime"])
    by_address = {n.to_address: n for n in notifications(setup["runtime"], "email")}
    assert by_address[bad["email"]].status == "failed"
    assert "550" in (by_address[bad["email"]].reason or "")
    assert by_address[busy["email"]].status == "sent"
    assert by_address[busy["email"]].attempts >= 2  # the retry may come due within a drain
    assert smtp.recipients() == [busy["email"]]


def test_customers_sharing_a_phone_each_get_their_own_message(
    setup: dict[str, Any], twilio: TwilioStandIn
) -> None:
    shared = "+358401999999"
    home = customer(0, 0, phone=shared, channels="sms", address="Kotikatu 1")
    cottage = customer(1, 0, phone=shared, channels="sms", address="Mökkitie 2")
    load(setup, [home, cottage])
    post(setup, external_id="SH-1", area=cells(0, 0, 1, 1))
    drain_until_empty(setup["runtime"])
    bodies = [m["body"] for m in twilio.messages if m["to"] == shared]
    assert len(bodies) == 2
    assert sum("Kotikatu 1" in b for b in bodies) == 1
    assert sum("Mökkitie 2" in b for b in bodies) == 1


def test_stop_by_sms_opts_the_number_out_at_once(
    setup: dict[str, Any], twilio: TwilioStandIn
) -> None:
    from tests.conftest import TWILIO_TOKEN

    person = customer(0, 0, channels="sms")
    load(setup, [person])
    # Webhooks are checked against PUBLIC_URL (http://testserver in these tests).
    params = {"From": person["phone"], "Body": "stop", "MessageSid": "SM" + "2" * 32}
    from twilio.request_validator import RequestValidator

    url = "http://testserver/webhooks/twilio/inbound"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    answer = setup["client"].post(
        "/webhooks/twilio/inbound", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert answer.status_code == 200 and "<Response>" in answer.text
    post(setup, external_id="STOP-1", area=cells(0, 0, 1, 1))
    drain_until_empty(setup["runtime"])
    assert twilio.messages == []
    (sms,) = notifications(setup["runtime"], "sms")
    assert sms.status == "suppressed" and sms.reason == "opted_out"
    events = setup["client"].get("/api/v1/customers/C-0-0/timeline", headers=setup["keys"]["agent"])
    types = [e["type"] for e in events.json()["events"]]
    assert types[:2] == ["reply", "preference_changed"]


@pytest.mark.sqlite_only(reason="SQLite's one write lock and its busy timeout")
def test_a_write_back_that_waits_out_a_long_lock_is_retried_not_dropped(
    make_settings: Any, provider_settings: dict[str, Any], twilio: TwilioStandIn
) -> None:
    """A storm being planned can hold SQLite's write lock longer than a writer waits. The
    answers of messages already sent must still be written back, or their leases run out and
    they are sent twice."""
    import threading
    import time

    from sqlalchemy import text

    runtime = Runtime.build(
        make_settings(**provider_settings, sqlite_busy_seconds=0.2, lease_seconds=5)
    )
    with runtime.transaction() as session:
        admin = {
            "Authorization": f"Bearer {create_key(session, role='admin', name='a', now=utcnow())[1]}"
        }
    client = TestClient(create_app(runtime=runtime))
    client.post("/api/v1/customers", json=[customer(0, 0, channels="sms")], headers=admin)
    client.post(
        "/api/v1/incidents", json={"external_id": "L-1", "area": cells(0, 0, 1, 1)}, headers=admin
    )

    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with runtime.engine.connect() as conn:  # BEGIN IMMEDIATE: the write lock
            conn.execute(text("SELECT 1"))
            held.set()
            release.wait(10)
            conn.rollback()

    original_send = twilio.handle

    def send_then_lock(*args: Any) -> Any:
        answer = original_send(*args)
        holder.start()
        held.wait(5)
        return answer

    holder = threading.Thread(target=hold_the_lock)
    twilio.handle = send_then_lock  # type: ignore[method-assign]
    threading.Timer(1.5, release.set).start()  # held well past the 0.2 s busy timeout
    started = time.monotonic()
    assert runtime.drain(timeout=30) == 1
    assert time.monotonic() - started >= 1.0  # it did wait for the lock
    holder.join()
    twilio.handle = original_send  # type: ignore[method-assign]
    with runtime.transaction() as session:
        session.execute(update(OutboxItem).values(lease_expires_at=utcnow()))
    runtime.drain()
    (sms,) = notifications(runtime, "sms")
    assert sms.status == "sent" and not sms.possible_duplicate
    assert len(twilio.messages) == 1
    runtime.close()


def reply_by_sms(setup: dict[str, Any], phone: str, body: str, sid: str) -> Any:
    """A customer's SMS reply, delivered to the inbound webhook as Twilio signs it."""
    from tests.conftest import TWILIO_TOKEN
    from tests.standins.twilio import signature_headers

    params = {"From": phone, "Body": body, "MessageSid": sid}
    headers = signature_headers("http://testserver/webhooks/twilio/inbound", params, TWILIO_TOKEN)
    return setup["client"].post("/webhooks/twilio/inbound", data=params, headers=headers)


def test_an_opt_out_reaches_messages_already_queued(
    setup: dict[str, Any], twilio: TwilioStandIn, smtp: SmtpSink
) -> None:
    person = customer(0, 0, channels="sms;email")
    load(setup, [person])
    post(setup, external_id="Q-1", area=cells(0, 0, 1, 1))  # queued, not yet sent
    assert reply_by_sms(setup, person["phone"], "STOP", "SM" + "3" * 32).status_code == 200
    drain_until_empty(setup["runtime"])
    assert twilio.messages == []
    (sms,) = notifications(setup["runtime"], "sms")
    assert sms.status == "suppressed" and sms.reason == "opted_out"
    assert smtp.recipients() == [person["email"]]  # email was not opted out
    events = setup["client"].get("/api/v1/customers/C-0-0/timeline", headers=setup["keys"]["agent"])
    entry = next(e for e in events.json()["events"] if e["channel"] == "sms")
    assert entry["status"] == "suppressed" and entry["reason"] == "opted_out"
    assert [h["status"] for h in entry["history"]] == ["queued", "suppressed"]


@pytest.mark.parametrize(
    ("status", "kept"),
    [(404, False), (410, False), (413, True), (429, True), (500, True), (503, True), (400, True)],
)
def test_a_push_subscription_is_deleted_only_when_the_push_service_says_it_is_gone(
    setup: dict[str, Any], push_service: PushService, status: int, kept: bool
) -> None:
    runtime, client, keys = setup["runtime"], setup["client"], setup["keys"]
    load(setup, [customer(0, 0, channels="push")])
    link = client.get("/api/v1/customers/C-0-0/link", headers=keys["agent"]).json()
    subscription = push_service.subscribe("phone")
    client.post(
        "/api/v1/push/subscriptions",
        json=subscription,
        headers={"Authorization": f"Bearer {link['token']}"},
    )
    push_service.answers["phone"] = status
    post(setup, external_id=f"PS-{status}", area=cells(0, 0, 1, 1))
    runtime.drain()
    with runtime.transaction() as session:
        endpoints = session.scalars(select(PushSubscription.endpoint)).all()
    assert endpoints == ([push_service.endpoint("phone")] if kept else [])
    (push,) = notifications(runtime, "push")
    if status in (429, 500, 503):
        assert push.status == "queued" and str(status) in (push.reason or "")  # retried later
    else:
        assert push.status == "failed" and str(status) in (push.reason or "")


def test_a_batch_that_was_all_withheld_does_not_end_the_drain(
    make_settings: Any, provider_settings: dict[str, Any], twilio: TwilioStandIn
) -> None:
    runtime = Runtime.build(make_settings(**provider_settings, dispatch_batch_size=1))
    setup = {"runtime": runtime, "client": TestClient(create_app(runtime=runtime))}
    with runtime.transaction() as session:
        key = create_key(session, role="admin", name="a", now=utcnow())[1]
    setup["keys"] = {role: {"Authorization": f"Bearer {key}"} for role in ("admin", "operator")}
    first, second = customer(0, 0, channels="sms"), customer(1, 0, channels="sms")
    load(setup, [first, second])
    post(setup, external_id="B-1", area=cells(0, 0, 1, 1))
    reply_by_sms(setup, first["phone"], "STOP", "SM" + "4" * 32)  # first in line, withheld
    runtime.drain()
    assert [m["to"] for m in twilio.messages] == [second["phone"]]
    runtime.close()


def test_a_worker_that_lost_its_lease_cannot_release_the_new_owner_s_claim(
    setup: dict[str, Any],
) -> None:
    runtime = setup["runtime"]
    load(setup, [customer(0, 0, channels="sms")])
    post(setup, external_id="RACE-1", area=cells(0, 0, 1, 1))
    hasher = runtime.hasher
    with runtime.transaction() as session:
        (stalled,) = claim_as(session, "A", lease_seconds=5, limit=10)
    with runtime.transaction() as session:
        assert outbox.start_sending(
            session, worker="A", message=stalled, hasher=hasher, now=utcnow()
        )
        session.execute(update(OutboxItem).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    with runtime.transaction() as session:  # B takes it over (flagged) and is sending it
        (taken,) = claim_as(session, "B", lease_seconds=60, limit=10)
        assert outbox.start_sending(session, worker="B", message=taken, hasher=hasher, now=utcnow())
    # A's provider call times out: A writes back a retry, then a failure.
    for answer in (
        SendResult(Outcome.RETRY, "twilio", error="timeout"),
        SendResult(Outcome.FAILED, "twilio", error="gave up"),
    ):
        with runtime.transaction() as session:
            outbox.record_all(
                session,
                worker="A",
                answers=[(stalled, answer)],
                policy=outbox.RetryPolicy(0.01, 12),
                now=utcnow(),
            )
    with runtime.transaction() as session:
        row = session.scalars(select(OutboxItem)).one()
        assert (row.lease_owner, row.in_flight_since is not None) == ("B", True)  # B's still
        session.execute(update(OutboxItem).values(available_at=utcnow() - timedelta(seconds=1)))
        assert claim_as(session, "C", lease_seconds=60, limit=10) == []  # no third send
    (sms,) = notifications(runtime, "sms")
    assert sms.status == "queued"  # B decides its fate, not a stalled A


def test_an_opt_out_between_the_claim_and_the_send_is_honoured(
    setup: dict[str, Any], twilio: TwilioStandIn
) -> None:
    runtime = setup["runtime"]
    person = customer(0, 0, channels="sms")
    load(setup, [person])
    post(setup, external_id="STOP-2", area=cells(0, 0, 1, 1))
    with runtime.transaction() as session:
        (message,) = claim_as(session, "W", lease_seconds=60, limit=10)
    reply_by_sms(setup, person["phone"], "STOP", "SM" + "8" * 32)  # while it waits for a thread
    with runtime.transaction() as session:
        assert not outbox.start_sending(
            session, worker="W", message=message, hasher=runtime.hasher, now=utcnow()
        )
    (sms,) = notifications(runtime, "sms")
    assert sms.status == "suppressed" and sms.reason == "opted_out"
