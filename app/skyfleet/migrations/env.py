"""Alembic environment for `skyfleet db ...` (Flask-Migrate): online and offline migrations."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

migrate_ext = current_app.extensions["migrate"]
engine = migrate_ext.db.engine
target_metadata = migrate_ext.db.metadata
config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def _skip_empty_autogenerate(ctx, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    args = dict(migrate_ext.configure_args)
    args.setdefault("process_revision_directives", _skip_empty_autogenerate)
    # SQLite cannot ALTER most things: batch mode rebuilds tables, so later migrations work there too.
    args.setdefault("render_as_batch", True)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            _run_sqlite(connection, args)
        else:
            context.configure(connection=connection, target_metadata=target_metadata, **args)
            with context.begin_transaction():  # PostgreSQL: all pending migrations in one transaction
                context.run_migrations()


def _run_sqlite(connection, args) -> None:
    """All pending migrations in one transaction, so a failing one leaves the database as it was.

    pysqlite opens transactions only before INSERT/UPDATE/DELETE, so DDL would commit statement by
    statement: the driver is put in autocommit mode and the transaction begun by hand instead (the
    SQLAlchemy pysqlite "transactional DDL" recipe), for this connection only.
    """
    # Batch mode rebuilds a table by dropping it: with foreign keys enforced, that drop would
    # cascade into every table that references it (a camera rebuild would delete all assets).
    # The pragma is a no-op inside a transaction, so it comes first.
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    driver = connection.connection.driver_connection
    saved = driver.isolation_level
    driver.isolation_level = None
    try:
        connection.exec_driver_sql("BEGIN")
        # An open transaction is the caller's to end: alembic neither commits nor rolls back.
        context.configure(connection=connection, target_metadata=target_metadata, transactional_ddl=True, **args)
        with context.begin_transaction():
            context.run_migrations()
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left rows whose references are missing: {broken[:5]}")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        driver.isolation_level = saved
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
