"""Signing in to the pages: GET/POST /login, POST /logout, and the dependencies pages use.

- A page that needs someone signed in depends on `require_user("agent")` (any of the roles
  named; admin may do everything; no role named: anyone signed in). A browser that is not
  signed in is sent to /login?next=<the page>; a signed-in user of another role gets a 403
  page. A request that asks for JSON only (fetch with Accept: application/json) gets the
  API's JSON errors, 401 and 403, instead.
- CSRF: `require_user` also checks, on every POST (any method but GET, HEAD, OPTIONS), that
  the request carries the session's CSRF token, in the form field `csrf_token` or the header
  X-CSRF-Token (for fetch); a missing or wrong one is a 403 that says so. Templates have the
  token as `csrf_token`. So a form handler cannot forget the check.
- The session cookie `outage_notify_session`: HttpOnly, SameSite=Lax, Path=/, Secure unless
  PUBLIC_URL is plain http on this machine (Settings.secure_cookies); it lives as long as the
  session (SESSION_HOURS).
- The sign-in form has no session yet: it is protected by a double-submit cookie, a random
  value signed under a sub-key of SECRET_KEY, set with the form and sent back in it.
- Wrong passwords are counted per username (auth/throttle.py): after 5 within 15 minutes the
  username is refused for a while, with the time it may try again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from outage_notify.api.deps import get_runtime
from outage_notify.api.errors import error_response
from outage_notify.auth import sessions, users
from outage_notify.auth.roles import ADMIN, allows
from outage_notify.auth.sessions import SignedIn
from outage_notify.auth.throttle import LoginThrottle
from outage_notify.runtime import Runtime
from outage_notify.web.templating import templates

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "outage_notify_session"
LOGIN_CSRF_COOKIE = "outage_notify_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Where a user lands after signing in when no page asked for it.
HOME = {"agent": "/agent", "operator": "/incidents"}
LOGIN_CSRF_PURPOSE = "login-csrf"
MAX_NEXT = 2000
MISSING = "Give your username and password."
CSRF_REFUSED = (
    "This form's security token is missing or wrong: it has expired, or it did not come "
    "from this site's pages. Go back, reload the page and try again."
)


class PageRefusal(Exception):
    """Answered by a page: a redirect to sign in (sign_in=True), or an error page."""

    def __init__(self, status: int, message: str, *, sign_in: bool = False, after: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.sign_in = sign_in
        self.after = after  # the page to come back to once signed in


def install(app: FastAPI) -> None:
    """The sign-in routes, the refusal pages and this process's count of failed sign-ins."""
    app.state.login_throttle = LoginThrottle()
    app.include_router(router)

    @app.exception_handler(PageRefusal)
    async def _refused(request: Request, exc: PageRefusal) -> Response:
        return refusal_response(request, exc)


def refusal_response(request: Request, exc: PageRefusal) -> Response:
    if not wants_html(request):
        return error_response(exc.status, exc.message)
    if exc.sign_in:
        target = f"/login?next={quote(exc.after, safe='')}" if exc.after else "/login"
        return RedirectResponse(target, status_code=303)
    return templates.TemplateResponse(
        request, "refused.html", {"message": exc.message}, status_code=exc.status
    )


def wants_html(request: Request) -> bool:
    """A browser, unless it asks for JSON and not HTML (a page's fetch)."""
    accept = request.headers.get("accept", "")
    return not ("application/json" in accept and "text/html" not in accept)


# ---- who is signed in --------------------------------------------------------------------------


def current_user(request: Request, runtime: Runtime = Depends(get_runtime)) -> SignedIn | None:
    """The signed-in user of this request, or None; kept on request.state for the templates.
    (A plain def: FastAPI runs it in its thread pool, off the event loop, as it reads the
    database.)"""
    token = request.cookies.get(SESSION_COOKIE, "")
    user = None
    if token:
        with runtime.reading() as session:
            user = sessions.find_session(session, token=token, now=runtime.clock.now())
    request.state.user = user
    return user


def require_user(*roles: str) -> Callable[..., Awaitable[SignedIn]]:
    """A page dependency: the signed-in user, of one of `roles` (admin always; none named:
    any role), with the CSRF token checked on anything but GET, HEAD and OPTIONS."""

    async def dependency(
        request: Request, user: SignedIn | None = Depends(current_user)
    ) -> SignedIn:
        admitted = admit(request, user, roles)
        if request.method not in SAFE_METHODS:
            await check_csrf(request, admitted)
        return admitted

    return dependency


def admit(request: Request, user: SignedIn | None, roles: tuple[str, ...]) -> SignedIn:
    """`user` when signed in with one of `roles` (admin always; none named: any); otherwise
    the PageRefusal that sends them to sign in, or tells them it is not for their role."""
    if user is None:
        after = local_target(request) if request.method in SAFE_METHODS else ""
        raise PageRefusal(401, "not signed in: sign in at /login first", sign_in=True, after=after)
    if roles and not allows(user.role, roles):
        who = " or ".join(dict.fromkeys((*roles, ADMIN)))
        raise PageRefusal(
            403,
            f"Signed in as {user.username} ({user.role}): this page is for {who} users. "
            "Sign out and sign in as one of them to see it.",
        )
    return user


async def check_csrf(request: Request, user: SignedIn) -> None:
    sent = request.headers.get(CSRF_HEADER) or await _form_field(request, CSRF_FIELD)
    if not sent or not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
        raise PageRefusal(403, CSRF_REFUSED)


async def _form_field(request: Request, name: str) -> str:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return ""
    try:
        form: FormData = await request.form()
    except Exception:  # a malformed body: no token in it
        return ""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def local_target(request: Request) -> str:
    """This request's path and query, to come back to after signing in."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(value: str | None) -> str | None:
    """A page of this site to go to after signing in, or None: only a local path is followed,
    never another site (//evil.example, /\\evil.example, https://…), nor /login itself."""
    if not value or len(value) > MAX_NEXT or not value.startswith("/"):
        return None
    if value.startswith("//") or "\\" in value:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return None
    return value


# ---- the sign-in form's CSRF (no session yet: a signed double-submit cookie) ------------------


def _login_csrf_signature(runtime: Runtime, nonce: str) -> str:
    key = runtime.secret.derive(LOGIN_CSRF_PURPOSE)
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def _new_login_csrf(runtime: Runtime) -> str:
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_login_csrf_signature(runtime, nonce)}"


def _valid_login_csrf(runtime: Runtime, value: str) -> bool:
    nonce, _, signature = value.partition(".")
    if not nonce or not signature or not value.isascii():
        return False
    return hmac.compare_digest(signature, _login_csrf_signature(runtime, nonce))


def _login_csrf_ok(runtime: Runtime, cookie: str, field: str) -> bool:
    """The form sent back the value of its cookie, and the cookie is one this service made
    (a cookie planted by a neighbouring site cannot carry our signature)."""
    if not cookie or not field or not cookie.isascii() or not field.isascii():
        return False
    return hmac.compare_digest(cookie.encode(), field.encode()) and _valid_login_csrf(
        runtime, cookie
    )


anyone_signed_in = require_user()


# ---- routes ------------------------------------------------------------------------------------


@router.get("/login")
def login_form(
    request: Request,
    next: str | None = Query(None),
    runtime: Runtime = Depends(get_runtime),
    user: SignedIn | None = Depends(current_user),
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next) or _home(user), status_code=303)
    return _form(request, runtime, next=safe_next(next) or "")


@router.post("/login")
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form(""),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    target = safe_next(next) or ""
    again: dict[str, Any] = {"next": target, "username": username[: users.MAX_USERNAME]}
    if not _login_csrf_ok(runtime, request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _form(request, runtime, error=CSRF_REFUSED, status=403, **again)
    if not username.strip() or not password:
        return _form(request, runtime, error=MISSING, status=400, **again)
    throttle: LoginThrottle = request.app.state.login_throttle
    name = users.normalise_username(username)
    now = runtime.clock.now()
    until = throttle.locked_until(name, now=now)
    if until is not None:
        at = until.astimezone(runtime.settings.zone).strftime("%H:%M")
        message = f"Too many failed sign-ins for this username: try again after {at}."
        return _form(request, runtime, error=message, status=429, **again)
    try:
        with runtime.reading() as session:  # the slow hash, outside any write transaction
            login = users.authenticate(session, username=username, password=password)
        with runtime.transaction() as session:
            record = users.record_login(session, login=login, now=now)
            sessions.close_session(session, token=request.cookies.get(SESSION_COOKIE, ""))
            signed_in, token = sessions.open_session(
                session, user=record, now=now, lifetime=_lifetime(runtime)
            )
    except users.WrongCredentials as wrong:
        throttle.failed(name, now=now)
        return _form(request, runtime, error=str(wrong), status=401, **again)
    except users.AccountDisabled as disabled:
        return _form(request, runtime, error=str(disabled), status=403, **again)
    throttle.succeeded(name)
    response = RedirectResponse(target or _home(signed_in), status_code=303)
    _set_cookie(response, runtime, SESSION_COOKIE, token, max_age=_lifetime(runtime))
    response.delete_cookie(LOGIN_CSRF_COOKIE, **_cookie_flags(runtime))
    return response


@router.post("/logout")
def logout(
    request: Request,
    _: SignedIn = Depends(anyone_signed_in),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    with runtime.transaction() as session:
        sessions.close_session(session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, **_cookie_flags(runtime))
    return response


def _form(
    request: Request,
    runtime: Runtime,
    *,
    next: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The sign-in form, with its CSRF cookie (the browser's own, when it has a good one)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not _valid_login_csrf(runtime, token):
        token = _new_login_csrf(runtime)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"next": next, "username": username, "error": error, "login_csrf": token},
        status_code=status,
    )
    _set_cookie(response, runtime, LOGIN_CSRF_COOKIE, token, max_age=None)
    # A sign-in form with a security token: neither cached nor framed by another site.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _home(user: SignedIn) -> str:
    return HOME.get(user.role, "/")


def _lifetime(runtime: Runtime) -> timedelta:
    return timedelta(hours=runtime.settings.session_hours)


def _cookie_flags(runtime: Runtime) -> dict[str, Any]:
    return {
        "path": "/",
        "httponly": True,
        "samesite": "lax",
        "secure": runtime.settings.secure_cookies,
    }


def _set_cookie(
    response: Response, runtime: Runtime, name: str, value: str, *, max_age: timedelta | None
) -> None:
    seconds = int(max_age.total_seconds()) if max_age is not None else None
    response.set_cookie(name, value, max_age=seconds, **_cookie_flags(runtime))
