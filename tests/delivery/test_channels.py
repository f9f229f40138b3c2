"""What a channel puts on the wire: email headers built by the standard library from names and
addresses that may hold anything, never raw text pasted into a header."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import pytest

from outage_notify.delivery.channels.base import OutgoingMessage
from outage_notify.delivery.channels.email_smtp import SmtpEmail


def message(**changes: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "notification_id": 7,
        "customer_pk": 1,
        "channel": "email",
        "kind": "outage",
        "language": "fi",
        "to_address": "maija@example.com",
        "to_name": "Maija Virtanen",
        "subject": "Sähkökatko osoitteessa Kuusitie 1",
        "body": "Hei,\n\nsähköt ovat poikki.",
        "html": "<p>Hei,</p>",
        "attempt": 1,
    }
    values.update(changes)
    return OutgoingMessage(**values)


def parsed(make_settings: Any, **changes: Any) -> email.message.EmailMessage:
    channel = SmtpEmail(
        make_settings(smtp_host="127.0.0.1", smtp_from="Sähköyhtiö <outages@utility.example>")
    )
    raw = channel.build(message(**changes)).as_bytes()
    result = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(result, email.message.EmailMessage)
    return result


def test_the_recipient_s_name_is_in_the_to_header(make_settings: Any) -> None:
    mail = parsed(make_settings)
    (to,) = mail["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Maija Virtanen", "maija@example.com")
    (sender,) = mail["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Sähköyhtiö", "outages@utility.example")


@pytest.mark.parametrize(
    "name",
    [
        'Virtanen, "Maija" <spy@evil.example>',
        "Maija\r\nBcc: spy@evil.example",
        "Maija\nX-Injected: yes",
        "=?utf-8?q?spy?= <spy@evil.example>",
        "Åsa Öberg-Ståhl",
        "Maija\x00Virtanen",
    ],
    ids=repr,
)
def test_any_name_stays_a_name_and_adds_no_recipient_or_header(
    make_settings: Any, name: str
) -> None:
    mail = parsed(make_settings, to_name=name)
    (to,) = mail["To"].addresses
    assert to.addr_spec == "maija@example.com"
    assert mail.get_all("Bcc") is None and mail.get_all("X-Injected") is None
    assert len(mail.get_all("To") or []) == 1


def test_a_subject_with_line_breaks_stays_one_header(make_settings: Any) -> None:
    mail = parsed(make_settings, subject="Power cut at Kotikatu 1\r\nBcc: spy@evil.example")
    assert mail.get_all("Bcc") is None
    assert mail["Subject"] == "Power cut at Kotikatu 1  Bcc: spy@evil.example"
