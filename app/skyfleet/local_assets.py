"""Recording what the camera host produces: the asset row, its file in the shared layout, and its
upload jobs, all in one transaction (no Flask here)."""
from __future__ import annotations

import hashlib
import os
import shutil
import uuid as uuidlib
from pathlib import Path
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import longterm_keogram
from .models import Asset, Camera, utcnow
from .syncapi.assets import KINDS, build_record
from .syncapi.metadata import media_extension
from .syncapi.storage import Storage
from .upload import queue


def local_camera(session: Session, name: str, remotes: Iterable[str] = (), **fields) -> Camera:
    """This host's camera, found by name (its uuid is made once), with a camera sync queued per remote."""
    camera = session.scalar(select(Camera).where(Camera.name == name))
    if camera is None:
        camera = Camera(uuid=str(uuidlib.uuid4()), name=name, data={}, utc_offset=0)
        session.add(camera)
    for key, value in fields.items():
        setattr(camera, key, value)
    camera.connect_date = utcnow()
    session.flush()
    queue.enqueue_camera(session, camera, remotes)
    session.commit()
    return camera


def record_asset(session: Session, storage: Storage, camera: Camera, kind: str, meta: dict, source: Path,
                 remotes: Iterable[str] = (), *, move: bool = True) -> Asset:
    """Place `source` at the layout's path for `meta` and commit the row with its upload jobs.

    The file is renamed into place (or copied, then renamed, across filesystems) before the commit,
    and removed again if the commit fails: never a row without its file.
    """
    spec = KINDS[kind]
    record = build_record(spec, meta, camera)
    rel = record.path_stem + media_extension(Path(source).name)
    dest = storage.path(rel)
    dest.parent.mkdir(parents=True, exist_ok=True)
    size, digest = _place(Path(source), dest, move)
    try:
        asset = session.scalar(select(Asset).where(
            Asset.camera_id == camera.id, Asset.kind == kind, Asset.natural_key == record.natural_key))
        if asset is None:
            asset = spec.model(camera_id=camera.id, natural_key=record.natural_key)
            session.add(asset)
        for column, value in record.columns.items():
            setattr(asset, column, value)
        asset.filename, asset.file_size, asset.sha256 = rel, size, digest
        if record.keogram_pixels:
            longterm_keogram.keep(session, camera.id, int(meta["createDate"]), record.keogram_pixels)
        session.flush()
        queue.enqueue_asset(session, asset, remotes, method="POST")
        session.commit()
    except BaseException:
        session.rollback()
        dest.unlink(missing_ok=True)
        raise
    return asset


def _place(source: Path, dest: Path, move: bool) -> tuple:
    h = hashlib.sha256()
    with open(source, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    size = source.stat().st_size
    if move:
        try:
            os.replace(source, dest)
            return size, h.hexdigest()
        except OSError:
            pass  # another filesystem: copy, then rename into place
    tmp = dest.with_name(f".{dest.name}.{uuidlib.uuid4().hex[:8]}.tmp")
    shutil.copyfile(source, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    if move:
        source.unlink()
    return size, h.hexdigest()


def storage_for(storage_dir: Path) -> Storage:
    return Storage(storage_dir, Path(storage_dir) / ".staging")
