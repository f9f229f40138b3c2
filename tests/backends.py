"""The databases the tests run on: SQLite files or PostgreSQL databases in a throwaway cluster.

Either way the schema is built once per session by running the Alembic migrations into a
template, and each test gets a fresh copy of it (a file copy; CREATE DATABASE … TEMPLATE).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, MetaData, create_engine, make_url, select, text

from outage_notify.db.migrate import POSTGIS_TABLES, upgrade
from tests.postgres import TemporaryCluster, in_memory_parent

BACKENDS = ("sqlite", "postgresql")


class Backend(Protocol):
    name: str

    def schema_url(self) -> str:
        """The template at head, built on first use; tests copy it and never change it."""
        ...

    def create(self, *, like: str | None, folder: Path | None = None) -> str:
        """A new database: a copy of the one at `like` (its users must have closed their
        connections), or empty when `like` is None. Returns its URL. A SQLite file goes in
        `folder` when given."""
        ...

    def drop(self, url: str) -> None: ...

    def close(self) -> None: ...


class SqliteBackend:
    name = "sqlite"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="outage-notify-sqlite-"))
        self.counter = itertools.count(1)
        self._schema: str | None = None

    def schema_url(self) -> str:
        if self._schema is None:
            self._schema = self.create(like=None)
            upgrade(self._schema)
        return self._schema

    def create(self, *, like: str | None, folder: Path | None = None) -> str:
        # Each database in a folder of its own: a generated secret key file is made beside it.
        if folder is None:
            folder = self.folder / f"t_{next(self.counter)}"
            folder.mkdir()
        path = folder / "outage_notify.db"
        if like is not None:
            shutil.copy(_sqlite_path(like), path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        path = _sqlite_path(url)
        for leftover in (path, *path.parent.glob(path.name + "-*")):  # -wal, -shm
            leftover.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class PostgresBackend:
    """One cluster per session, in memory when there is room (in_memory_parent). Each test gets
    a database copied from the migrated template: measured here (fsync off) on /dev/shm a copy
    takes 15-30 ms and its drop 7 ms (STRATEGY FILE_COPY; WAL_LOG is no faster at this size),
    on an ext4 /tmp 45 ms when the disk is idle and up to 400 ms when it is busy; TRUNCATE of
    every table took 40 ms and would not reset what a test changed in the schema or sequences.
    The next copy is made ahead while a test runs: with a 50 ms test, a test then waited 3-13 ms
    for its database instead of 28-44 ms (measured on this busy machine)."""

    name = "postgresql"

    def __init__(self) -> None:
        self.cluster = TemporaryCluster(parent=in_memory_parent()).start()
        # Connections kept for the session's CREATE and DROP DATABASE statements: one for the
        # tests' thread, one for the thread that makes the next copy ahead.
        self.admin: Engine = create_engine(
            self.cluster.url(), isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=0
        )
        self.counter = itertools.count(1)
        self._schema: str | None = None
        self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="next-database")
        self._spare: Future[str] | None = None

    def schema_url(self) -> str:
        if self._schema is None:
            self._schema = self.create(like=None)
            upgrade(self._schema)
        return self._schema

    def create(self, *, like: str | None, folder: Path | None = None) -> str:
        if like is None or like != self._schema:
            return self._create(like)
        # Nearly every test asks for a copy of the schema: the next one is made while this
        # test runs, so a test waits for its database only when the previous was very short.
        spare = self._spare or self._ahead.submit(self._create, like)
        self._spare = self._ahead.submit(self._create, like)
        return spare.result()

    def _create(self, like: str | None) -> str:
        name = f"t_{next(self.counter)}"
        if like is None:
            statement = f"CREATE DATABASE {name}"
        else:
            statement = f"CREATE DATABASE {name} TEMPLATE {_pg_name(like)} STRATEGY FILE_COPY"
        with self.admin.connect() as conn:
            conn.execute(text(statement))
        return self.cluster.url(name)

    def drop(self, url: str) -> None:
        # FORCE ends connections a test left open, so one leak cannot block the drop.
        with self.admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {_pg_name(url)} WITH (FORCE)"))

    def close(self) -> None:
        self._ahead.shutdown(wait=True, cancel_futures=True)
        self.admin.dispose()
        self.cluster.stop()


class Databases:
    """The databases one test makes, each dropped when the test ends. On SQLite each is a file
    in the test's tmp_path (the first one at tmp_path/outage_notify.db, as a deployment's)."""

    def __init__(self, backend: Backend, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.made: list[str] = []
        self.count = 0

    def new(self) -> str:
        """A fresh database at head."""
        return self.copy(self.backend.schema_url())

    def empty(self) -> str:
        """A database with nothing in it, not even Alembic's version table."""
        return self._made(self.backend.create(like=None, folder=self._next_folder()))

    def copy(self, url: str) -> str:
        """A copy of the database at `url`; whoever used it must have closed its connections."""
        return self._made(self.backend.create(like=url, folder=self._next_folder()))

    def drop(self, url: str) -> None:
        self.backend.drop(url)
        if url in self.made:
            self.made.remove(url)

    def drop_all(self) -> None:
        while self.made:
            self.drop(self.made[-1])

    def _made(self, url: str) -> str:
        self.made.append(url)
        return url

    def _next_folder(self) -> Path:
        self.count += 1
        if self.count == 1:
            return self.folder
        folder = self.folder / f"db{self.count}"
        folder.mkdir()
        return folder


def open_backend(name: str) -> Backend:
    if name == "postgresql":
        return PostgresBackend()
    if name == "sqlite":
        return SqliteBackend()
    raise ValueError(f"unknown backend {name!r}: one of {', '.join(BACKENDS)}")


def dump(engine: Engine) -> str:
    """Everything the database holds as text, for tests that look for what it must not keep:
    SQLite's own dump; elsewhere every row of every table (PostGIS's reference data aside)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            return "\n".join(raw.driver_connection.iterdump())  # type: ignore[union-attr]
        finally:
            raw.close()
    import geoalchemy2  # noqa: F401  (teaches reflection PostGIS's geometry type)

    metadata = MetaData()
    metadata.reflect(engine, only=lambda name, _: name not in POSTGIS_TABLES)
    with engine.connect() as conn:
        return "\n".join(
            "\t".join(map(str, row))
            for table in metadata.sorted_tables
            for row in conn.execute(select(table))
        )


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise ValueError(f"not a SQLite file: {url}")
    return Path(database)


def _pg_name(url: str) -> str:
    database = make_url(url).database
    if not database or not database.startswith("t_") or not database[2:].isdigit():
        raise ValueError(f"not a test database: {url}")  # names are spliced into DDL
    return database
