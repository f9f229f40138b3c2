"""`outage-notify user …`, run as an administrator runs it: the password from stdin or asked
on the terminal, never printed; disable, enable and a new password end the user's sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from outage_notify import cli
from outage_notify.auth.sessions import find_session, open_session
from outage_notify.auth.users import AccountDisabled, WrongCredentials, authenticate, find_user
from outage_notify.config import Settings, get_settings
from outage_notify.db.models import User
from outage_notify.runtime import Runtime
from tests.test_cli import imported_packages, run

PASSWORD = "a long enough password"
NOW = datetime.now(UTC)


def create(database_url: str, username: str, *args: str, password: str = PASSWORD) -> tuple:
    done = run(
        database_url,
        *("user", "create", username, *args, "--password-stdin"),
        stdin=password + "\n",
    )
    return done.returncode, done.stdout, done.stderr


def runtime_of(database_url: str) -> Runtime:
    return Runtime.build(Settings(database_url=database_url, dispatcher_enabled=False))


def role_that_signs_in(database_url: str, username: str, password: str = PASSWORD) -> str:
    runtime = runtime_of(database_url)
    try:
        with runtime.reading() as session:
            return authenticate(session, username=username, password=password).role
    finally:
        runtime.close()


def test_user_create_reads_the_password_from_stdin_and_prints_nothing_secret(
    database_url: str,
) -> None:
    code, out, err = create(database_url, "Maija", "--role", "agent")
    assert code == 0, err
    assert out == "created agent maija\n"
    assert PASSWORD not in out + err
    assert role_that_signs_in(database_url, "maija") == "agent"
    runtime = runtime_of(database_url)
    with runtime.reading() as session:
        stored = session.scalars(select(User)).one()
    runtime.close()
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("--role", "agent"), "too short", "password must be at least 12 characters"),
        (("--role", "agent"), "", "password must be at least 12 characters"),
    ],
)
def test_a_bad_password_fails_with_one_line(
    database_url: str, args: tuple[str, ...], password: str, message: str
) -> None:
    code, out, err = create(database_url, "maija", *args, password=password)
    assert (code, out) == (1, "")
    assert err == f"outage-notify: {message}\n"


def test_a_taken_or_bad_username_fails_with_one_line(database_url: str) -> None:
    assert create(database_url, "maija", "--role", "agent")[0] == 0
    code, _, err = create(database_url, "MAIJA", "--role", "admin")
    assert (code, err) == (1, "outage-notify: username 'maija' is taken\n")
    code, _, err = create(database_url, "maija virtanen", "--role", "admin")
    assert (code, err) == (
        1,
        "outage-notify: username must not contain spaces or control characters\n",
    )


def test_a_bad_role_or_a_missing_one_is_bad_usage(database_url: str) -> None:
    assert create(database_url, "maija", "--role", "root")[0] == 2
    assert create(database_url, "maija")[0] == 2


def test_with_no_terminal_the_password_must_come_from_stdin(database_url: str) -> None:
    done = run(database_url, "user", "create", "maija", "--role", "agent", stdin="")
    assert done.returncode == 1
    assert done.stderr == (
        "outage-notify: no terminal to ask for the password: use --password-stdin\n"
    )
    empty = run(
        database_url, "user", "create", "maija", "--role", "agent", "--password-stdin", stdin=""
    )
    assert empty.stderr == "outage-notify: --password-stdin: stdin is empty\n"


def test_on_a_terminal_the_password_is_asked_twice_without_echo(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OUTAGE_NOTIFY_DATABASE_URL", database_url)
    get_settings.cache_clear()  # the settings are read from the environment once a process
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter([PASSWORD, PASSWORD + "!", PASSWORD, PASSWORD])
    prompts: list[str] = []

    def getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", getpass)
    try:
        assert cli.main(["user", "create", "anna", "--role", "operator"]) == 1
        assert "the two passwords differ" in capsys.readouterr().err
        assert cli.main(["user", "create", "anna", "--role", "operator"]) == 0
    finally:
        get_settings.cache_clear()
    assert prompts == ["Password (12 characters or more): ", "Again: "] * 2
    assert PASSWORD not in capsys.readouterr().out
    assert role_that_signs_in(database_url, "anna") == "operator"


def test_disable_enable_and_a_new_password(database_url: str) -> None:
    assert create(database_url, "maija", "--role", "agent")[0] == 0
    runtime = runtime_of(database_url)
    with runtime.transaction() as session:
        user = find_user(session, username="maija")
        assert user is not None
        _, token = open_session(session, user=user, now=NOW, lifetime=timedelta(hours=1))

    disabled = run(database_url, "user", "disable", "maija")
    assert (disabled.returncode, disabled.stdout) == (0, "disabled maija; 1 session ended\n")
    with runtime.reading() as session:
        assert find_session(session, token=token, now=NOW) is None  # signed out at once
        with pytest.raises(AccountDisabled):
            authenticate(session, username="maija", password=PASSWORD)

    enabled = run(database_url, "user", "enable", "maija")
    assert (enabled.returncode, enabled.stdout) == (0, "enabled maija\n")
    assert role_that_signs_in(database_url, "maija") == "agent"

    new = run(
        database_url, "user", "password", "maija", "--password-stdin", stdin="new pass phrase\n"
    )
    assert (new.returncode, new.stdout) == (0, "password set for maija; their sessions ended\n")
    assert role_that_signs_in(database_url, "maija", "new pass phrase") == "agent"
    with runtime.reading() as session, pytest.raises(WrongCredentials):
        authenticate(session, username="maija", password=PASSWORD)
    runtime.close()


@pytest.mark.parametrize(
    "args",
    [("disable", "nobody"), ("enable", "nobody"), ("password", "nobody", "--password-stdin")],
)
def test_an_unknown_user_fails_with_one_line(database_url: str, args: tuple[str, ...]) -> None:
    done = run(database_url, "user", *args, stdin=PASSWORD + "\n")
    assert (done.returncode, done.stderr) == (1, "outage-notify: no user 'nobody'\n")


def test_user_create_loads_only_the_database_and_the_hash(database_url: str) -> None:
    loaded = imported_packages(
        database_url,
        "user",
        "create",
        "maija",
        "--role",
        "agent",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert "argon2" in loaded
    assert (
        loaded & {"fastapi", "starlette", "uvicorn", "jinja2", "shapely", "numpy", "twilio"}
        == set()
    )
