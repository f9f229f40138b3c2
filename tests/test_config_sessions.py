"""SESSION_HOURS, and when the pages' cookies are Secure: always, but for plain http on this
machine (a developer's `make run`)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from outage_notify.config import Settings


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [
        ("http://127.0.0.1:8000", False),
        ("http://localhost:8000", False),
        ("http://LOCALHOST", False),
        ("http://127.0.0.2:8000", False),
        ("http://[::1]:8000", False),
        ("http://outages.localhost", False),
        ("https://127.0.0.1:8000", True),
        ("https://outages.example", True),
        ("http://outages.example", True),  # http elsewhere: cookies would cross the network
        ("http://10.0.0.5:8000", True),
        ("http://localhost.example", True),
        ("http://127.0.0.1.example", True),
    ],
)
def test_cookies_are_secure_unless_plain_http_on_this_machine(
    public_url: str, secure: bool
) -> None:
    assert Settings(public_url=public_url).secure_cookies is secure


def test_session_hours_default_to_a_shift_and_take_decimals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().session_hours == 12
    monkeypatch.setenv("OUTAGE_NOTIFY_SESSION_HOURS", "0.01")
    assert Settings().session_hours == 0.01


@pytest.mark.parametrize("hours", ["0", "-1", "745", "soon"])
def test_session_hours_out_of_range_are_refused(
    monkeypatch: pytest.MonkeyPatch, hours: str
) -> None:
    monkeypatch.setenv("OUTAGE_NOTIFY_SESSION_HOURS", hours)
    with pytest.raises(ValidationError, match="session_hours"):
        Settings()
