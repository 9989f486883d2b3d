"""Wiring of the capture service: settings -> database, storage, processing, remotes -> FrameRecorder."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from .. import settings as project_settings
from ..db_setup import session_factory
from ..housekeeping import policy as retention_policy
from ..housekeeping.prune import Pruner
from ..local_assets import storage_for
from ..upload.bell import QueueBell
from ..upload.config import from_table as upload_from_table
from . import processing_config
from .night import build_night
from .recorder import FrameRecorder

log = logging.getLogger(__name__)


class StationSetupError(ValueError):
    pass


def build_recorder(raw: Mapping[str, Any], capture) -> FrameRecorder:
    """The frame consumer of `skyfleet-capture`: processes, records and queues every frame."""
    settings = project_settings.from_mapping(raw)
    frame_settings, product_settings = processing_config.from_table(settings.table("processing"))
    upload_remotes = upload_from_table(settings.table("upload")).remotes
    try:
        retention = retention_policy.from_table(settings.table("retention"))
    except retention_policy.RetentionConfigError as exc:
        raise StationSetupError(str(exc)) from None
    remotes = [r.name for r in upload_remotes]
    if not remotes:
        log.warning("no [[upload.remotes]] configured: images are kept on this host only")
    sessions = session_factory(settings.database_url, settings.sqlite_busy_timeout_ms)
    QueueBell(settings.data_dir).attach(sessions)  # the upload workers look as soon as a frame is queued
    try:
        tables = inspect(sessions.kw["bind"]).get_table_names()
    except OperationalError as exc:
        raise StationSetupError(f"cannot open the database {settings.database_url} ({exc.orig}): "
                                "run `skyfleet db upgrade`") from None
    if "upload_job" not in tables:
        raise StationSetupError(f"the database {settings.database_url} has no tables: run `skyfleet db upgrade`")
    storage = storage_for(settings.storage_dir)
    storage.staging.mkdir(parents=True, exist_ok=True)

    def night_ended(day) -> None:
        try:
            build_night(sessions, storage, recorder.camera, day, remotes, product_settings)
        except Exception:  # the capture goes on; `skyfleet night build` can redo it
            log.exception("building the products of the night of %s failed", day)

    recorder = FrameRecorder(
        sessions, storage, capture.camera_name, remotes, frame_settings, on_night_end=night_ended,
        accounts=[r.username for r in upload_remotes], pruner=Pruner(sessions, storage, retention),
        camera_fields={"latitude": capture.latitude, "longitude": capture.longitude,
                       "elevation": capture.elevation, "driver": ", ".join(capture.drivers)})
    return recorder
