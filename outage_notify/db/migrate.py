"""Build and check the schema only by running Alembic, the same way everywhere.

Alembic is imported only where it runs: a one-shot command on a database already at head
recognises it by comparing alembic_version with the revision ids written in the migration
files (read, not imported), which costs milliseconds instead of loading Alembic, the migration
scripts and env.py. Whenever that comparison is not a clear "at head", Alembic decides.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from outage_notify import paths
from outage_notify.errors import Refusal

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config(str(paths.ALEMBIC_INI))
    config.set_main_option("script_location", str(paths.MIGRATIONS))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


# Objects in a PostgreSQL database that no model describes, on purpose: PostGIS's own table,
# and the customers' point column with its GiST index (migration 0004 makes them in SQL).
# Autogenerate and the models-match-migrations test must neither drop nor report them.
POSTGIS_TABLES = frozenset({"spatial_ref_sys"})
DATABASE_ONLY = frozenset(
    {("column", "customers", "geom"), ("index", "customers", "ix_customers_geom")}
)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object | None
) -> bool:
    """Alembic's include_object hook: skips what only the database has on purpose."""
    if not reflected or compare_to is not None:
        return True
    if type_ == "table":
        return name not in POSTGIS_TABLES
    table = getattr(getattr(obj, "table", None), "name", None)
    return (type_, table, name) not in DATABASE_ONLY


def upgrade(database_url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


def bring_to_head(engine: Engine, database_url: str) -> bool:
    """Alembic's upgrade to head, skipped when the database is clearly there already.
    Returns whether Alembic ran."""
    if _clearly_at_head(engine):
        return False
    upgrade(database_url)
    return True


class SchemaBehind(Refusal):
    """The database is not at this version's schema and this process may not migrate it."""


def require_head(engine: Engine) -> None:
    """Refuses a database not at head, for processes that never migrate (workers)."""
    # Alembic decides when the quick look cannot: a file it could not read, no version table.
    if _clearly_at_head(engine) or at_head(engine):
        return
    raise SchemaBehind(
        f"the database schema is at {current_revision(engine) or 'nothing'}, this version "
        f"needs {head_revision()}: run `outage-notify db upgrade` first"
    )


def _clearly_at_head(engine: Engine) -> bool:
    """The version table names exactly the heads of the migration files, read without
    loading Alembic."""
    heads = script_heads()
    return bool(heads) and recorded_revisions(engine) == heads


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def at_head(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def recorded_revisions(engine: Engine) -> frozenset[str] | None:
    """The revisions the database says it is at; None when it has no alembic_version table
    (a new database) or cannot be asked."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return frozenset(rows)
    except DBAPIError:
        return None


def script_heads(versions: Path | None = None) -> frozenset[str] | None:
    """The head revision ids of the migration files, read with the parser, never run.
    None when a file does not state its ids as plain literals: Alembic must then decide."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((versions or paths.MIGRATIONS / "versions").glob("*.py")):
        if path.name.startswith(("__init__", ".#")):
            continue  # Alembic skips these too
        ids = _revision_ids(path)
        if ids is None:
            return None
        revision, down_revisions = ids
        revisions.add(revision)
        parents.update(down_revisions)
    heads = frozenset(revisions - parents)
    return heads or None


def _revision_ids(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """(revision, down revisions) from a migration file's module-level assignments."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    values: dict[str, object] = {}
    for node in tree.body:
        target, value = _assignment(node)
        if target in ("revision", "down_revision") and value is not None:
            try:
                values[target] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, RecursionError):
                return None  # not a plain literal: only running the file would tell
    revision, down = values.get("revision"), values.get("down_revision")
    if not isinstance(revision, str):
        return None
    if down is None:
        return revision, ()
    if isinstance(down, str):
        return revision, (down,)
    if isinstance(down, tuple | list) and all(isinstance(d, str) for d in down):
        return revision, tuple(down)
    return None


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
    ):
        return node.targets[0].id, node.value
    return None, None
