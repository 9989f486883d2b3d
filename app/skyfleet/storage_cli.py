"""`skyfleet storage ...`: housekeeping of the storage folder from the shell and from systemd timers.

`clean-staging` removes what killed or crashed processes left in the staging folder: half-received
uploads (`upload-*.part`) of a gunicorn worker that was killed, set-aside files, the work folders of a
recording or a night build. The web app also cleans at start, but a server that runs for months needs
it periodically: the remote's skyfleet-clean-staging.timer runs this command every hour.

A plain click group (no app context): it needs the settings only, not the database, so it also runs
where the web app could not start.  What counts as a leftover: core/staging.py.
"""
from __future__ import annotations

import sys
import time

import click

from . import settings as settings_mod
from .core.staging import STALE_SECONDS, leftovers, remove

EXIT_SOME_NOT_REMOVED = 1

storage_cli = click.Group("storage", help="Housekeeping of the storage folder (staging leftovers).")


@storage_cli.command("clean-staging")
@click.option("--older-than", "older_than", type=click.IntRange(min=0), default=STALE_SECONDS,
              show_default=True, metavar="SECONDS", help="Remove only what was last written this long ago.")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def clean_staging(older_than: int, dry_run: bool) -> None:
    """Remove leftovers of killed or crashed processes from the staging folder.

    Prints one line per removed file or folder and a summary; exit status 0 when everything old was
    removed (or nothing was there), 1 when something could not be removed, 2 for bad settings."""
    try:
        staging = settings_mod.load().staging_dir
    except settings_mod.SettingsError as exc:
        click.echo(f"skyfleet: {exc}", err=True)
        sys.exit(2)
    removed = failed = freed = 0
    for leftover in leftovers(staging, older_than, time.time()):
        kind = "folder" if leftover.is_dir else "file"
        if not dry_run:
            try:
                remove(leftover)
            except OSError as exc:
                failed += 1
                click.echo(f"cannot remove {leftover.path}: {exc.strerror or exc}", err=True)
                continue
        removed += 1
        freed += leftover.size
        verb = "would remove" if dry_run else "removed"
        click.echo(f"{verb} {kind} {leftover.path} ({leftover.size} bytes, last written "
                   f"{int(leftover.age)} s ago)")
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {removed} leftover(s) older than {older_than} s from {staging} ({freed} bytes)"
               + (f"; {failed} could not be removed" if failed else ""))
    if failed:
        sys.exit(EXIT_SOME_NOT_REMOVED)
