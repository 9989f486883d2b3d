"""A database of its own for a second party in a test (a camera host beside its remote).

On SQLite that is a file. With SKYFLEET_TEST_DATABASE_URL set it is a fresh PostgreSQL database on the
same server, because the remote already uses the test database and both have the same tables.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text


def postgres_server_url() -> str | None:
    return os.environ.get("SKYFLEET_TEST_DATABASE_URL")


def _run_on_server(statement: str) -> None:
    engine = create_engine(postgres_server_url(), isolation_level="AUTOCOMMIT")  # CREATE/DROP DATABASE
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def own_database_url(sqlite_file: Path) -> str:
    if not postgres_server_url():
        return f"sqlite:///{sqlite_file}"
    server = make_url(postgres_server_url())
    name = f"{server.database}_{uuid.uuid4().hex[:12]}"
    _run_on_server(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


def drop_own_database(url: str) -> None:
    """Nothing to do for a SQLite file (it goes with the test's tmp_path)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        _run_on_server(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
