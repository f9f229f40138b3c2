"""Signed-in browsers. A session is a random token in the browser's cookie; the database keeps
only its SHA-256 (the token has 256 bits of randomness, so a fast hash is enough, as for API
keys: a copy of the database opens no session). Each session has its own CSRF token, which
every form of the pages carries back.

A session lasts SESSION_HOURS from sign-in, however busy it is: a shift, then sign in again.
It ends earlier when its user signs out, is disabled or gets a new password. Expired rows are
inert (`find_session` ignores them) and the retention sweep deletes them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from outage_notify.db.models import User, WebSession

TOKEN_BYTES = 32
# A token we made is 43 characters; anything much longer is not worth hashing.
MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True)
class SignedIn:
    """Who a session belongs to, readable after its database session has closed."""

    user_id: int
    username: str
    role: str
    csrf_token: str
    expires_at: datetime


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session, *, user: User, now: datetime, lifetime: timedelta
) -> tuple[SignedIn, str]:
    """A new session for `user`; returns it and the token for the cookie (shown only here)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = WebSession(
        token_hash=hash_token(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return _signed_in(row, user), token


def find_session(session: Session, *, token: str, now: datetime) -> SignedIn | None:
    """The live session of this token; None when unknown, expired, or its user disabled."""
    if not _plausible(token):
        return None
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == hash_token(token))
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    if row.expires_at <= now or user.disabled_at is not None:
        return None
    return _signed_in(row, user)


def close_session(session: Session, *, token: str) -> bool:
    """Ends the session of this token (signing out); False when there was none."""
    if not _plausible(token):
        return False
    result = session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def close_user_sessions(session: Session, *, user_id: int) -> int:
    """Ends every session of a user (disabled, or a new password); returns how many."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge_expired_sessions(session: Session, *, now: datetime, limit: int) -> int:
    """Deletes up to `limit` expired sessions; returns how many (the retention sweep calls it
    until fewer than `limit` go)."""
    hashes = session.scalars(
        select(WebSession.token_hash).where(WebSession.expires_at <= now).limit(limit)
    ).all()
    if hashes:
        session.execute(delete(WebSession).where(WebSession.token_hash.in_(hashes)))
    return len(hashes)


def _plausible(token: str) -> bool:
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH and token.isascii()


def _signed_in(row: WebSession, user: User) -> SignedIn:
    return SignedIn(user.id, user.username, user.role, row.csrf_token, row.expires_at)
