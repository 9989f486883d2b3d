"""Looking at what the server stored: rows, files, staging leftovers."""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select

from skyfleet.extensions import db
from skyfleet.models import Asset


def storage_root(app) -> Path:
    return app.extensions["skyfleet"].storage.root


def stored_files(app) -> list[str]:
    root = storage_root(app)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def asset_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Asset.id)))


def assert_consistent(app) -> None:
    """Every row's file exists with its size, every file has a row, nothing is left in staging."""
    with app.app_context():
        rows = {a.filename: a.file_size for a in db.session.scalars(select(Asset)) if a.filename}
    files = [f for f in stored_files(app) if not f.startswith(".staging/")]
    assert sorted(rows) == files
    root = storage_root(app)
    for rel, size in rows.items():
        assert os.path.getsize(root / rel) == size
    assert [f for f in stored_files(app) if f.startswith(".staging/")] == []


def assert_nothing_stored(app) -> None:
    assert asset_count(app) == 0
    assert stored_files(app) == []
