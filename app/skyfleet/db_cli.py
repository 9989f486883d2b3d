"""`skyfleet db ...`: Flask-Migrate's commands, with an `upgrade` that backs the database up first.

When migrations are pending (or with --backup) and the database already has a schema, `upgrade` takes a
consistent backup into [backup] dir (backup/preupgrade.py) and prints `database backup: PATH` before migrating. The
migrations run in one transaction (migrations/env.py), so a failing one leaves the database as it was:
exit code 1, the error and the backup's path on stderr. Alembic's own lines ("Running upgrade ...")
stay as they are: the Ansible role reads them to report a change.
"""
from __future__ import annotations

import sys

import click
from alembic import command
from alembic.script import ScriptDirectory
from flask import current_app, g
from flask.cli import with_appcontext
from flask_migrate.cli import db as migrate_db

from .backup import preupgrade, schema
from .backup.errors import BackupError
from .extensions import app_settings, db

EXIT_FAILED = 1


@click.command("upgrade")
@click.option("-d", "--directory", default=None, help="Migration script directory (default: skyfleet's own).")
@click.option("--sql", is_flag=True, help="Don't touch the database: print the SQL instead (no backup).")
@click.option("--tag", default=None, help='Arbitrary "tag" name for custom env.py scripts.')
@click.option("-x", "--x-arg", multiple=True, help="Additional arguments consumed by custom env.py scripts.")
@click.option("--backup", "backup_always", is_flag=True,
              help="Back an existing database up even when nothing is pending (Ansible does at each new release).")
@click.argument("revision", default="head")
@with_appcontext
def upgrade(directory, sql, tag, x_arg, backup_always, revision) -> None:
    """Upgrade the database to a later revision, backed up first; a failed migration changes nothing."""
    config = current_app.extensions["migrate"].migrate.get_config(
        directory or getattr(g, "directory", None), x_arg=x_arg or getattr(g, "x_arg", None))
    if sql:
        command.upgrade(config, revision, sql=True, tag=tag)
        return
    backup = _backup_first(ScriptDirectory.from_config(config), revision, backup_always)
    try:
        command.upgrade(config, revision, tag=tag)
    except Exception as exc:  # noqa: BLE001 - any failure of a migration is reported the same way
        db.session.remove()
        click.echo(f"skyfleet db upgrade failed: {exc}", err=True)
        where = f"; backup: {backup}" if backup else " (it had no schema yet, so no backup was taken)"
        click.echo(f"the database is as it was before{where}", err=True)
        sys.exit(EXIT_FAILED)


def _backup_first(script: ScriptDirectory, revision: str, always: bool):
    with db.engine.connect() as conn:
        heads = schema.current_heads(conn)
    if not heads or not (always or schema.is_pending(script, heads, revision)):
        return None
    try:
        path = preupgrade.take(app_settings(), schema.label(heads))
    except (BackupError, OSError) as exc:
        click.echo(f"skyfleet db upgrade: no migration run, the backup before it failed: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"database backup: {path}")
    return path


db_cli = click.Group(migrate_db.name, help="Database migrations (Flask-Migrate); `upgrade` backs up first.",
                     params=migrate_db.params, callback=migrate_db.callback,
                     commands={**migrate_db.commands, "upgrade": upgrade})
