"""Signing in to the pages over HTTP: the cookie's flags, CSRF on every form (the sign-in
form's own double-submit cookie, the session's token on the others), where a sign-in leads
(never off the site), roles, expiry on the clock, disabled users, and the lockout after five
wrong passwords. The JSON API keeps its API keys and ignores the cookie."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Form
from fastapi.testclient import TestClient

from outage_notify.app import create_app
from outage_notify.auth.apikeys import create_key
from outage_notify.auth.sessions import SignedIn
from outage_notify.auth.users import create_user, disable_user, find_user
from outage_notify.clock import ManualClock
from outage_notify.runtime import Runtime
from outage_notify.web.signin import LOGIN_CSRF_COOKIE, SESSION_COOKIE, require_user, safe_next
from tests.web.signing import form_token, sign_in

START = datetime(2031, 3, 1, 7, 0, tzinfo=UTC)  # 09:00 in Helsinki
PASSWORDS = {"desk": "agent password 1", "ops": "operator password", "boss": "admin password 1"}
ROLES = {"desk": "agent", "ops": "operator", "boss": "admin"}
LOCAL = "http://127.0.0.1:8000"


class Site:
    """The app over a runtime on a manual clock, and one browser (a test client)."""

    def __init__(self, runtime: Runtime, clock: ManualClock, client: TestClient) -> None:
        self.runtime = runtime
        self.clock = clock
        self.client = client

    def another_browser(self) -> Site:
        return Site(self.runtime, self.clock, TestClient(self.client.app))

    def login_form(self) -> str:
        """GET /login: the form's CSRF value (its cookie is now in the client)."""
        page = self.client.get("/login")
        assert page.status_code == 200
        return form_token(page)

    def sign_in(
        self, username: str, password: str | None = None, *, next: str = ""
    ) -> httpx.Response:
        given = PASSWORDS.get(username, "") if password is None else password
        return sign_in(self.client, username, given, next=next)

    def sign_out(self) -> None:
        token = form_token(self.get("/"))  # the sign-out form in the header
        answer = self.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 303

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, follow_redirects=False, **kwargs)


def set_cookie(response: httpx.Response, name: str) -> str:
    """The Set-Cookie header of this name."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


@pytest.fixture
def make_site(make_settings: Callable[..., Any]) -> Iterator[Callable[..., Site]]:
    made: list[Site] = []

    def make(public_url: str = LOCAL, base_url: str = "http://testserver", **settings: Any) -> Site:
        clock = ManualClock(START)
        runtime = Runtime.build(make_settings(public_url=public_url, **settings), clock=clock)
        with runtime.transaction() as session:
            for name, role in ROLES.items():
                create_user(session, username=name, role=role, password=PASSWORDS[name], now=START)
        made.append(
            Site(runtime, clock, TestClient(create_app(runtime=runtime), base_url=base_url))
        )
        return made[-1]

    yield make
    for site in made:
        site.client.close()
        site.runtime.close()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


# ---- the cookie ----------------------------------------------------------------------------


def test_signing_in_sets_an_httponly_lax_session_cookie_for_the_session_s_life(
    site: Site,
) -> None:
    answer = site.sign_in("desk")
    assert answer.status_code == 303 and answer.headers["location"] == "/agent"
    header = set_cookie(answer, SESSION_COOKIE)
    cookie = SimpleCookie(header)[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == str(12 * 3600)  # SESSION_HOURS
    assert not cookie["secure"]  # PUBLIC_URL is http on this machine: a developer's make run
    assert LOGIN_CSRF_COOKIE + '=""' in set_cookie(answer, LOGIN_CSRF_COOKIE)  # spent
    page = site.get("/agent")
    assert page.status_code == 200 and "Signed in as desk (agent)" in page.text


@pytest.mark.parametrize(
    "public_url", ["https://outages.example", "http://outages.example", "http://10.0.0.5:8000"]
)
def test_the_cookies_are_secure_unless_the_service_is_plain_http_on_this_machine(
    make_site: Callable[..., Site], public_url: str
) -> None:
    site = make_site(public_url=public_url, base_url="https://testserver")
    form = site.client.get("/login")
    assert "secure" in set_cookie(form, LOGIN_CSRF_COOKIE).lower()
    answer = site.sign_in("desk")
    assert answer.status_code == 303
    assert SimpleCookie(set_cookie(answer, SESSION_COOKIE))[SESSION_COOKIE]["secure"] is True
    assert site.get("/agent").status_code == 200  # over HTTPS the browser sends it back
    plain = TestClient(site.client.app, base_url="http://testserver", cookies=site.client.cookies)
    assert plain.get("/agent", follow_redirects=False).status_code == 303  # not over http


def test_the_session_lasts_session_hours_on_the_clock(make_site: Callable[..., Site]) -> None:
    site = make_site(session_hours=0.5)
    answer = site.sign_in("desk")
    assert SimpleCookie(set_cookie(answer, SESSION_COOKIE))[SESSION_COOKIE]["max-age"] == "1800"
    site.clock.advance(timedelta(minutes=29))
    assert site.get("/agent").status_code == 200
    site.clock.advance(timedelta(minutes=1))
    gone = site.get("/agent")
    assert (gone.status_code, gone.headers["location"]) == (303, "/login?next=%2Fagent")


# ---- where a sign-in leads ---------------------------------------------------------------------


def test_a_page_sends_the_browser_to_sign_in_and_back_to_it(site: Site) -> None:
    asked = site.get("/agent?q=Jokikatu 14")
    assert asked.status_code == 303
    assert asked.headers["location"] == "/login?next=%2Fagent%3Fq%3DJokikatu%252014"
    form = site.client.get(asked.headers["location"])
    assert 'name="next" value="/agent?q=Jokikatu%2014"' in form.text
    answer = site.sign_in("desk", next="/agent?q=Jokikatu%2014")
    assert answer.headers["location"] == "/agent?q=Jokikatu%2014"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/agent",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
        "/\r\nLocation: https://evil.example",
        "/login",
        "/logout",
        "",
        "/" + "a" * 2000,
    ],
)
def test_a_next_that_is_not_a_page_of_this_site_is_never_followed(site: Site, target: str) -> None:
    assert safe_next(target) is None
    answer = site.sign_in("desk", next=target)
    assert (answer.status_code, answer.headers["location"]) == (303, "/agent")


@pytest.mark.parametrize("target", ["/", "/agent", "/agent/customers/C-1?x=1#t", "/dev/inbox"])
def test_a_local_page_is_followed(target: str) -> None:
    assert safe_next(target) == target


def test_the_sign_in_form_of_someone_signed_in_leads_on(site: Site) -> None:
    site.sign_in("ops")
    answer = site.get("/login?next=/dev/inbox")
    assert (answer.status_code, answer.headers["location"]) == (303, "/dev/inbox")
    assert (
        site.get("/login?next=//evil.example").headers["location"] == "/incidents"
    )  # the operator's home, not elsewhere


# ---- roles -----------------------------------------------------------------------------------


def test_agent_pages_are_for_agents_and_admins_only(site: Site) -> None:
    site.sign_in("ops")
    refused = site.get("/agent")
    assert refused.status_code == 403
    assert "Signed in as ops (operator): this page is for agent or admin users" in refused.text
    assert site.get("/agent/customers/C-1").status_code == 403
    site.sign_out()
    site.sign_in("boss")
    assert site.get("/agent").status_code == 200


def test_a_fetch_asking_for_json_gets_json_errors_not_pages(site: Site) -> None:
    wants_json = {"Accept": "application/json"}
    anonymous = site.get("/agent", headers=wants_json)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    site.sign_in("ops")
    assert site.get("/agent", headers=wants_json).json()["error"]["code"] == "forbidden"


def test_the_landing_page_counts_only_for_signed_in_staff(site: Site) -> None:
    assert 'id="count-customers"' not in site.get("/").text
    assert 'href="/login"' in site.get("/").text
    site.sign_in("ops")
    page = site.get("/")
    assert 'id="count-customers">0<' in page.text
    assert "ops (operator)" in page.text and 'action="/logout"' in page.text


def test_the_dev_inbox_with_a_real_provider_is_for_agents(make_site: Callable[..., Site]) -> None:
    site = make_site(smtp_host="127.0.0.1")  # email is real; sms and push go to the sink
    asked = site.get("/dev/inbox?channel=sms")
    assert asked.headers["location"] == "/login?next=%2Fdev%2Finbox%3Fchannel%3Dsms"
    site.sign_in("ops")
    assert site.get("/dev/inbox").status_code == 403
    site.sign_out()
    site.sign_in("desk")
    assert site.get("/dev/inbox").status_code == 200


# ---- CSRF --------------------------------------------------------------------------------------


def test_the_sign_in_form_refuses_a_post_without_its_own_value(site: Site) -> None:
    token = site.login_form()
    for sent in ("", token[:-1] + ("x" if token[-1] != "x" else "y")):
        answer = site.client.post(
            "/login", data={"username": "desk", "password": PASSWORDS["desk"], "csrf_token": sent}
        )
        assert answer.status_code == 403
        assert "security token is missing or wrong" in answer.text
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    # The refusal shows the form again, with the browser's good token: the next try works.
    answer = site.client.post(
        "/login",
        data={"username": "desk", "password": PASSWORDS["desk"], "csrf_token": form_token(answer)},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def test_the_sign_in_form_refuses_a_post_without_its_cookie(site: Site) -> None:
    token = site.login_form()
    site.client.cookies.clear()  # a browser that never loaded our form: another site's post
    answer = site.client.post(
        "/login", data={"username": "desk", "password": PASSWORDS["desk"], "csrf_token": token}
    )
    assert answer.status_code == 403
    assert "security token is missing or wrong" in answer.text


def test_the_sign_in_form_refuses_a_cookie_this_service_did_not_sign(site: Site) -> None:
    # A cookie and value that agree, planted by a neighbouring site: no signature of ours.
    site.client.cookies.set(LOGIN_CSRF_COOKIE, "planted.0123")
    answer = site.client.post(
        "/login",
        data={"username": "desk", "password": PASSWORDS["desk"], "csrf_token": "planted.0123"},
    )
    assert answer.status_code == 403
    assert "security token is missing or wrong" in answer.text


def test_signing_out_needs_the_session_s_csrf_token(site: Site) -> None:
    site.sign_in("desk")
    page = site.get("/agent")
    token = form_token(page)  # the sign-out form in the header carries it
    for data in ({}, {"csrf_token": "wrong"}):
        refused = site.client.post("/logout", data=data, follow_redirects=False)
        assert refused.status_code == 403
        assert "security token is missing or wrong" in refused.text
    assert site.get("/agent").status_code == 200  # still signed in
    another = site.client.post("/logout", headers={"X-CSRF-Token": "wrong"})
    assert another.status_code == 403
    out = site.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert SESSION_COOKIE + '=""' in set_cookie(out, SESSION_COOKIE)
    assert site.get("/agent").status_code == 303


def test_a_fetch_signs_out_with_the_csrf_header(site: Site) -> None:
    site.sign_in("desk")
    token = form_token(site.get("/agent"))
    cookie = site.client.cookies[SESSION_COOKIE]
    out = site.client.post("/logout", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert out.status_code == 303
    # The old cookie opens nothing any more, even if a browser kept it.
    site.client.cookies.set(SESSION_COOKIE, cookie)
    assert site.get("/agent").status_code == 303


def test_a_session_s_token_is_its_own(site: Site) -> None:
    site.sign_in("desk")
    desk_token = form_token(site.get("/agent"))
    other = site.another_browser()
    other.sign_in("boss")
    refused = other.client.post("/logout", data={"csrf_token": desk_token})
    assert refused.status_code == 403


def test_a_form_handler_with_its_own_fields_gets_the_check_too(site: Site) -> None:
    """What an operator page's form will look like: fields of its own, and require_user."""
    app = site.client.app
    assert isinstance(app, FastAPI)

    as_operator = require_user("operator")

    @app.post("/test/note")
    def note(text: str = Form(...), user: SignedIn = Depends(as_operator)) -> dict:
        return {"text": text, "by": user.username}

    site.sign_in("ops")
    token = form_token(site.get("/"))
    done = site.client.post("/test/note", data={"text": "crew out", "csrf_token": token})
    assert done.json() == {"text": "crew out", "by": "ops"}
    refused = site.client.post("/test/note", data={"text": "crew out"})
    assert refused.status_code == 403 and "security token" in refused.text
    by_fetch = site.client.post(
        "/test/note",
        data={"text": "crew out"},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert by_fetch.json() == {"text": "crew out", "by": "ops"}


def test_signing_out_without_a_session_leads_to_sign_in(site: Site) -> None:
    answer = site.client.post("/logout", data={"csrf_token": "x"}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")


# ---- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "status", "message"),
    [
        ("desk", "not the password", 401, "Wrong username or password."),
        ("nobody", "whatever it is", 401, "Wrong username or password."),
        ("desk", "", 400, "Give your username and password."),
        ("", "agent password 1", 400, "Give your username and password."),
        ("desk\x00", "agent password 1", 401, "Wrong username or password."),
    ],
)
def test_a_refused_sign_in_shows_the_form_again_with_why(
    site: Site, username: str, password: str, status: int, message: str
) -> None:
    answer = site.sign_in(username, password)
    assert answer.status_code == status
    assert message in answer.text
    assert "agent password 1" not in answer.text  # a password is never written back
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_a_disabled_user_cannot_sign_in_and_is_signed_out(site: Site) -> None:
    site.sign_in("desk")
    assert site.get("/agent").status_code == 200
    with site.runtime.transaction() as session:
        user = find_user(session, username="desk")
        assert user is not None
        disable_user(session, user=user, now=START)
    assert site.get("/agent").status_code == 303
    answer = site.sign_in("desk")
    assert answer.status_code == 403 and "disabled" in answer.text


def test_five_wrong_passwords_lock_the_username_for_a_while(site: Site) -> None:
    for _ in range(5):
        assert site.sign_in("desk", "guess number n").status_code == 401
    locked = site.sign_in("desk")  # even the right password
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this username: try again after 09:15." in locked.text
    assert site.another_browser().sign_in("boss").status_code == 303  # others may sign in
    site.clock.advance(timedelta(minutes=14, seconds=59))
    assert site.sign_in("desk").status_code == 429
    site.clock.advance(timedelta(seconds=1))
    assert site.sign_in("desk").status_code == 303


def test_an_unknown_username_locks_as_a_known_one_does(site: Site) -> None:
    for _ in range(5):
        site.sign_in("nobody", "guess number n")
    assert site.sign_in("nobody", "guess number n").status_code == 429
    assert site.sign_in("NOBODY", "guess number n").status_code == 429  # any case


# ---- the API is unchanged -----------------------------------------------------------------


def test_the_api_takes_api_keys_and_ignores_the_session_cookie(site: Site) -> None:
    site.sign_in("boss")
    assert site.get("/agent").status_code == 200
    answer = site.get("/api/v1/customers?q=x")
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "missing Authorization: Bearer <api key>"
    with site.runtime.transaction() as session:
        _, key = create_key(session, role="agent", name="desk", now=START)
    found = site.get("/api/v1/customers?q=x", headers={"Authorization": f"Bearer {key}"})
    assert found.status_code == 200
