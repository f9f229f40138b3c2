"""Signed customer links: what a customer's app or browser holds instead of a password.

The token names one customer and is signed with the deployment's secret; it opens that
customer's in-app feed and lets it register a push subscription, nothing else.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "customer-link"
PREFIX = "ocl_"


def make_token(secret: str, customer_id: str) -> str:
    return PREFIX + URLSafeSerializer(secret, salt=SALT).dumps({"c": customer_id})


def read_token(secret: str, token: str) -> str | None:
    """The customer_id a token names, or None when it is not one of ours."""
    if not token.startswith(PREFIX):
        return None
    try:
        data = URLSafeSerializer(secret, salt=SALT).loads(token[len(PREFIX) :])
    except BadSignature:
        return None
    value = data.get("c") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
