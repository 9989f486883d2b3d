"""Files under the storage folder, behind a small interface: the local filesystem, or an object store
(`core.object_storage.S3Storage`, the remote tier only) without touching the callers.

Callers (the SyncAPI server, the camera host's recording, the night builder, the web app) name files
by their path relative to the storage folder, the layout's `Asset.filename`, and use only the
operations of `Storage`.  `LocalStorage` keeps them in a folder, places them with the one atomic
placement of `core.files`, and keeps set-aside files in its staging folder.
"""
from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path
from typing import IO, Optional, Protocol

from . import staging
from .errors import InvalidMetadata, StorageFull
from .files import move_into_place

URL_PREFIX = "images/"


class Storage(Protocol):
    """What callers may do with stored files, named by their path relative to the storage root."""

    # A local folder for files on their way in (uploads being received, products being built) and for
    # set-aside files; on the storage's filesystem, so moving a finished file in is a rename.
    staging: Path
    # The local folder of the stored files; None for an object store (no free-space floor applies).
    root: Optional[Path]

    @staticmethod
    def url(rel: Optional[str]) -> Optional[str]:
        """The URL (below the SyncAPI base) under which `rel` is served, as the SyncAPI answers it."""
        return URL_PREFIX + rel if rel else None

    def path(self, rel: str) -> Path:
        """A local path to read `rel` from (refused, InvalidMetadata, when it would leave the storage)."""
        ...

    def exists(self, rel: str) -> bool:
        ...

    def open(self, rel: str) -> IO[bytes]:
        """`rel` opened for reading (binary)."""
        ...

    def place(self, source: Path, rel: str, *, move: bool = True) -> Optional[Path]:
        """Put the finished file `source` at `rel` atomically (the old content or the new, never half);
        moved (renamed when possible), or copied with ``move=False``.  StorageFull when out of space.
        Returns the local path, where there is one."""
        ...

    def delete(self, rel: Optional[str]) -> None:
        """Remove `rel` if it exists (nothing for None or a missing file)."""
        ...

    def set_aside(self, rel: str) -> Optional[object]:
        """Take `rel` out of the layout before it is replaced or deleted; returns a handle for
        `restore` or `drop`, or None when there was no file."""
        ...

    def restore(self, backup: object, rel: str) -> None:
        """Put a set-aside file back at `rel` (its replacement or deletion failed)."""
        ...

    def drop(self, backup: object) -> None:
        """Forget a set-aside file for good (its replacement or deletion was committed)."""
        ...


class LocalStorage(Storage):
    """Stored files in a folder of the local filesystem; `staging` must be on the same filesystem."""

    def __init__(self, root: Path, staging: Path):
        self.root = Path(root).resolve()
        self.staging = Path(staging).resolve()

    def path(self, rel: str) -> Path:
        """The absolute path of `rel`, refusing anything that would land outside storage or in staging."""
        target = (self.root / rel).resolve()
        if self.root not in target.parents or target == self.staging or self.staging in target.parents:
            raise InvalidMetadata(f"path {rel[:80]!r} would be outside the storage folder", code="invalid_path")
        return target

    def exists(self, rel: str) -> bool:
        return self.path(rel).is_file()

    def open(self, rel: str) -> IO[bytes]:
        return open(self.path(rel), "rb")

    def place(self, source: Path, rel: str, *, move: bool = True) -> Path:
        dest = self.path(rel)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            move_into_place(source, dest, move=move)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull("the server's storage is full; the upload was not stored",
                                  log_detail=f"placing {rel} failed: {exc}") from None
            raise
        return dest

    def delete(self, rel: Optional[str]) -> None:
        if not rel:
            return
        try:
            self.path(rel).unlink()
        except FileNotFoundError:
            pass

    def set_aside(self, rel: str) -> Optional[Path]:
        """Move a file that is about to be replaced into staging, so a failed replace can put it back."""
        src = self.path(rel)
        if not src.exists():
            return None
        self.staging.mkdir(parents=True, exist_ok=True)
        backup = self.staging / f"replaced-{uuid.uuid4().hex}{src.suffix}"
        os.replace(src, backup)
        return backup

    def restore(self, backup: Path, rel: str) -> None:
        dest = self.path(rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(backup, dest)

    def drop(self, backup: Path) -> None:
        backup.unlink()

    def clean_staging(self, older_than_seconds: float, now: float) -> int:
        """Remove staged leftovers of crashed requests and builds; returns how many were removed."""
        return staging.clean(self.staging, older_than_seconds, now)
