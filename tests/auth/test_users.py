"""Users of the pages: what a username, role and password must be, argon2id hashes (replaced
when the parameters change), and sign-ins refused alike for unknown users and wrong
passwords, and for disabled users."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from outage_notify.auth import users
from outage_notify.auth.sessions import find_session, open_session
from outage_notify.auth.users import (
    AccountDisabled,
    UserError,
    WrongCredentials,
    authenticate,
    check_username,
    create_user,
    disable_user,
    enable_user,
    find_user,
    record_login,
    set_password,
    verify_login,
)
from outage_notify.db.models import User
from outage_notify.runtime import Runtime

NOW = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
HOUR = timedelta(hours=1)


def make(runtime: Runtime, username: str = "maija", role: str = "agent") -> int:
    with runtime.transaction() as session:
        return create_user(session, username=username, role=role, password=PASSWORD, now=NOW).id


def stored(runtime: Runtime, user_id: int) -> User:
    with runtime.reading() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def test_only_an_argon2id_hash_of_the_password_is_kept(runtime: Runtime) -> None:
    user = stored(runtime, make(runtime, "Maija.Virtanen"))
    assert user.username == "maija.virtanen"  # usernames do not depend on case
    assert (user.role, user.created_at, user.last_login_at, user.disabled_at) == (
        "agent",
        NOW,
        None,
        None,
    )
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert not users.HASHER.check_needs_rehash(user.password_hash)


@pytest.mark.parametrize(
    ("username", "role", "password", "reason"),
    [
        ("", "agent", PASSWORD, "must not be empty"),
        ("a" * 101, "agent", PASSWORD, "at most 100"),
        ("maija virtanen", "agent", PASSWORD, "spaces or control"),
        ("maija\tv", "agent", PASSWORD, "spaces or control"),
        ("maija\x00", "agent", PASSWORD, "spaces or control"),
        ("maija\u200b", "agent", PASSWORD, "spaces or control"),  # zero-width space
        ("maija", "root", PASSWORD, "role must be one of operator, agent, admin"),
        ("maija", "agent", "eleven char", "at least 12"),
        ("maija", "agent", "x" * 1025, "at most 1024"),
        ("maija", "agent", "twelve chars\ud800", "lone surrogate"),
    ],
)
def test_a_bad_username_role_or_password_is_refused_with_its_reason(
    runtime: Runtime, username: str, role: str, password: str, reason: str
) -> None:
    with pytest.raises(UserError, match=reason), runtime.transaction() as session:
        create_user(session, username=username, role=role, password=password, now=NOW)
    with runtime.reading() as session:
        assert session.scalars(select(User)).all() == []


def test_the_limits_themselves_are_accepted(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        create_user(session, username="a" * 100, role="admin", password="x" * 12, now=NOW)
        create_user(session, username="ä", role="operator", password="y" * 1024, now=NOW)


def test_a_username_is_taken_whatever_its_case(runtime: Runtime) -> None:
    make(runtime, "maija")
    with pytest.raises(UserError, match="'maija' is taken"), runtime.transaction() as session:
        create_user(session, username="MAIJA", role="admin", password=PASSWORD, now=NOW)


@given(st.text(max_size=120))
def test_a_username_kept_is_lower_case_visible_and_kept_as_it_is(text: str) -> None:
    try:
        name = check_username(text)
    except UserError:
        return
    assert 1 <= len(name) <= 100
    assert name == unicodedata.normalize("NFKC", name)
    assert not any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in name)
    assert check_username(name) == name  # typing it again finds the same user


def test_the_right_password_signs_in_and_the_time_is_recorded(runtime: Runtime) -> None:
    user_id = make(runtime)
    with runtime.transaction() as session:
        user = verify_login(session, username="Maija", password=PASSWORD, now=NOW + HOUR)
        assert user.id == user_id
    assert stored(runtime, user_id).last_login_at == NOW + HOUR


def test_a_password_typed_in_another_unicode_form_is_the_same_password(
    runtime: Runtime,
) -> None:
    composed = "pääsy sähkö 2031"  # ä as one code point
    with runtime.transaction() as session:
        create_user(session, username="anna", role="agent", password=composed, now=NOW)
    decomposed = unicodedata.normalize("NFD", composed)  # a + combining diaeresis
    assert decomposed != composed
    with runtime.transaction() as session:
        verify_login(session, username="anna", password=decomposed, now=NOW)


class CountingHasher(PasswordHasher):
    """The service's hasher, counting the verifications it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("maija", "wrong password!"),
        ("nobody", PASSWORD),  # unknown
        ("maija\x00", PASSWORD),  # a username no one can have (PostgreSQL refuses NUL)
        ("m" * 500, PASSWORD),
        ("maija", "x" * 5000),  # longer than any password
        ("maija", "twelve chars\ud800"),
    ],
)
def test_wrong_credentials_are_refused_alike_after_one_hash_verification(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, username: str, password: str
) -> None:
    make(runtime)
    hasher = CountingHasher()
    monkeypatch.setattr(users, "HASHER", hasher)
    with (
        pytest.raises(WrongCredentials, match="Wrong username or password"),
        runtime.reading() as session,
    ):
        authenticate(session, username=username, password=password)
    # An unknown user costs a hash as a known one does: the time taken does not tell them apart.
    assert hasher.verified == 1


def test_a_disabled_user_is_refused_and_told_so_only_with_the_right_password(
    runtime: Runtime,
) -> None:
    user_id = make(runtime)
    with runtime.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        _, token = open_session(session, user=user, now=NOW, lifetime=HOUR)
        assert disable_user(session, user=user, now=NOW) == 1  # its session ended
        assert find_session(session, token=token, now=NOW) is None
    with pytest.raises(AccountDisabled, match="disabled"), runtime.reading() as session:
        authenticate(session, username="maija", password=PASSWORD)
    with pytest.raises(WrongCredentials), runtime.reading() as session:
        authenticate(session, username="maija", password="not the password")
    with runtime.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert disable_user(session, user=user, now=NOW + HOUR) == 0
        assert user.disabled_at == NOW  # the first time is kept
        enable_user(session, user=user)
        verify_login(session, username="maija", password=PASSWORD, now=NOW + HOUR)


def test_a_user_disabled_while_the_hash_was_being_checked_is_refused(runtime: Runtime) -> None:
    user_id = make(runtime)
    with runtime.reading() as session:
        login = authenticate(session, username="maija", password=PASSWORD)
    with runtime.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        disable_user(session, user=user, now=NOW)
    with pytest.raises(AccountDisabled), runtime.transaction() as session:
        record_login(session, login=login, now=NOW)
    assert stored(runtime, user_id).last_login_at is None


OLD_PARAMETERS = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_a_hash_with_older_parameters_is_replaced_at_sign_in(runtime: Runtime) -> None:
    user_id = make(runtime)
    with runtime.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.password_hash = OLD_PARAMETERS.hash(PASSWORD)
    old = stored(runtime, user_id).password_hash
    assert users.HASHER.check_needs_rehash(old)
    with runtime.transaction() as session:
        verify_login(session, username="maija", password=PASSWORD, now=NOW)
    new = stored(runtime, user_id).password_hash
    assert new != old and not users.HASHER.check_needs_rehash(new)
    assert users.HASHER.verify(new, PASSWORD)
    with runtime.transaction() as session:  # and the password still works
        verify_login(session, username="maija", password=PASSWORD, now=NOW)


def test_a_rehash_never_undoes_a_password_changed_meanwhile(runtime: Runtime) -> None:
    user_id = make(runtime)
    with runtime.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.password_hash = OLD_PARAMETERS.hash(PASSWORD)
    with runtime.reading() as session:
        login = authenticate(session, username="maija", password=PASSWORD)
    assert login.new_hash is not None
    with runtime.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        set_password(session, user=user, password="a brand new password")
    with runtime.transaction() as session:
        record_login(session, login=login, now=NOW)
    with runtime.transaction() as session:
        verify_login(session, username="maija", password="a brand new password", now=NOW)
    with pytest.raises(WrongCredentials), runtime.reading() as session:
        authenticate(session, username="maija", password=PASSWORD)


def test_a_new_password_ends_every_session_of_the_user(runtime: Runtime) -> None:
    user_id = make(runtime)
    with runtime.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        _, token = open_session(session, user=user, now=NOW, lifetime=HOUR)
        set_password(session, user=user, password="another long password")
        assert find_session(session, token=token, now=NOW) is None
        with pytest.raises(UserError, match="at least 12"):
            set_password(session, user=user, password="short")


def test_a_stored_hash_that_is_not_argon2_refuses_without_failing(runtime: Runtime) -> None:
    user_id = make(runtime)
    with runtime.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.password_hash = "not a hash"
    with pytest.raises(WrongCredentials), runtime.reading() as session:
        authenticate(session, username="maija", password=PASSWORD)


def test_find_user_ignores_case_and_never_asks_for_an_impossible_name(runtime: Runtime) -> None:
    user_id = make(runtime)
    with runtime.reading() as session:
        found = find_user(session, username="MAIJA")
        assert found is not None and found.id == user_id
        assert find_user(session, username="maija\x00") is None
        assert find_user(session, username="") is None
