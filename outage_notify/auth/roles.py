"""The roles of the people and programs that use the service, one vocabulary for API keys and
for users of the pages: operators post and update incidents, agents read customers and their
timelines, admins may do everything."""

from __future__ import annotations

from typing import Literal

Role = Literal["operator", "agent", "admin"]
ROLES: tuple[Role, ...] = ("operator", "agent", "admin")
ADMIN: Role = "admin"


def is_role(value: str) -> bool:
    return value in ROLES


def allows(role: str, needed: tuple[str, ...]) -> bool:
    """Whether `role` may do what needs one of `needed`: admin may do everything."""
    return role == ADMIN or role in needed
