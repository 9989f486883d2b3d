"""Leftovers in the staging folder: what killed or crashed processes left behind.

Half-received uploads (`upload-*.part`) of a killed gunicorn worker, set-aside files, the work folders
of a recording or a night build.  Anything whose newest write is older than a threshold belongs to no
live request (uploads and builds touch their files all the time); a folder counts as one leftover,
judged by the newest file in it, so a build still writing keeps it.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator, NamedTuple

# Nothing still written to is this old, and a leftover this old belongs to no live request.
STALE_SECONDS = 6 * 3600


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
    """Entries of `staging` whose newest write is more than `older_than` seconds before `now`."""
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


def clean(staging: Path, older_than: float, now: float) -> int:
    """Remove staged leftovers of crashed requests and builds; returns how many were removed."""
    removed = 0
    for leftover in leftovers(staging, older_than, now):
        try:
            remove(leftover)
        except OSError:
            continue  # the timer's `skyfleet storage clean-staging` reports it
        removed += 1
    return removed
