"""Sessions of the pages: only a hash of the token is kept, a session ends at its expiry (on
the injectable clock), when closed, or when its user is disabled; expired ones are purged."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from outage_notify.auth.sessions import (
    close_session,
    close_user_sessions,
    find_session,
    open_session,
    purge_expired_sessions,
)
from outage_notify.clock import ManualClock
from outage_notify.db.models import User, WebSession
from outage_notify.runtime import Runtime

START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
SHIFT = timedelta(hours=12)


def add_user(runtime: Runtime, username: str = "maija", role: str = "agent") -> User:
    with runtime.transaction() as session:
        user = User(username=username, role=role, password_hash="-", created_at=START)
        session.add(user)
        session.flush()
        return user


def test_a_session_keeps_only_the_hash_of_its_token_and_has_a_csrf_token(
    runtime: Runtime,
) -> None:
    user = add_user(runtime)
    with runtime.transaction() as session:
        signed_in, token = open_session(session, user=user, now=START, lifetime=SHIFT)
    with runtime.reading() as session:
        row = session.scalars(select(WebSession)).one()
    assert len(token) >= 43  # 256 bits
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash
    assert len(row.csrf_token) >= 43 and row.csrf_token != token
    assert (row.created_at, row.expires_at) == (START, START + SHIFT)
    assert (signed_in.user_id, signed_in.username, signed_in.role) == (user.id, "maija", "agent")
    assert (signed_in.csrf_token, signed_in.expires_at) == (row.csrf_token, START + SHIFT)


def test_a_session_ends_at_its_expiry_on_the_clock(runtime: Runtime) -> None:
    user = add_user(runtime)
    clock = ManualClock(START)
    with runtime.transaction() as session:
        _, token = open_session(session, user=user, now=clock.now(), lifetime=SHIFT)
    clock.advance(SHIFT - timedelta(seconds=1))
    with runtime.reading() as session:
        found = find_session(session, token=token, now=clock.now())
        assert found is not None and found.user_id == user.id
    clock.advance(1)
    with runtime.reading() as session:
        assert find_session(session, token=token, now=clock.now()) is None


def test_unknown_malformed_and_other_users_tokens_find_nothing(runtime: Runtime) -> None:
    maija, anna = add_user(runtime), add_user(runtime, "anna", "operator")
    with runtime.transaction() as session:
        _, token = open_session(session, user=maija, now=START, lifetime=SHIFT)
        _, other = open_session(session, user=anna, now=START, lifetime=SHIFT)
    with runtime.reading() as session:
        for bad in ("", "x", token + "x", token[:-1], "ä" * 43, "a" * 5000):
            assert find_session(session, token=bad, now=START) is None
        found = find_session(session, token=other, now=START)
        assert found is not None and (found.username, found.role) == ("anna", "operator")


def test_a_disabled_users_sessions_find_nothing(runtime: Runtime) -> None:
    user = add_user(runtime)
    with runtime.transaction() as session:
        _, token = open_session(session, user=user, now=START, lifetime=SHIFT)
        stored = session.get(User, user.id)
        assert stored is not None
        stored.disabled_at = START
    with runtime.reading() as session:
        assert find_session(session, token=token, now=START) is None


def test_closing_ends_one_session_or_every_session_of_a_user(runtime: Runtime) -> None:
    maija, anna = add_user(runtime), add_user(runtime, "anna")
    with runtime.transaction() as session:
        tokens = [open_session(session, user=maija, now=START, lifetime=SHIFT)[1] for _ in "abc"]
        annas = open_session(session, user=anna, now=START, lifetime=SHIFT)[1]
    with runtime.transaction() as session:
        assert close_session(session, token=tokens[0])
        assert not close_session(session, token=tokens[0])  # already gone
        assert not close_session(session, token="")
    with runtime.transaction() as session:
        assert find_session(session, token=tokens[0], now=START) is None
        assert find_session(session, token=tokens[1], now=START) is not None
        assert close_user_sessions(session, user_id=maija.id) == 2
    with runtime.reading() as session:
        assert all(find_session(session, token=t, now=START) is None for t in tokens)
        assert find_session(session, token=annas, now=START) is not None


def test_purging_removes_expired_sessions_in_bounded_steps(runtime: Runtime) -> None:
    user = add_user(runtime)
    with runtime.transaction() as session:
        for hours in range(1, 6):  # expiring 1 to 5 hours after START
            open_session(session, user=user, now=START, lifetime=timedelta(hours=hours))
    later = START + timedelta(hours=3)  # three of them are over
    with runtime.transaction() as session:
        assert purge_expired_sessions(session, now=later, limit=2) == 2
    with runtime.transaction() as session:
        assert purge_expired_sessions(session, now=later, limit=2) == 1
        assert purge_expired_sessions(session, now=later, limit=2) == 0
    with runtime.reading() as session:
        left = session.scalars(select(WebSession.expires_at).order_by(WebSession.expires_at))
        assert list(left) == [START + timedelta(hours=4), START + timedelta(hours=5)]
        assert session.scalar(select(func.count()).select_from(User)) == 1
