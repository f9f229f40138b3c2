"""Signing in through the form, as a browser does: the form's CSRF value and its cookie
first, then the post."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def form_token(page: httpx.Response) -> str:
    """The csrf_token of the first form on the page."""
    found = CSRF_FIELD.search(page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str, *, next: str = "") -> httpx.Response:
    form = client.get("/login")
    assert form.status_code == 200
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": form_token(form),
            "next": next,
        },
        follow_redirects=False,
    )
