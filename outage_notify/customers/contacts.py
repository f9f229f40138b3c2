"""Keyed hashes of contacts and customer ids: what the service keeps of a phone or email it must
no longer message (an opt-out) and of a customer it was asked to forget (a tombstone). Pure.

HMAC-SHA256 under a sub-key of the deployment's secret, never a plain hash: the Finnish mobile
number space is small enough to reverse a plain hash by hashing every possible number.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import NamedTuple

PURPOSE = "contact-hash"


class Contact(NamedTuple):
    """One way of reaching one customer."""

    customer_id: str
    channel: str  # sms | email
    address: str


@dataclass(frozen=True)
class ContactHasher:
    key: bytes = field(repr=False)

    def contact(self, channel: str, address: str) -> str:
        return self._digest(f"{channel}:{normalise(address)}")

    def wrapped(self, legacy: str) -> str:
        """A plain hash stored by version 0.1, made keyed: the plain one is not kept."""
        return self._digest(f"legacy:{legacy}")

    def contact_digests(self, channel: str, address: str) -> tuple[str, str]:
        """Every digest under which an opt-out of this contact may be stored."""
        return self.contact(channel, address), self.wrapped(legacy_digest(channel, address))

    def customer(self, customer_id: str) -> str:
        return self._digest(f"customer:{customer_id}")

    def _digest(self, text: str) -> str:
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


def legacy_digest(channel: str, address: str) -> str:
    """The unkeyed hash that opt-outs were stored as before keyed hashes (migration 0003)."""
    return hashlib.sha256(f"{channel}:{normalise(address)}".encode()).hexdigest()


def normalise(address: str) -> str:
    return address.strip().lower()
