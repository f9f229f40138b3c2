"""People who sign in to the pages: operators, agents and admins, with a username and a
password. Only an argon2id hash of the password is kept (argon2-cffi, RFC 9106's parameters);
a hash made with older parameters is replaced by a current one at the next sign-in.

Signing in is split in two so that the slow part holds no lock: `authenticate` reads and
verifies (about 0.2 s of CPU and 64 MiB by design), `record_login` writes the time of the
sign-in and any new hash in a short transaction. On SQLite a write transaction holds the
database's one write lock, which the workers need for every message they send.
`verify_login` does both in one session, for callers with no such concern.

Usernames are compared without regard to case (they are kept in lower case, NFKC-normalised,
so "Maija" and "maija" are one person); passwords are NFKC-normalised as NIST SP 800-63B
advises, so the same password typed on two keyboards that compose "ä" differently is one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outage_notify.auth.roles import ROLES, Role, is_role
from outage_notify.auth.sessions import close_user_sessions
from outage_notify.db.models import User

MAX_USERNAME = 100
MIN_PASSWORD = 12
# argon2 hashes any length, but time grows with it: a megabyte "password" is an attack.
MAX_PASSWORD = 1024
WRONG = "Wrong username or password."
DISABLED = "This account is disabled: ask an administrator to enable it."

# The current parameters (argon2id, RFC 9106 low-memory profile: t=3, m=64 MiB, p=4).
HASHER = PasswordHasher()


class UserError(ValueError):
    """A username, role or password that cannot be used; the message says why."""


class LoginRefused(Exception):
    """The sign-in fails; the message is what the person signing in may be told."""


class WrongCredentials(LoginRefused):
    """No user has this username and password: a guess, counted against the username."""

    def __init__(self) -> None:
        super().__init__(WRONG)


class AccountDisabled(LoginRefused):
    """The right password of a disabled user."""

    def __init__(self) -> None:
        super().__init__(DISABLED)


@dataclass(frozen=True)
class Authenticated:
    """A username and password that matched, and what `record_login` needs to write."""

    user_id: int
    username: str
    role: str
    verified_hash: str
    new_hash: str | None  # the password hashed with the current parameters, when they changed


def normalise_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).lower()


def check_username(username: str) -> str:
    """The username as kept, or UserError saying what is wrong with it."""
    name = normalise_username(username)
    if not name:
        raise UserError("username must not be empty")
    if len(name) > MAX_USERNAME:
        raise UserError(f"username must be at most {MAX_USERNAME} characters")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in name):
        raise UserError("username must not contain spaces or control characters")
    return name


def check_password(password: str) -> str:
    """The password as hashed, or UserError saying what is wrong with it."""
    text = unicodedata.normalize("NFKC", password)
    if len(text) < MIN_PASSWORD:
        raise UserError(f"password must be at least {MIN_PASSWORD} characters")
    if len(text) > MAX_PASSWORD:
        raise UserError(f"password must be at most {MAX_PASSWORD} characters")
    if not _encodable(text):
        raise UserError("password must be text (it holds a lone surrogate)")
    return text


def check_role(role: str) -> Role:
    if not is_role(role):
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


def find_user(session: Session, *, username: str) -> User | None:
    """The user of this username (in any case); None, without asking the database, for a
    username no user can have (PostgreSQL refuses text with NUL in it)."""
    try:
        name = check_username(username)
    except UserError:
        return None
    return session.scalar(select(User).where(User.username == name))


def create_user(
    session: Session, *, username: str, role: str, password: str, now: datetime
) -> User:
    """A new user who may sign in at once; UserError when any of the three is unusable or
    the username is taken."""
    name, kind, text = check_username(username), check_role(role), check_password(password)
    if find_user(session, username=name) is not None:
        raise UserError(f"username {name!r} is taken")
    user = User(username=name, role=kind, password_hash=HASHER.hash(text), created_at=now)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, user: User, password: str) -> None:
    """Replaces the password and signs the user out everywhere."""
    user.password_hash = HASHER.hash(check_password(password))
    close_user_sessions(session, user_id=user.id)


def disable_user(session: Session, *, user: User, now: datetime) -> int:
    """The user can no longer sign in, and every session of theirs ends now; returns how
    many sessions were open. Disabling twice keeps the first time."""
    if user.disabled_at is None:
        user.disabled_at = now
    return close_user_sessions(session, user_id=user.id)


def enable_user(session: Session, *, user: User) -> None:
    user.disabled_at = None
    session.flush()


def authenticate(session: Session, *, username: str, password: str) -> Authenticated:
    """Who signs in with this username and password; LoginRefused otherwise. Reads only.

    An unknown username costs the same hash as a known one, so the time taken does not say
    which usernames exist. A disabled user is told so only after giving the right password.
    """
    text = _password_text(password)
    user = find_user(session, username=username)
    if user is None or text is None:
        _verify(_dummy_hash(), (text or "")[:MAX_PASSWORD])
        raise WrongCredentials()
    if not _verify(user.password_hash, text):
        raise WrongCredentials()
    if user.disabled_at is not None:
        raise AccountDisabled()
    new_hash = HASHER.hash(text) if _needs_rehash(user.password_hash) else None
    return Authenticated(user.id, user.username, user.role, user.password_hash, new_hash)


def record_login(session: Session, *, login: Authenticated, now: datetime) -> User:
    """Writes the sign-in: its time, and the password's hash under the current parameters
    when they changed (only if the password was not changed meanwhile). LoginRefused when
    the user was disabled or removed since `authenticate`."""
    user = session.get(User, login.user_id)
    if user is None:
        raise WrongCredentials()
    if user.disabled_at is not None:
        raise AccountDisabled()
    user.last_login_at = now
    if login.new_hash is not None:
        session.execute(
            update(User)
            .where(User.id == login.user_id, User.password_hash == login.verified_hash)
            .values(password_hash=login.new_hash)
            .execution_options(synchronize_session="fetch")
        )
    session.flush()
    return user


def verify_login(session: Session, *, username: str, password: str, now: datetime) -> User:
    """The user this username and password sign in, with the sign-in recorded; LoginRefused
    with what to tell them otherwise."""
    login = authenticate(session, username=username, password=password)
    return record_login(session, login=login, now=now)


def _password_text(password: str) -> str | None:
    """The password as hashed, or None for one no user can have (too long, not text)."""
    text = unicodedata.normalize("NFKC", password)
    if len(text) > MAX_PASSWORD or not _encodable(text):
        return None
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False  # a mismatch, or a stored hash that is not an argon2 hash at all


def _needs_rehash(password_hash: str) -> bool:
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


@cache
def _dummy_hash() -> str:
    """A hash of no one's password, made once a process, to verify unknown usernames against."""
    import secrets

    return HASHER.hash(secrets.token_urlsafe(32))
