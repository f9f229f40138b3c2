"""VAPID keys (RFC 8292) on their own: making a key pair needs neither pywebpush nor an HTTP
client, so `outage-notify vapid generate` does not load them."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from py_vapid.utils import b64urlencode


def load_vapid_key(value: str) -> Vapid:
    """A PEM text, a path to a PEM file, or the base64url private key."""
    if value.lstrip().startswith("-----BEGIN"):
        return Vapid.from_pem(value.encode())
    if os.path.isfile(value):
        return Vapid.from_file(value)
    return Vapid.from_string(value)


def generate_vapid_keys() -> tuple[str, str]:
    """(private key for OUTAGE_NOTIFY_VAPID_PRIVATE_KEY, public application server key),
    both base64url as browsers and pywebpush take them."""
    vapid = Vapid()
    vapid.generate_keys()
    private_value = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(private_value), b64urlencode(public)
