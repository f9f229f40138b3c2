"""The whole path on the embedded default, with real protocols: an operator's outage reaches
every affected customer on every channel (the Twilio SDK against a local stand-in of Twilio's
API, a real SMTP server, a push service that decrypts), and the agent sees all of it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.conftest import LiveServer
from tests.standins.push import PushService
from tests.standins.smtp import SmtpSink
from tests.standins.twilio import TwilioStandIn
from tests.town import cells, customer, ids, town

PUSH_COLUMNS = range(2, 6)


@pytest.fixture
def world(
    make_settings: Any,
    provider_settings: dict[str, Any],
    live_port: int,
    push_service: PushService,
) -> Iterator[dict[str, Any]]:
    settings = make_settings(**provider_settings, public_url=f"http://127.0.0.1:{live_port}")
    runtime = Runtime.build(settings)
    server = LiveServer(runtime, live_port).start()
    client = TestClient(create_app(runtime=runtime))
    keys = _keys(runtime)
    people = town(channels="")  # every channel each customer has an address for
    answer = client.post("/api/v1/customers", json=people, headers=keys["admin"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"created": 50, "updated": 0, "rejected": [], "warnings": []}
    for person in people:
        col = int(person["customer_id"].split("-")[1])
        if col in PUSH_COLUMNS:
            _subscribe(client, keys, push_service, person["customer_id"])
    yield {"runtime": runtime, "client": client, "keys": keys, "server": server}
    server.stop()
    runtime.close()


def _keys(runtime: Runtime) -> dict[str, dict[str, str]]:
    from outage_notify.auth.apikeys import create_key

    headers = {}
    with runtime.transaction() as session:
        for role in ("admin", "operator", "agent"):
            _, key = create_key(session, role=role, name=role, now=utcnow())
            headers[role] = {"Authorization": f"Bearer {key}"}
    return headers


def _subscribe(client: TestClient, keys: dict, push: PushService, customer_id: str) -> None:
    link = client.get(f"/api/v1/customers/{customer_id}/link", headers=keys["agent"]).json()
    answer = client.post(
        "/api/v1/push/subscriptions",
        json=push.subscribe(customer_id),
        headers={"Authorization": f"Bearer {link['token']}"},
    )
    assert answer.status_code == 201, answer.text


def _drain(world: dict[str, Any]) -> int:
    return world["runtime"].drain(timeout=60)


def _phone_of(customer_id: str) -> str:
    col, row = (int(x) for x in customer_id.split("-")[1:])
    return customer(col, row)["phone"]


def _email_of(customer_id: str) -> str:
    col, row = (int(x) for x in customer_id.split("-")[1:])
    return customer(col, row)["email"]


def _sms_to(twilio: TwilioStandIn) -> Counter[str]:
    return Counter(m["to"] for m in twilio.messages)


def test_an_outage_reaches_everyone_affected_once_per_channel_through_its_whole_life(
    world: dict[str, Any], twilio: TwilioStandIn, smtp: SmtpSink, push_service: PushService
) -> None:
    client, keys = world["client"], world["keys"]
    etr = utcnow().replace(microsecond=0) + timedelta(hours=2)
    body = {
        "external_id": "OMS-2026-000123",
        "kind": "unplanned",
        "status": "detected",
        "cause": "storm damage",
        "area": cells(2, 1, 5, 3),
        "feeders": ["F-8"],
        "etr": etr.isoformat(),
    }

    # 1. The outage: exactly the 12 customers inside (boundary included) and the 5 on F-8.
    answer = client.post("/api/v1/incidents", json=body, headers=keys["operator"])
    assert answer.status_code == 201, answer.text
    incident = answer.json()
    affected = ids(2, 1, 5, 3) | ids(8, 0, 8, 4)
    assert incident["affected_customers"] == len(affected) == 17
    _drain(world)
    assert _sms_to(twilio) == Counter({_phone_of(c): 1 for c in affected})
    assert Counter(smtp.recipients()) == Counter({_email_of(c): 1 for c in affected})
    pushed = Counter(r["name"] for r in push_service.received)
    assert pushed == Counter(dict.fromkeys(ids(2, 1, 5, 3), 1))

    # Each in the customer's language, naming their address, the cause and the ETR.
    first = next(m for m in twilio.messages if m["to"] == _phone_of("C-3-2"))
    person = customer(3, 2)
    assert person["language"] == "en"
    assert person["address"] in first["body"]
    assert "storm damage" in first["body"]
    assert etr.astimezone(world["runtime"].settings.zone).strftime("%H:%M") in first["body"]
    mail = smtp.to(_email_of("C-2-2"))[0]
    assert customer(2, 2)["language"] == "sv"
    assert mail["Subject"] == f"Strömavbrott på {customer(2, 2)['address']}"
    assert mail.get_body(("plain",)).get_content().startswith("Hej,")
    assert "<html" in mail.get_body(("html",)).get_content()
    payload = next(r["payload"] for r in push_service.received if r["name"] == "C-4-1")
    assert payload["kind"] == "outage" and customer(4, 1)["address"] in payload["title"]

    # 2. Receipts from the provider: delivered, and the timeline says so.
    for message in list(twilio.messages):
        assert twilio.send_receipt(message, "delivered") == 200
    timeline = client.get("/api/v1/customers/C-3-2/timeline", headers=keys["agent"]).json()
    sms = [e for e in timeline["events"] if e["channel"] == "sms"]
    assert [(e["kind"], e["status"]) for e in sms] == [("outage", "delivered")]

    # 3. The ETR moves 20 minutes (under 30): nothing. Then 45 in all from what they were told.
    sent_before = len(twilio.messages)
    patched = client.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"etr": (etr + timedelta(minutes=20)).isoformat()},
        headers=keys["operator"],
    )
    assert patched.status_code == 200 and patched.json()["changes"] == ["ETR_CHANGED"]
    _drain(world)
    assert len(twilio.messages) == sent_before
    client.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"etr": (etr + timedelta(minutes=45)).isoformat(), "status": "crew_assigned"},
        headers=keys["operator"],
    )
    _drain(world)
    updates = twilio.messages[sent_before:]
    assert Counter(m["to"] for m in updates) == Counter({_phone_of(c): 1 for c in affected})
    assert all(
        "taking longer" in m["body"] or "kauemmin" in m["body"] or "längre" in m["body"]
        for m in updates
    )

    # 4. Posting the same thing again changes nothing and sends nothing.
    sent_before, mails_before = len(twilio.messages), len(smtp.messages)
    again = dict(body, etr=(etr + timedelta(minutes=45)).isoformat(), status="crew_assigned")
    answer = client.post("/api/v1/incidents", json=again, headers=keys["operator"])
    assert answer.status_code == 200 and answer.json()["changes"] == []
    _drain(world)
    assert (len(twilio.messages), len(smtp.messages)) == (sent_before, mails_before)

    # 5. The area grows: only the newly affected (column 6, rows 1-3) are told.
    client.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"area": cells(2, 1, 6, 3)},
        headers=keys["operator"],
    )
    _drain(world)
    grown = twilio.messages[sent_before:]
    assert Counter(m["to"] for m in grown) == Counter({_phone_of(c): 1 for c in ids(6, 1, 6, 3)})

    # 6. It shrinks: those left out (columns 5-6) hear their power is back.
    sent_before = len(twilio.messages)
    client.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"area": cells(2, 1, 4, 3)},
        headers=keys["operator"],
    )
    _drain(world)
    released = twilio.messages[sent_before:]
    assert Counter(m["to"] for m in released) == Counter({_phone_of(c): 1 for c in ids(5, 1, 6, 3)})

    # 7. Restored: everyone still out hears it, once.
    sent_before = len(twilio.messages)
    answer = client.patch(
        f"/api/v1/incidents/{incident['id']}", json={"status": "restored"}, headers=keys["operator"]
    )
    assert answer.json()["changes"] == ["STATUS_CHANGED", "RESTORED"]
    _drain(world)
    restored = twilio.messages[sent_before:]
    still_out = ids(2, 1, 4, 3) | ids(8, 0, 8, 4)
    assert Counter(m["to"] for m in restored) == Counter({_phone_of(c): 1 for c in still_out})

    # Over the whole life: per customer, per kind, at most one message on each channel.
    per_channel = Counter((m["to"], m["body"]) for m in twilio.messages)
    assert max(per_channel.values()) == 1
    everyone = affected | ids(6, 1, 6, 3)
    kinds = _kinds_by_customer(client, keys, everyone)
    for customer_id, seen in kinds.items():
        assert max(seen.values()) == 1, (customer_id, seen)
        assert seen[("sms", "outage")] == 1
        assert seen[("sms", "restored")] == 1

    # 8. The timeline of a customer lists the incident and every message on every channel.
    events = client.get("/api/v1/customers/C-4-2/timeline", headers=keys["agent"]).json()["events"]
    assert events[0]["type"] == "incident_affected" and events[0]["channel"] is None
    messages = [(e["channel"], e["kind"]) for e in events if e["type"] == "message"]
    for channel in ("sms", "email", "push", "in_app"):
        assert (channel, "outage") in messages
        assert (channel, "etr_update") in messages
        assert (channel, "restored") in messages
    assert all(e["status"] in ("sent", "delivered") for e in events if e["type"] == "message")
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)


def _kinds_by_customer(
    client: TestClient, keys: dict, customer_ids: set[str]
) -> dict[str, Counter[tuple[str, str]]]:
    result = {}
    for customer_id in sorted(customer_ids):
        events = client.get(
            f"/api/v1/customers/{customer_id}/timeline", headers=keys["agent"]
        ).json()
        result[customer_id] = Counter(
            (e["channel"], e["kind"]) for e in events["events"] if e["type"] == "message"
        )
    return result


def test_receipts_arrive_signed_and_are_refused_when_the_signature_is_wrong(
    world: dict[str, Any], twilio: TwilioStandIn
) -> None:
    client, keys = world["client"], world["keys"]
    answer = client.post(
        "/api/v1/incidents",
        json={"external_id": "R-1", "area": cells(0, 0, 1, 1), "cause": "fallen tree"},
        headers=keys["operator"],
    )
    assert answer.status_code == 201, answer.text
    _drain(world)
    (message,) = [m for m in twilio.messages if m["to"] == _phone_of("C-0-0")]
    assert twilio.send_receipt(message, "delivered", sign=False) == 403
    assert twilio.send_receipt(message, "undelivered", "30005") == 200
    events = client.get("/api/v1/customers/C-0-0/timeline", headers=keys["agent"]).json()["events"]
    sms = next(e for e in events if e["channel"] == "sms")
    assert sms["status"] == "failed" and "30005" in sms["reason"]
    # The SMS failed for good; the customer already had this message by email, so the
    # fallback to email must not send it a second time.
    _drain(world)
    events = client.get("/api/v1/customers/C-0-0/timeline", headers=keys["agent"]).json()["events"]
    emails = [e for e in events if e["channel"] == "email" and e["kind"] == "outage"]
    assert len(emails) == 1, "the customer already had email: fallback must not duplicate it"
