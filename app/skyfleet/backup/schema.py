"""Which schema revision a database is at, and what this skyfleet's migrations know."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection

from . import database

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")
Heads = Optional[Tuple[str, ...]]  # None: no schema yet (no alembic_version table)


def current_heads(conn: Connection) -> Heads:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return tuple(MigrationContext.configure(conn).get_current_heads())


def revision_of(url: str) -> Optional[str]:
    """The schema revision of the database at `url` ("0006"), or None when it has no schema."""
    if not database.exists(url):
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            heads = current_heads(conn)
    finally:
        engine.dispose()
    return label(heads) if heads else None


def label(heads: Tuple[str, ...]) -> str:
    return "+".join(sorted(heads))


def scripts(directory: str = MIGRATIONS_DIR) -> ScriptDirectory:
    return ScriptDirectory(directory)


def head(script: ScriptDirectory) -> str:
    return label(tuple(script.get_heads()))


def is_pending(script: ScriptDirectory, heads: Heads, target: str = "head") -> bool:
    """Whether upgrading a database at `heads` to `target` would run a migration."""
    lower = label(heads) if heads else "base"
    try:
        return any(True for _ in script.iterate_revisions(target, lower))
    except CommandError:
        return True  # a target alembic cannot walk to from here: let the upgrade itself say why


def knows(script: ScriptDirectory, revision: str) -> bool:
    try:
        return all(script.get_revision(rev) is not None for rev in revision.split("+"))
    except CommandError:
        return False
