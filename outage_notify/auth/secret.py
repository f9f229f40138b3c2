"""The deployment's secret key. Every keyed hash and signature of the service derives its own
sub-key from it: customer links, the sign-in form's CSRF cookie, the hashes of opted-out and
erased contacts.

Set OUTAGE_NOTIFY_SECRET_KEY in production, the same value in every process. Unset, a key is
made on first run and written to a file only its owner can read (never to the database: the
point of a keyed hash is that a copy of the database alone cannot reverse it). A fingerprint of
the key is kept in the database, so a process started with another key refuses to run instead
of silently failing to recognise opted-out numbers and the links it signed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from outage_notify.config import MIN_SECRET_LENGTH, Settings
from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import AppMeta
from outage_notify.errors import Refusal

FINGERPRINT = "secret_key_fingerprint"
DEFAULT_FILE = "outage_notify.key"


class SecretKeyError(Refusal):
    """The key cannot be used; the message says what to do."""


@dataclass(frozen=True)
class SecretKey:
    value: bytes = field(repr=False)

    def derive(self, purpose: str) -> bytes:
        """A sub-key for one purpose: knowing one never reveals another, or the master key."""
        return hmac.new(self.value, f"outage_notify:{purpose}".encode(), hashlib.sha256).digest()

    @property
    def fingerprint(self) -> str:
        return self.derive("fingerprint").hex()


def key_file(settings: Settings) -> Path | None:
    """Where a generated key lives; None for an in-memory database (its key dies with it)."""
    if settings.secret_key_file:
        return Path(settings.secret_key_file)
    if not settings.is_sqlite:
        return Path(DEFAULT_FILE)
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database).with_suffix(".key")


def load_secret(settings: Settings) -> SecretKey:
    if settings.secret_key is not None:
        return SecretKey(settings.secret_key.get_secret_value().encode())
    path = key_file(settings)
    if path is None:
        return SecretKey(secrets.token_urlsafe(48).encode())
    return SecretKey(_read_or_create(path))


def _read_or_create(path: Path) -> bytes:
    """The key in `path`, made first if there is none. The key is written to a file of its
    own and then linked into place, so a process starting at the same moment finds either no
    file or a whole key, never an empty one; of two that race, one link wins."""
    if path.exists():
        return _read(path)
    value = secrets.token_urlsafe(48).encode()
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(value + b"\n")
        os.link(draft, path)
    except FileExistsError:
        return _read(path)  # another process made it first: use theirs
    except OSError as exc:
        raise SecretKeyError(f"cannot create the secret key file {path}: {exc.strerror}") from exc
    finally:
        draft.unlink(missing_ok=True)
    return value


def _read(path: Path) -> bytes:
    try:
        value = path.read_bytes().strip()
    except OSError as exc:
        raise SecretKeyError(f"cannot read the secret key file {path}: {exc.strerror}") from exc
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretKeyError(f"the secret key in {path} is shorter than {MIN_SECRET_LENGTH} bytes")
    return value


def check_fingerprint(session: Session, key: SecretKey) -> None:
    """Records the key's fingerprint on first use; refuses a key that differs from it."""
    session.execute(
        upsert_insert(session)(AppMeta)
        .values(key=FINGERPRINT, value=key.fingerprint)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    stored = session.scalar(select(AppMeta.value).where(AppMeta.key == FINGERPRINT))
    if stored is None or not hmac.compare_digest(stored, key.fingerprint):
        raise SecretKeyError(
            "this database was set up with another secret key: give every process the same "
            "OUTAGE_NOTIFY_SECRET_KEY (or the same OUTAGE_NOTIFY_SECRET_KEY_FILE)"
        )
