"""The `outage-notify` command line of CONTRACT.md.

Exit codes: 0 success, 1 failure, 2 bad usage; errors go to stderr on one line.
Commands import what they need inside themselves, and the one-shot ones open only the database
(db.database.Database), not the whole application (Runtime): `apikey create` does not pay for
loading the web framework, the providers' SDKs and the geometry stack. Every command that opens
the database first brings its schema to head: a command run on a fresh machine works without a
separate step (on a database already at head that check does not load Alembic).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outage_notify.auth.roles import ROLES
from outage_notify.errors import Refusal
from outage_notify.logs import configure as configure_logging

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from outage_notify.config import Settings
    from outage_notify.db.database import Database
    from outage_notify.db.models import User
    from outage_notify.matching.grid import LineRejection

log = logging.getLogger("outage_notify")
PASSWORD_STDIN = "read the password from the first line of stdin instead of asking for it"


class CommandError(Exception):
    """A failure to report on one line, exit code 1."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_usage(sys.stderr)
        return 2
    configure_logging()
    from outage_notify.config import get_settings  # pydantic: not for --help or bad usage

    try:
        settings = get_settings()
    except ValueError as exc:
        print(f"outage-notify: configuration: {_one_line(exc)}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(args, settings) or 0)
    except (CommandError, Refusal) as exc:
        print(f"outage-notify: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outage-notify", description=__doc__)
    sub = parser.add_subparsers(title="commands")

    serve = sub.add_parser("serve", help="migrate, then serve API + pages + workers + clock")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="serve only: planning and delivery are left to `outage-notify worker` processes",
    )
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="plan and deliver (no HTTP); runs the sweeps while it holds the clock's lease",
    )
    worker.add_argument("--once", action="store_true", help="plan and send what is due, then exit")
    worker.set_defaults(handler=cmd_worker)

    job = sub.add_parser("run-job", help="run one scheduled job once, now; --list names them")
    job.add_argument("name", nargs="?")
    job.add_argument("--list", action="store_true", help="list the jobs, their periods and aims")
    job.set_defaults(handler=cmd_run_job)

    db = sub.add_parser("db", help="database schema").add_subparsers(title="db commands")
    db.add_parser("upgrade", help="Alembic upgrade to head").set_defaults(handler=cmd_db_upgrade)

    customers = sub.add_parser("customers", help="customer data").add_subparsers(title="customers")
    imp = customers.add_parser("import", help="upsert customers from CSV or GeoJSON")
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=cmd_customers_import)
    exp = customers.add_parser("export", help="print all held on one customer, as JSON")
    exp.add_argument("customer_id")
    exp.set_defaults(handler=cmd_customers_export)
    erase = customers.add_parser("erase", help="remove a customer, keep a hashed opt-out")
    erase.add_argument("customer_id")
    erase.set_defaults(handler=cmd_customers_erase)

    grid = sub.add_parser("grid", help="where the feeders run").add_subparsers(title="grid")
    lines = grid.add_parser(
        "import", help="replace the stored feeder lines with a GeoJSON file's (full import)"
    )
    lines.add_argument("file", type=Path)
    lines.set_defaults(handler=cmd_grid_import)

    apikey = sub.add_parser("apikey", help="API keys").add_subparsers(title="apikey commands")
    create = apikey.add_parser("create", help="print a new key, once; only its hash is kept")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", required=True)
    create.set_defaults(handler=cmd_apikey_create)

    _user_commands(sub)

    vapid = sub.add_parser("vapid", help="Web Push keys").add_subparsers(title="vapid commands")
    vapid.add_parser("generate", help="print a new VAPID key pair").set_defaults(handler=cmd_vapid)

    demo = sub.add_parser("demo", help="load fixtures/ and play the storm scenario")
    demo.add_argument("--pace", type=float, default=0.0, help="seconds to pause between steps")
    demo.add_argument(
        "--allow-real-providers",
        action="store_true",
        help="play even though a real SMS provider is configured (it would text the demo town)",
    )
    demo.set_defaults(handler=cmd_demo)
    return parser


def _user_commands(sub: Any) -> None:
    user = sub.add_parser("user", help="people who sign in to the pages").add_subparsers(
        title="user commands"
    )
    create = user.add_parser(
        "create", help="a new operator, agent or admin; the password is asked for, never shown"
    )
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN)
    create.set_defaults(handler=cmd_user_create)
    password = user.add_parser("password", help="set a user's password (signs them out everywhere)")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN)
    password.set_defaults(handler=cmd_user_password)
    disable = user.add_parser("disable", help="the user can no longer sign in; signed out now")
    disable.add_argument("username")
    disable.set_defaults(handler=cmd_user_disable)
    enable = user.add_parser("enable", help="a disabled user may sign in again")
    enable.add_argument("username")
    enable.set_defaults(handler=cmd_user_enable)


# ---- commands --------------------------------------------------------------------------------


def cmd_db_upgrade(_: argparse.Namespace, settings: Settings) -> int:
    with _database(settings):
        pass  # opening it brought the schema to head
    print("database at head", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from outage_notify.app import create_app
    from outage_notify.runtime import Runtime

    if args.no_worker:
        settings = settings.model_copy(update={"dispatcher_enabled": False})
    app = create_app(runtime=Runtime.build(settings, migrate=True))
    # Our own access log (outage_notify.logs) replaces uvicorn's, which prints query strings;
    # log_config=None keeps uvicorn's lines in the format configured above.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        log_config=None,
        access_log=False,
        proxy_headers=True,
        # SIGTERM then stops the server within this many seconds even with a request in flight.
        timeout_graceful_shutdown=30,
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.runtime import Runtime

    runtime = Runtime.build(settings)  # never migrates: a schema behind is refused
    if args.once:
        sent = runtime.drain(timeout=3600)
        print(f"sent {sent}", file=sys.stderr)
        runtime.close()
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runtime.start_workers()
    if settings.scheduler_enabled:
        runtime.scheduler.start()
    log.info("worker %s running; Ctrl-C stops it", runtime.dispatcher.worker_id)
    stop.wait()
    runtime.close()
    return 0


def cmd_run_job(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the job whether or not another process holds the clock's lease: it is an
    operator's action, and jobs are idempotent, so it may overlap the scheduler's run."""
    from outage_notify.clock import SYSTEM_CLOCK
    from outage_notify.scheduler.jobs import JOBS, JobContext, owner_id, run_job, with_incidents

    if args.list:
        for each in JOBS.values():
            print(f"{each.name}\tevery {each.period(settings)}\t{each.doc}")
        return 0
    job = JOBS.get(args.name or "")
    if job is None:
        what = f"unknown job {args.name!r}" if args.name else "a job name is needed"
        print(f"outage-notify: {what}; jobs: {', '.join(JOBS)}", file=sys.stderr)
        return 2
    with _database(settings) as database:
        ctx = JobContext(database.sessions, settings, SYSTEM_CLOCK, owner_id("run-job"))
        if job.changes_incidents:  # matching (shapely, numpy) only for the jobs that match
            ctx = with_incidents(ctx, database.engine.dialect.name)
        outcome = run_job(job, ctx)
    print(
        json.dumps(
            {
                "job": outcome.name,
                "ok": outcome.ok,
                "result": outcome.result,
                "error": outcome.error,
                "seconds": round(outcome.seconds, 3),
            },
            sort_keys=True,
        )
    )
    if not outcome.ok:
        raise CommandError(f"job {job.name} failed: {outcome.error}")
    return 0


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    """The database alone, at head: what every one-shot command needs."""
    from outage_notify.db.database import open_database

    with open_database(settings) as database:
        yield database


def cmd_customers_import(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.customers.imports import (
        customer_rules,
        import_customers,
        parse_customer_file,
    )
    from outage_notify.ingest.customers import FileFormatError
    from outage_notify.matching import index_cache
    from outage_notify.timeutil import utcnow

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from exc
    try:
        parsed = parse_customer_file(data, args.file.name, customer_rules(settings))
    except FileFormatError as exc:
        raise CommandError(f"{args.file}: {exc}") from exc
    with _database(settings) as database, database.transaction() as session:
        derived_from = None if settings.territory else index_cache.CustomerIndexCache()
        report = import_customers(session, parsed=parsed, territory_from=derived_from, now=utcnow())
    print(f"created {report.created}, updated {report.updated}, rejected {len(report.rejections)}")
    for rejection in report.rejections:
        where = f"line {rejection.line}" if rejection.line else f"index {rejection.index}"
        who = f" ({rejection.customer_id})" if rejection.customer_id else ""
        print(f"rejected {where}{who}: {rejection.error}")
    for warning in report.warnings:
        print(f"warning: {warning.warning}")
    return 0


def cmd_grid_import(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.matching.grid import MAX_FILE_BYTES, GridFileError, import_lines, parse_lines
    from outage_notify.timeutil import utcnow

    try:
        with args.file.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # one byte over is enough to refuse it
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from exc
    try:
        parsed = parse_lines(data)
    except GridFileError as exc:
        raise CommandError(f"{args.file}: {exc}") from exc
    try:
        with _database(settings) as database, database.transaction() as session:
            report = import_lines(session, parsed=parsed, now=utcnow())
    except GridFileError as exc:  # no line to import: the stored network stays
        _print_line_rejections(parsed.rejections)
        raise CommandError(f"{args.file}: {exc}") from exc
    removed = len(report.removed)
    print(f"imported {report.imported}, removed {removed}, rejected {len(report.rejections)}")
    _print_line_rejections(report.rejections)
    if report.removed:
        print(f"removed, no line in the file: {', '.join(report.removed)}")
    return 0


def _print_line_rejections(rejections: Iterable[LineRejection]) -> None:
    for rejection in rejections:
        who = f" ({rejection.feeder})" if rejection.feeder else ""
        print(f"rejected index {rejection.index}{who}: {rejection.reason}")


def cmd_customers_export(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.customers.service import export_customer, get_customer

    with _database(settings) as database, database.transaction() as session:
        customer = get_customer(session, customer_id=args.customer_id)
        if customer is None:
            raise CommandError(f"no customer {args.customer_id!r}")
        print(json.dumps(export_customer(session, customer=customer), ensure_ascii=False, indent=2))
    return 0


def cmd_customers_erase(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.customers.service import erase_customer, get_customer
    from outage_notify.timeutil import utcnow

    with _database(settings) as database, database.transaction() as session:
        customer = get_customer(session, customer_id=args.customer_id)
        if customer is None:
            raise CommandError(f"no customer {args.customer_id!r}")
        erase_customer(session, customer=customer, hasher=database.hasher, now=utcnow())
    print(f"erased {args.customer_id}", file=sys.stderr)
    return 0


def cmd_apikey_create(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.auth.apikeys import create_key
    from outage_notify.timeutil import utcnow

    with _database(settings) as database:
        try:
            with database.transaction() as session:
                _, key = create_key(session, role=args.role, name=args.name, now=utcnow())
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    print(key)
    return 0


def cmd_user_create(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.auth.users import UserError, check_password, create_user
    from outage_notify.timeutil import utcnow

    try:
        password = check_password(_read_password(args))
        with _database(settings) as database, database.transaction() as session:
            user = create_user(
                session, username=args.username, role=args.role, password=password, now=utcnow()
            )
            name, role = user.username, user.role
    except UserError as exc:
        raise CommandError(str(exc)) from exc
    print(f"created {role} {name}")
    return 0


def cmd_user_password(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.auth.users import UserError, check_password, set_password

    try:
        password = check_password(_read_password(args))
        with _database(settings) as database, database.transaction() as session:
            user = _user(session, args.username)
            set_password(session, user=user, password=password)
    except UserError as exc:
        raise CommandError(str(exc)) from exc
    print(f"password set for {user.username}; their sessions ended")
    return 0


def cmd_user_disable(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.auth.users import disable_user
    from outage_notify.timeutil import utcnow

    with _database(settings) as database, database.transaction() as session:
        user = _user(session, args.username)
        ended = disable_user(session, user=user, now=utcnow())
    print(f"disabled {user.username}; {ended} session{'' if ended == 1 else 's'} ended")
    return 0


def cmd_user_enable(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.auth.users import enable_user

    with _database(settings) as database, database.transaction() as session:
        user = _user(session, args.username)
        enable_user(session, user=user)
    print(f"enabled {user.username}")
    return 0


def _user(session: Session, username: str) -> User:
    from outage_notify.auth.users import find_user

    user = find_user(session, username=username)
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user


def _read_password(args: argparse.Namespace) -> str:
    """From the first line of stdin (--password-stdin), else asked twice on the terminal,
    never echoed: a password given as an argument would sit in the shell's history and in
    every process listing."""
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise CommandError("--password-stdin: stdin is empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the password: use --password-stdin")
    import getpass

    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Again: ") != first:
        raise CommandError("the two passwords differ")
    return first


def cmd_vapid(_: argparse.Namespace, __: Settings) -> int:
    from outage_notify.delivery.channels.vapid import generate_vapid_keys

    private, public = generate_vapid_keys()
    print(f"OUTAGE_NOTIFY_VAPID_PRIVATE_KEY={private}")
    print(f"# application server key for the browser (PushManager.subscribe): {public}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from outage_notify.demo import DemoRefused, play

    try:
        play(settings, pace=args.pace, allow_real_providers=args.allow_real_providers)
    except DemoRefused as exc:
        raise CommandError(str(exc)) from exc
    return 0
