"""Engine tuning shared by the web app and the camera-side services."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine


def tune_engine(engine: Engine, busy_timeout_ms: int = 10000) -> None:
    """SQLite: WAL (readers never block the writer), durable commits, a busy timeout, foreign keys on."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=FULL")  # WAL + FULL: a commit is on disk when it returns
        cur.close()


def session_factory(database_url: str, busy_timeout_ms: int = 10000):
    """A plain SQLAlchemy session factory (camera-side services run without Flask)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    options = {} if database_url.startswith("sqlite") else {"pool_pre_ping": True}
    engine = create_engine(database_url, **options)
    tune_engine(engine, busy_timeout_ms)
    return sessionmaker(engine, expire_on_commit=False)
