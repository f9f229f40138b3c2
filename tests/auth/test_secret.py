"""The deployment's secret key: set, or generated once and kept outside the database; a
process with another key than the one the database was set up with refuses to start."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from outage_notify.auth.secret import SecretKey, SecretKeyError, key_file, load_secret
from outage_notify.config import Settings
from outage_notify.customers.contacts import ContactHasher, legacy_digest
from outage_notify.customers.optouts import opt_in
from outage_notify.db.models import AppMeta, OptOut
from outage_notify.runtime import Runtime
from outage_notify.timeutil import utcnow
from tests.backends import dump


def test_a_generated_key_is_kept_beside_the_database_readable_by_its_owner_only(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url)
    first = load_secret(settings)
    path = tmp_path / "outage_notify.key"
    assert key_file(settings) == path
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret(settings) == first  # made once, then read
    assert len(path.read_bytes().strip()) >= 32


def test_the_key_never_enters_the_database(make_settings: Any, database_url: str) -> None:
    runtime = Runtime.build(make_settings(secret_key=None))
    with runtime.transaction() as session:
        values = session.scalars(select(AppMeta.value)).all()
    key = runtime.secret.value.decode()
    runtime.close()
    assert key and all(key not in value for value in values)


def test_another_key_on_the_same_database_is_refused(make_settings: Any) -> None:
    Runtime.build(make_settings(secret_key="a" * 40)).close()
    with pytest.raises(SecretKeyError, match="another secret key"):
        Runtime.build(make_settings(secret_key="b" * 40))
    Runtime.build(make_settings(secret_key="a" * 40)).close()


def test_a_short_configured_key_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(secret_key="short")


def test_sub_keys_differ_by_purpose_and_do_not_reveal_the_key() -> None:
    key = SecretKey(b"k" * 40)
    assert key.derive("customer-link") != key.derive("contact-hash")
    assert b"k" * 40 not in key.derive("contact-hash")
    assert "k" * 40 not in repr(key)


def test_contact_hashes_are_keyed_so_a_database_copy_cannot_be_reversed() -> None:
    phone = "+358401234567"
    one, other = ContactHasher(b"1" * 32), ContactHasher(b"2" * 32)
    assert one.contact("sms", phone) != other.contact("sms", phone)
    assert one.contact("sms", phone) != hashlib.sha256(f"sms:{phone}".encode()).hexdigest()
    assert one.contact("sms", phone) == one.contact("sms", f" {phone} ")


def legacy_opt_out(phone: str) -> OptOut:
    """A STOP as version 0.1 stored it: an unkeyed SHA-256 of the number."""
    return OptOut(
        channel="sms",
        address_hash=legacy_digest("sms", phone),
        scheme="sha256",
        created_at=utcnow(),
    )


def test_plain_hashes_of_earlier_versions_are_keyed_at_start_up_and_still_honoured(
    make_settings: Any, client: Any, keys: dict, runtime: Runtime
) -> None:
    phone, nobody = "+358401234567", "+358409876543"
    person = {"customer_id": "L-1", "phone": phone, "lat": 60.17, "lon": 24.94}
    assert client.post("/api/v1/customers", json=[person], headers=keys["admin"]).status_code == 200
    with runtime.transaction() as session:  # a database upgraded from version 0.1
        session.add_all([legacy_opt_out(phone), legacy_opt_out(nobody)])
    restarted = Runtime.build(make_settings())
    with restarted.transaction() as session:
        rows = session.scalars(select(OptOut)).all()
        everything = dump(restarted.engine)
    restarted.close()
    assert {row.scheme for row in rows} == {"wrapped"}  # no reversible hash is left...
    for number in (phone, nobody):
        assert legacy_digest("sms", number) not in everything
    detail = client.get("/api/v1/customers/L-1", headers=keys["agent"]).json()
    assert detail["opted_out"] == ["sms"]  # ...and the STOP still holds
    with runtime.transaction() as session:
        assert opt_in(session, hasher=runtime.hasher, channel="sms", address=phone)
    assert client.get("/api/v1/customers/L-1", headers=keys["agent"]).json()["opted_out"] == []


def test_processes_starting_together_agree_on_one_generated_key(
    database_url: str, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    settings = Settings(database_url=database_url)
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_secret(settings).value, range(32)))
    assert len(keys) == 1 and len(next(iter(keys))) >= 32
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".key") or ".key." in p.name] == [
        "outage_notify.key"
    ]
