"""Customer links: signed, and valid while their incident is open and for a while after it
closes (or after they were made); revocable; never readable with another key. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from outage_notify.auth.customer_links import make_token, read_token, still_valid

KEY = b"k" * 32
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
MONTH = timedelta(days=30)


def valid(token: str, **kw: object) -> str | None:
    claims = read_token(KEY, token)
    assert claims is not None
    values: dict = {"revoked_at": None, "incident_closed_at": None, "lifetime": MONTH, "now": NOW}
    values.update(kw)
    return still_valid(claims, **values)


def test_a_link_names_its_customer_incident_and_when_it_was_made() -> None:
    claims = read_token(KEY, make_token(KEY, "C-1", issued_at=NOW, incident_id="inc_1"))
    assert claims is not None
    assert (claims.customer_id, claims.incident_id, claims.issued_at) == ("C-1", "inc_1", NOW)


def test_another_key_or_an_altered_token_reads_nothing() -> None:
    token = make_token(KEY, "C-1", issued_at=NOW)
    assert read_token(b"x" * 32, token) is None
    assert read_token(KEY, token[:-2] + "AA") is None
    assert read_token(KEY, "onk_" + token[4:]) is None


def test_an_incident_link_lives_while_the_incident_is_open_and_a_while_after() -> None:
    token = make_token(KEY, "C-1", issued_at=NOW - timedelta(days=90), incident_id="inc_1")
    assert valid(token) is None  # still open, however long ago it was made
    closed = NOW - timedelta(days=29)
    assert valid(token, incident_closed_at=closed) is None
    assert valid(token, incident_closed_at=NOW - timedelta(days=31)) == "this link expired"


def test_a_link_for_no_incident_lives_its_lifetime_from_when_it_was_made() -> None:
    assert valid(make_token(KEY, "C-1", issued_at=NOW - timedelta(days=29))) is None
    assert valid(make_token(KEY, "C-1", issued_at=NOW - timedelta(days=31))) == "this link expired"


def test_a_revocation_stops_every_link_made_before_it_and_none_made_after() -> None:
    revoked = NOW - timedelta(hours=1)
    before = make_token(KEY, "C-1", issued_at=revoked - timedelta(microseconds=1))
    at = make_token(KEY, "C-1", issued_at=revoked)
    after = make_token(KEY, "C-1", issued_at=revoked + timedelta(microseconds=1))
    assert valid(before, revoked_at=revoked) == "this link was revoked"
    assert valid(at, revoked_at=revoked) == "this link was revoked"
    assert valid(after, revoked_at=revoked) is None


@given(st.text(max_size=200))
def test_any_text_is_read_as_a_link_or_refused_never_an_error(text: str) -> None:
    read_token(KEY, text)
    read_token(KEY, "ocl_" + text)


def test_a_link_older_than_its_customer_s_record_is_dead() -> None:
    token = make_token(KEY, "C-1", issued_at=NOW - timedelta(days=1))
    reimported = NOW - timedelta(hours=1)
    assert valid(token, customer_since=reimported) == "this link's customer no longer exists"
    assert valid(token, customer_since=NOW - timedelta(days=2)) is None
