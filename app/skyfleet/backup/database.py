"""A consistent copy of the database, and putting one back.

SQLite: the online backup API (a consistent snapshot while the services keep writing).
PostgreSQL: `pg_dump --format=custom`, restored with `pg_restore --clean --if-exists` in one transaction.
The password travels in PGPASSWORD, never on a command line.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import URL, make_url

from ..models import Base
from .errors import BackupError

SUFFIXES = {"sqlite": ".sqlite", "postgresql": ".pgdump"}


def dialect(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in SUFFIXES:
        raise BackupError(f"cannot back up a {name} database (only SQLite and PostgreSQL)")
    return name


def suffix(url: str) -> str:
    return SUFFIXES[dialect(url)]


def sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def exists(url: str) -> bool:
    """False for a SQLite file that is not there yet (opening it would create it)."""
    return dialect(url) != "sqlite" or sqlite_path(url).is_file()


def dump(url: str, dest: Path) -> None:
    """Write a consistent copy of the database at `url` into the (existing, private) file `dest`."""
    if dialect(url) == "sqlite":
        _sqlite_copy(sqlite_path(url), dest, journal_mode="DELETE")  # the copy is one self-contained file
    else:
        _pg("pg_dump", url, ["--format=custom", "--no-password", f"--file={dest}"])


def restore(url: str, src: Path) -> None:
    """Replace the database at `url` by the copy `src` (made by `dump` for the same dialect)."""
    if dialect(url) == "sqlite":
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(src, target, journal_mode="WAL")
    else:
        _pg("pg_restore", url, ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                                "--exit-on-error", "--no-password", str(src)])


def _sqlite_copy(src: Path, dest: Path, journal_mode: str) -> None:
    if not Path(src).is_file():
        raise BackupError(f"SQLite database {src} does not exist")
    source = sqlite3.connect(str(src))
    try:
        target = sqlite3.connect(str(dest))
        try:
            source.backup(target)
            target.execute(f"PRAGMA journal_mode={journal_mode}")
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy SQLite database {src} to {dest}: {exc}") from None
    finally:
        source.close()


def _libpq(url: str) -> tuple:
    """(libpq URI without password, environment with PGPASSWORD) for pg_dump and pg_restore."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _pg(tool: str, url: str, args: list) -> None:
    uri, env = _libpq(url)
    try:
        done = subprocess.run([tool, f"--dbname={uri}", *args], env=env, capture_output=True, text=True)
    except OSError as exc:
        raise BackupError(f"cannot run {tool}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}"
        raise BackupError(f"{tool} failed for {shown(url)}: {detail}")


def has_data(url: str) -> bool:
    """Whether any skyfleet table of the database at `url` holds a row."""
    if not exists(url):
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            return any(conn.execute(select(1).select_from(table).limit(1)).first() is not None
                       for table in Base.metadata.sorted_tables if table.name in present)
    finally:
        engine.dispose()
