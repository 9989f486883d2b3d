"""Files under the storage folder: atomic placement, set-aside for overwrites, and path safety."""
from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path

from .errors import InvalidMetadata, StorageFull
from .multipart import StagedMedia

URL_PREFIX = "images/"


class Storage:
    def __init__(self, root: Path, staging: Path):
        self.root = Path(root).resolve()
        self.staging = Path(staging).resolve()

    def path(self, rel: str) -> Path:
        """The absolute path of `rel`, refusing anything that would land outside storage or in staging."""
        target = (self.root / rel).resolve()
        if self.root not in target.parents or target == self.staging or self.staging in target.parents:
            raise InvalidMetadata(f"path {rel[:80]!r} would be outside the storage folder", code="invalid_path")
        return target

    @staticmethod
    def url(rel: str | None) -> str | None:
        return URL_PREFIX + rel if rel else None

    def place(self, staged: StagedMedia, rel: str) -> Path:
        dest = self.path(rel)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(staged.path, 0o644)
            os.replace(staged.path, dest)  # same filesystem: atomic, the old content or the new, never half
            _fsync_dir(dest.parent)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull("the server's storage is full; the upload was not stored",
                                  log_detail=f"placing {rel} failed: {exc}") from None
            raise
        staged.path = None
        return dest

    def set_aside(self, rel: str) -> Path | None:
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

    def delete(self, rel: str | None) -> None:
        if not rel:
            return
        try:
            self.path(rel).unlink()
        except FileNotFoundError:
            pass

    def clean_staging(self, older_than_seconds: float, now: float) -> int:
        """Remove staged leftovers of crashed requests; returns how many were removed."""
        removed = 0
        if not self.staging.is_dir():
            return 0
        for entry in self.staging.iterdir():
            try:
                if entry.is_file() and now - entry.stat().st_mtime > older_than_seconds:
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
