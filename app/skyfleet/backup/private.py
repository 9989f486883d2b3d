"""Files and folders only the service user may read: backups hold the database and the server secret."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from ..core.files import atomic_target


def private_dir(path: Path) -> Path:
    """`path`, created 0700 (with its parents) when missing; an existing folder keeps its mode."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path.resolve()


@contextlib.contextmanager
def private_target(path: Path) -> Iterator[Path]:
    """A 0600 temp file beside `path`, renamed onto it when the block succeeds (removed when it fails)."""
    with atomic_target(path) as tmp:
        os.chmod(tmp, 0o600)
        yield Path(tmp)
