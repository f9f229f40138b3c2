"""Who must not be messaged on which channel: numbers and addresses that said STOP (opt-outs,
which belong to the contact and so cover every customer who has it) and the contacts of erased
customers (tombstones, which cover only that customer id). Services: never commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.orm import Session

from outage_notify.customers.contacts import Contact, ContactHasher
from outage_notify.db.among import among
from outage_notify.db.engine import upsert_insert
from outage_notify.db.models import Customer, Erasure, OptOut

CHUNK = 500
OPTED_OUT = "opted_out"
ERASED = "erased"


def opt_out(
    session: Session, *, hasher: ContactHasher, channel: str, address: str, now: datetime
) -> bool:
    """True if the contact was not opted out before."""
    # RETURNING, not rowcount: PostgreSQL's driver reports -1 for this ORM-enabled INSERT.
    inserted = session.execute(
        upsert_insert(session)(OptOut)
        .values(
            channel=channel,
            address_hash=hasher.contact(channel, address),
            scheme="hmac",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "address_hash"])
        .returning(OptOut.channel)
    ).first()
    return inserted is not None


def opt_in(session: Session, *, hasher: ContactHasher, channel: str, address: str) -> bool:
    digests = hasher.contact_digests(channel, address)
    result = session.execute(
        delete(OptOut).where(OptOut.channel == channel, OptOut.address_hash.in_(digests))
    )
    return bool(getattr(result, "rowcount", 0))


def blocked(
    session: Session, *, hasher: ContactHasher, contacts: Iterable[Contact]
) -> dict[Contact, str]:
    """The contacts that must not be messaged, each with why: "opted_out" or "erased"."""
    digests = {c: hasher.contact_digests(c.channel, c.address) for c in contacts}
    found: dict[Contact, str] = {}
    items = list(digests.items())
    for start in range(0, len(items), CHUNK):
        found.update(_blocked_chunk(session, hasher, dict(items[start : start + CHUNK])))
    return found


def _blocked_chunk(
    session: Session, hasher: ContactHasher, digests: dict[Contact, tuple[str, str]]
) -> dict[Contact, str]:
    wanted = list({digest for pair in digests.values() for digest in pair})
    opted = {
        tuple(row)
        for row in session.execute(
            select(OptOut.channel, OptOut.address_hash).where(among(OptOut.address_hash, wanted))
        )
    }
    tombstones = {
        tuple(row)
        for row in session.execute(
            select(Erasure.customer_hash, Erasure.channel, Erasure.address_hash).where(
                among(Erasure.address_hash, wanted)
            )
        )
    }
    found: dict[Contact, str] = {}
    for contact, (digest, wrapped) in digests.items():
        if (contact.channel, digest) in opted or (contact.channel, wrapped) in opted:
            found[contact] = OPTED_OUT
        elif (hasher.customer(contact.customer_id), contact.channel, digest) in tombstones:
            found[contact] = ERASED
        # else: free to message
    return found


def opted_out_channels(session: Session, *, hasher: ContactHasher, customer: Customer) -> list[str]:
    """The channels on which this customer's contact has opted out (for agents)."""
    found = blocked(session, hasher=hasher, contacts=contacts_of(customer))
    return sorted(contact.channel for contact, why in found.items() if why == OPTED_OUT)


def contacts_of(customer: Customer | Row[Any]) -> list[Contact]:
    """A customer's phone and email as contacts (a model or a row with those columns)."""
    pairs = (("sms", customer.phone), ("email", customer.email))
    return [Contact(customer.customer_id, channel, addr) for channel, addr in pairs if addr]


def record_erasure(
    session: Session, *, hasher: ContactHasher, customer: Customer, now: datetime
) -> None:
    """The tombstone of a customer about to be erased: one row per contact they had."""
    rows = [
        {
            "customer_hash": hasher.customer(contact.customer_id),
            "channel": contact.channel,
            "address_hash": hasher.contact(contact.channel, contact.address),
            "created_at": now,
        }
        for contact in contacts_of(customer)
    ]
    if rows:
        statement = upsert_insert(session)(Erasure).on_conflict_do_nothing(
            index_elements=["customer_hash", "channel", "address_hash"]
        )
        session.execute(statement, rows)


# ---- opt-outs made before keyed hashes ------------------------------------------------------


def wrap_legacy(session: Session, *, hasher: ContactHasher) -> int:
    """Replaces every plain hash stored by version 0.1 by a keyed hash of it; returns how
    many. Cheap when there are none, so it runs at every start."""
    rows = session.execute(
        select(OptOut.id, OptOut.address_hash).where(OptOut.scheme == "sha256")
    ).all()
    for row_id, legacy in rows:
        session.execute(
            update(OptOut)
            .where(OptOut.id == row_id)
            .values(address_hash=hasher.wrapped(legacy), scheme="wrapped")
        )
    return len(rows)
