"""`skyfleet backup ...`: an archive of this host (backup/archive.py) and putting one back.

A plain click group (no app context), like `skyfleet storage`: it needs the settings and the database,
not the web app. Exit codes: 0 done, 1 failed (nothing written when the archive is unreadable),
2 bad settings, 3 refused (the database has data and no --yes, a newer or foreign schema, another
database kind).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import click
from sqlalchemy.exc import SQLAlchemyError

from . import settings as settings_mod
from .backup import archive, database, schema
from .backup.errors import BackupError
from .housekeeping.disk import size_text

EXIT_FAILED = 1
EXIT_CONFIG_ERROR = 2
EXIT_REFUSED = 3

backup_cli = click.Group("backup", help="Backup archives of this host: database, settings, server secret, media.")


def _settings() -> tuple:
    """(settings, the settings file or None)."""
    try:
        settings = settings_mod.load()
    except settings_mod.SettingsError as exc:
        click.echo(f"skyfleet: {exc}", err=True)
        sys.exit(EXIT_CONFIG_ERROR)
    path = os.environ.get(settings_mod.CONFIG_ENV)
    return settings, Path(path).resolve() if path else None


def _fail(message: str, code: int = EXIT_FAILED):
    click.echo(f"skyfleet backup: {message}", err=True)
    sys.exit(code)


@backup_cli.command("create")
@click.option("--media", is_flag=True, help="Include the storage folder (images and night products).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Archive file to write (default: [backup] dir/skyfleet-backup-HOST-TIME.tar).")
def backup_create(media: bool, output: Optional[Path]) -> None:
    """Write an archive (0600) of the database, the settings file and the server secret."""
    settings, settings_file = _settings()
    try:
        path = archive.create(settings, settings_file, media=media, output=output)
    except (BackupError, OSError, SQLAlchemyError) as exc:
        _fail(str(exc))
    click.echo(f"backup: {path} ({size_text(path.stat().st_size)})")


@backup_cli.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that already has data.")
def backup_restore(file: Path, yes: bool) -> None:
    """Put an archive back: database, server secret, media if inside, settings file ($SKYFLEET_CONFIG).

    Stop the services first and run it as the service user, so the files keep their owner. An archive
    of an older schema asks for `skyfleet db upgrade` afterwards."""
    settings, settings_file = _settings()
    url = settings.database_url
    scripts = schema.scripts()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".restore-") as work:
        try:
            unpacked = archive.unpack(file, Path(work))
        except BackupError as exc:
            _fail(f"{exc}; nothing was restored")
        try:
            _refuse_unless_fits(unpacked, url, scripts, yes)
        except (BackupError, SQLAlchemyError) as exc:
            _fail(f"cannot check the database: {exc}; nothing was restored")
        try:
            database.restore(url, unpacked.path("database"))
            click.echo(f"restored database ({unpacked.revision}) into {database.shown(url)}")
            for line in archive.restore_files(unpacked, settings, settings_file):
                click.echo(f"restored {line}")
        except (BackupError, OSError, SQLAlchemyError) as exc:
            _fail(str(exc))
    current = schema.head(scripts)
    if unpacked.revision != current:
        click.echo(f"the archive's schema is {unpacked.revision}, this skyfleet's is {current}: "
                   f"run `skyfleet db upgrade` before starting the services")


def _refuse_unless_fits(unpacked: archive.Unpacked, url: str, scripts, yes: bool) -> None:
    target = database.dialect(url)
    if unpacked.dialect != target:
        _fail(f"the archive holds a {unpacked.dialect} database, this host uses {target}: nothing was restored",
              EXIT_REFUSED)
    if not unpacked.revision or not schema.knows(scripts, unpacked.revision):
        _fail(f"the archive's schema revision {unpacked.revision} is newer than this skyfleet knows (its newest: "
              f"{schema.head(scripts)}): install the skyfleet that made it, or a newer one; nothing was restored",
              EXIT_REFUSED)
    if not yes and database.has_data(url):
        _fail(f"the database {database.shown(url)} already has data, which the restore would replace: "
              f"run again with --yes to replace it; nothing was restored", EXIT_REFUSED)
