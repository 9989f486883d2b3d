"""Recording what the camera host produces: the asset row, its file in the shared layout, and its
upload jobs, all in one transaction (no Flask here)."""
from __future__ import annotations

import uuid as uuidlib
from pathlib import Path
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .core import media_types, recording
from .core.assets import KINDS, build_record
from .core.files import sha256_file
from .core.storage import LocalStorage, Storage
from .models import Asset, Camera, User, utcnow
from .upload import queue


def local_camera(session: Session, name: str, remotes: Iterable[str] = (), accounts: Iterable[str] = (),
                 **fields) -> Camera:
    """This host's camera, found by name (its uuid is made once), with a camera sync queued per remote.

    `accounts` are the SyncAPI user names this host uploads with.  On a host that is also the web
    server, the first of them with an account here owns the camera: it has images before its first
    sync, and a camera with images is never claimed by a sync (syncapi/cameras.py)."""
    camera = session.scalar(select(Camera).where(Camera.name == name))
    if camera is None:
        camera = Camera(uuid=str(uuidlib.uuid4()), name=name, data={}, utc_offset=0)
        session.add(camera)
    if camera.registered_by_id is None:
        names = list(accounts)
        ids = dict(session.execute(select(User.username, User.id).where(User.username.in_(names))).all())
        camera.registered_by_id = next((ids[n] for n in names if n in ids), None)
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
    and removed again if the commit fails: never a row without its file (`core.recording.save`).
    The camera host's own part: the file comes from this host (moved, or copied with ``move=False``),
    a re-recorded asset keeps its row and takes the new file, and upload jobs join the transaction.
    """
    spec = KINDS[kind]
    source = Path(source)
    record = build_record(spec, meta, camera)
    ext = spec.media_extension(source.name)  # what a remote would take: the same types, the same check
    media_types.check_file(ext, source)
    rel = record.path_stem + ext
    size, digest = source.stat().st_size, sha256_file(source)
    existing = recording.find_existing(session, camera, spec, record.natural_key)
    return recording.save(
        session, storage, spec, camera, record, existing, filename=rel, size=size, sha256=digest,
        place=lambda: storage.place(source, rel, move=move),
        after_flush=lambda asset: queue.enqueue_asset(session, asset, remotes, method="POST"))


def storage_for(storage_dir: Path) -> LocalStorage:
    return LocalStorage(storage_dir, Path(storage_dir) / ".staging")
