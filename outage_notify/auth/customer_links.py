"""Signed customer links: what a customer's app or browser holds instead of a password.

A token names one customer (and, when it was made for one, the incident it is about), says
when it was made, and is signed under a sub-key of the deployment's secret. It opens that
customer's in-app feed and lets it register a push subscription, nothing else. Reading a
token here checks only its signature; whether it has expired or been revoked depends on the
database and is decided by `still_valid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

PURPOSE = "customer-link"
SALT = "customer-link"
PREFIX = "ocl_"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class LinkClaims:
    customer_id: str
    incident_id: str | None
    issued_at: datetime


def make_token(
    key: bytes, customer_id: str, *, issued_at: datetime, incident_id: str | None = None
) -> str:
    # Whole microseconds: exactly comparable with the revocation time the database keeps.
    payload = {"c": customer_id, "i": incident_id, "t": (issued_at - EPOCH) // MICROSECOND}
    return PREFIX + URLSafeSerializer(key, salt=SALT).dumps(payload)


def read_token(key: bytes, token: str) -> LinkClaims | None:
    """What a token of ours says, or None when it is not one (forged, altered, foreign)."""
    if not token.startswith(PREFIX):
        return None
    try:
        data = URLSafeSerializer(key, salt=SALT).loads(token[len(PREFIX) :])
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    customer, incident, stamp = data.get("c"), data.get("i"), data.get("t")
    if not isinstance(customer, str) or not isinstance(stamp, int) or isinstance(stamp, bool):
        return None
    if incident is not None and not isinstance(incident, str):
        return None
    try:
        issued = EPOCH + stamp * MICROSECOND
    except OverflowError:
        return None
    return LinkClaims(customer, incident, issued)


def still_valid(
    claims: LinkClaims,
    *,
    revoked_at: datetime | None,
    customer_since: datetime | None = None,
    incident_closed_at: datetime | None,
    lifetime: timedelta,
    now: datetime,
) -> str | None:
    """None when the link still opens its customer's feed; otherwise why not. A link made for
    an incident lives while the incident is open and `lifetime` after it closes; one made for
    no incident lives `lifetime` after it was made. A link older than the customer's record
    was made for an earlier customer of that id (erased, then imported again): it is dead."""
    if customer_since is not None and claims.issued_at < customer_since:
        return "this link's customer no longer exists"
    if revoked_at is not None and claims.issued_at <= revoked_at:
        return "this link was revoked"
    if claims.incident_id is not None:
        if incident_closed_at is not None and now > incident_closed_at + lifetime:
            return "this link expired"
        return None
    if now > claims.issued_at + lifetime:
        return "this link expired"
    return None
