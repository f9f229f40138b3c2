"""API keys: random, shown once, stored as a SHA-256 hash.

A key has 256 bits of randomness, so a fast hash is enough (a slow password hash defends
guessable secrets, which these are not) and lets every request be checked in microseconds.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from outage_notify.auth.roles import ROLES, is_role
from outage_notify.db.models import ApiKey

PREFIX = "onk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, *, role: str, name: str, now: datetime) -> tuple[ApiKey, str]:
    if not is_role(role):
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("name must not be empty")
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name.strip(), role=role, key_hash=hash_key(key), created_at=now)
    session.add(row)
    session.flush()
    return row, key


def find_key(session: Session, *, key: str) -> ApiKey | None:
    if not key.startswith(PREFIX):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row
