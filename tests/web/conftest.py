"""Headless Chromium (Debian's package) driven by Playwright against the live app (the
harness: browser.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from outage_notify.config import Settings
from tests.web.browser import ARGS, CHROMIUM, DESKTOP, PHONE, VIEWPORTS, chromium_problem


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """The pages' tests read English (the deployment's default is Finnish): a test that wants
    another language asks for it (?lang=, the cookie, Accept-Language, or this setting)."""

    def make(**overrides: Any) -> Settings:
        overrides.setdefault("default_language", "en")
        return make_settings(**overrides)

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    problem = chromium_problem()
    if problem and os.environ.get("CI"):
        pytest.fail(problem)  # CI installs it (scripts/system-deps.sh): missing is a defect
    if problem:
        pytest.skip(problem)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _page(browser: Browser, options: dict) -> Iterator[Page]:
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def desktop_page(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, DESKTOP)


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, PHONE)


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    """ "desktop" or "phone": a test that takes `sized_page` runs once at each."""
    return str(request.param)


@pytest.fixture
def sized_page(browser: Browser, viewport: str) -> Iterator[Page]:
    yield from _page(browser, VIEWPORTS[viewport])


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters for the pages' tests: the real ones (64 MiB, three passes) are
    tested in tests/auth, and here would only make every user made and every sign-in slow."""
    from argon2 import PasswordHasher

    from outage_notify.auth import users

    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024))
