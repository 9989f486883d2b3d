"""`skyfleet storage ...`: housekeeping of the storage folder from the shell and from systemd timers.

`clean-staging` removes what killed or crashed processes left in the staging folder: half-received
uploads (`upload-*.part`) of a gunicorn worker that was killed, set-aside files, the work folders of a
recording or a night build. The web app also cleans at start, but a server that runs for months needs
it periodically: the remote's skyfleet-clean-staging.timer runs this command every hour.

A plain click group (no app context): it needs the settings only, not the database, so it also runs
where the web app could not start.
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Iterator, NamedTuple

import click

from . import settings as settings_mod

# Same age as the web app's clean-up at start: nothing that is still written to is this old (uploads
# and builds touch their files all the time), and a leftover this old belongs to no live request.
DEFAULT_OLDER_THAN_SECONDS = 6 * 3600
EXIT_SOME_NOT_REMOVED = 1

storage_cli = click.Group("storage", help="Housekeeping of the storage folder (staging leftovers).")


class Leftover(NamedTuple):
    path: Path
    size: int
    age: float
    is_dir: bool


def _newest_mtime(path: Path) -> tuple[float, int]:
    """Newest modification time in a tree (the folder itself included), and the bytes in it."""
    newest, size = path.lstat().st_mtime, 0
    for sub in path.rglob("*"):
        try:
            st = sub.lstat()
        except FileNotFoundError:
            continue
        newest = max(newest, st.st_mtime)
        if not sub.is_dir():
            size += st.st_size
    return newest, size


def leftovers(staging: Path, older_than: float, now: float) -> Iterator[Leftover]:
    """Entries of `staging` whose newest write is more than `older_than` seconds before `now`.

    A folder counts as one leftover, judged by the newest file in it: a build still writing keeps it."""
    if not staging.is_dir():
        return
    for entry in sorted(staging.iterdir()):
        try:
            if entry.is_dir() and not entry.is_symlink():
                mtime, size = _newest_mtime(entry)
                is_dir = True
            else:
                st = entry.lstat()
                mtime, size, is_dir = st.st_mtime, st.st_size, False
        except FileNotFoundError:
            continue  # finished and moved into place meanwhile
        if now - mtime > older_than:
            yield Leftover(entry, size, now - mtime, is_dir)


def remove(leftover: Leftover) -> None:
    if leftover.is_dir:
        shutil.rmtree(leftover.path)
    else:
        leftover.path.unlink(missing_ok=True)


@storage_cli.command("clean-staging")
@click.option("--older-than", "older_than", type=click.IntRange(min=0), default=DEFAULT_OLDER_THAN_SECONDS,
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
