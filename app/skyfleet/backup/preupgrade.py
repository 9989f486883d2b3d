"""The backup `skyfleet db upgrade` takes before it migrates: one file per upgrade in [backup] dir,
named skyfleet-db-<UTC time>-<revision>.sqlite|.pgdump, the newest [backup] keep kept."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ..settings import Settings
from . import database
from .private import private_dir, private_target

NAME_RE = re.compile(r"^skyfleet-db-(\d{8}T\d{6}Z)-.+\.(sqlite|pgdump)$")


def take(settings: Settings, revision: str, now: dt.datetime | None = None) -> Path:
    """Back up the database at `revision` into [backup] dir; returns the file's absolute path."""
    folder = private_dir(settings.backup.dir)
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"skyfleet-db-{stamp}-{revision}{database.suffix(settings.database_url)}"
    with private_target(path) as tmp:
        database.dump(settings.database_url, tmp)
    prune(folder, settings.backup.keep)
    return path


def backups(folder: Path) -> list:
    """The pre-upgrade backups in `folder`, newest first."""
    found = [p for p in Path(folder).iterdir() if NAME_RE.match(p.name) and p.is_file()]
    return sorted(found, key=lambda p: (NAME_RE.match(p.name).group(1), p.stat().st_mtime), reverse=True)


def prune(folder: Path, keep: int) -> list:
    """Remove all but the newest `keep` pre-upgrade backups; returns what was removed."""
    old = backups(folder)[keep:]
    for path in old:
        path.unlink()
    return old
