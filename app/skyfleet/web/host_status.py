"""A camera host's status for the web UI, beside its pictures: capture state and the upload queue.

(The capture pipeline itself is `skyfleet.station`; this module only reads what it records.)

A host is a camera host when its settings have remotes in `[upload]`; a remote has none.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional, Sequence

from sqlalchemy.orm import Session

from ..capture.status import STATE_FILE_NAME, CaptureStatus, read_status
from ..models import Asset, Camera, utcnow
from ..settings import Settings
from ..upload import queue
from ..upload.config import UploadConfigError, from_table
from . import queries

STALE_AFTER = dt.timedelta(minutes=15)


def is_camera_host(settings: Settings) -> bool:
    return bool(settings.table("upload").get("remotes"))


@dataclass
class CaptureState:
    camera: Camera
    last: Optional[Asset]

    @property
    def stale(self) -> bool:
        return self.last is None or utcnow() - self.last.create_date_utc > STALE_AFTER


@dataclass
class UploadState:
    remotes: list = field(default_factory=list)  # queue.RemoteStatus per remote
    error: Optional[str] = None

    @property
    def waiting(self) -> int:
        return sum(sum(r.depth.values()) for r in self.remotes)

    @property
    def parked(self) -> int:
        return sum(sum(r.parked.values()) for r in self.remotes)


def capture_states(session: Session, cameras: Sequence[Camera]) -> list:
    return [CaptureState(cam, queries.latest(session, cam.id)) for cam in cameras]


def capture_service_state(settings: Settings) -> Optional[CaptureStatus]:
    """What this host's skyfleet-capture last said it is doing (None: it has not said anything yet)."""
    return read_status(settings.data_dir / STATE_FILE_NAME)


def upload_state(session: Session, settings: Settings) -> UploadState:
    try:
        upload = from_table(settings.table("upload"))
    except UploadConfigError as exc:
        return UploadState(error=str(exc))
    return UploadState(remotes=queue.status(session, [r.name for r in upload.remotes]))
