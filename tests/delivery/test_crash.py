"""A worker killed mid-dispatch (SIGKILL, no chance to clean up): only the sends that were
truly in flight may be repeated, and only those are flagged; nothing is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.db.models import Notification, OutboxItem
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.conftest import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.standins.net import wait_for
from tests.standins.twilio import TwilioStandIn
from tests.town import cells, town

THREADS = 4


def worker_environment(database_url: str, twilio: TwilioStandIn) -> dict[str, str]:
    settings = {
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": TWILIO_FROM,
        "TWILIO_BASE_URL": twilio.base_url,
        "SECRET_KEY": "crash-test-secret-crash-test-secret-0123",
        "DISPATCH_THREADS": str(THREADS),
        "DISPATCH_BATCH_SIZE": "50",
        "LEASE_SECONDS": "30",
    }
    return {**os.environ, **{f"OUTAGE_NOTIFY_{k}": v for k, v in settings.items()}}


def test_after_a_sigkill_only_the_sends_in_flight_are_repeated_and_flagged(
    make_settings: Any, database_url: str, twilio: TwilioStandIn
) -> None:
    runtime = Runtime.build(
        make_settings(
            twilio_account_sid=TWILIO_SID,
            twilio_auth_token=TWILIO_TOKEN,
            twilio_from=TWILIO_FROM,
            twilio_base_url=twilio.base_url,
            secret_key="crash-test-secret-crash-test-secret-0123",
        )
    )
    with runtime.transaction() as session:
        admin = {
            "Authorization": f"Bearer {create_key(session, role='admin', name='a', now=utcnow())[1]}"
        }
    client = TestClient(create_app(runtime=runtime))
    people = town(channels="sms")
    assert client.post("/api/v1/customers", json=people, headers=admin).status_code == 200
    answer = client.post(
        "/api/v1/incidents",
        json={"external_id": "KILL-1", "area": cells(0, 0, 9, 4)},
        headers=admin,
    )
    assert answer.status_code == 201 and answer.json()["affected_customers"] == len(people)

    twilio.delay = 0.4  # every send takes a while: a kill always finds some in flight
    worker = subprocess.Popen(
        [sys.executable, "-m", "outage_notify", "worker"],
        env=worker_environment(database_url, twilio),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(twilio.messages) >= 2 * THREADS, timeout=60)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)

    reached = len(twilio.messages)  # sends that got to the provider, answered or not
    with runtime.transaction() as session:
        recorded = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.status == "sent")
        )
        in_flight = set(
            session.scalars(
                select(OutboxItem.notification_id).where(OutboxItem.in_flight_since.is_not(None))
            )
        )
        left = set(session.scalars(select(OutboxItem.notification_id)))
        # Time passes: the dead worker's leases run out.
        session.execute(update(OutboxItem).values(lease_expires_at=utcnow()))
    unrecorded = reached - recorded  # reached the provider, the worker died before writing it
    # In flight: every send that may have reached the provider unrecorded, plus at most one
    # per sending thread that was on its way; never the rows that were only claimed.
    assert unrecorded <= len(in_flight) <= unrecorded + THREADS
    assert len(left - in_flight) > THREADS  # many were claimed but never started

    twilio.delay = 0.0
    runtime.drain()

    sent = Counter(m["to"] for m in twilio.messages)
    assert set(sent) == {p["phone"] for p in people}  # nothing lost
    with runtime.transaction() as session:
        flagged = set(
            session.scalars(
                select(Notification.id).where(Notification.possible_duplicate.is_(True))
            )
        )
        statuses = Counter(session.scalars(select(Notification.status)))
    assert flagged == in_flight  # exactly the sends that had started, no claimed-only row
    repeats = sum(n - 1 for n in sent.values())
    assert unrecorded <= repeats <= len(in_flight)  # repeated: only sends that were in flight
    assert statuses == Counter({"sent": len(people), "delivered": len(people)})  # sms, in_app
    runtime.close()
