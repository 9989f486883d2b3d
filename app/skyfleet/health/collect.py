"""A snapshot of this host's health: cameras, upload queue, disk, prunes, TLS certificate, active alerts.

Plain SQLAlchemy (no Flask): the web app's /healthz and /metrics and `skyfleet health` read the same
snapshot.  Every time comes from the `now` passed in (naive UTC), so tests need no wall clock.

A camera is *silent* when its newest image (or, before the first one, its registration) is older than
`[health] camera_silent_minutes`.  A camera whose settings say `daytime_capture = false`
(Camera.data["daytime_capture"] is False) sends nothing by day, so it is silent only after 24 hours.
"""
from __future__ import annotations

import datetime as dt
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..housekeeping import disk as disk_mod
from ..housekeeping.policy import RetentionPolicy
from ..models import AlertState, Asset, Camera, PruneEvent
from ..settings import Settings
from ..upload import queue
from ..upload.config import UploadConfigError
from ..upload.config import from_table as upload_from_table
from .config import HealthSettings

NIGHT_ONLY_SILENT = dt.timedelta(hours=24)
PRUNE_REASONS = ("retention", "floor", "emergency")
CAMERA_TIER, REMOTE_TIER = "camera", "remote"


@dataclass
class CameraHealth:
    name: str
    uuid: str
    last_frame_at: Optional[dt.datetime]  # newest image, UTC; None: none yet
    age_seconds: Optional[float]          # of the newest image; None: none yet
    silent_after_seconds: float
    silent_since: Optional[dt.datetime]   # None: not silent

    @property
    def silent(self) -> bool:
        return self.silent_since is not None


@dataclass
class RemoteHealth:
    name: str
    depth: int
    parked: int
    oldest_waiting_at: Optional[dt.datetime]  # the oldest waiting job's asset time (UploadJob.sort_time)
    oldest_waiting_age_seconds: Optional[float]
    last_success: Optional[dt.datetime]
    last_error: Optional[str]
    stalled_since: Optional[dt.datetime]

    @property
    def stalled(self) -> bool:
        return self.stalled_since is not None


@dataclass
class DiskHealth:
    path: str
    total_bytes: int
    free_bytes: int
    floor_bytes: int
    emergency_floor_bytes: int

    @property
    def free_percent(self) -> float:
        return 100.0 * self.free_bytes / self.total_bytes if self.total_bytes else 0.0

    @property
    def below_floor(self) -> bool:
        return self.free_bytes < self.floor_bytes

    @property
    def below_emergency_floor(self) -> bool:
        return self.free_bytes < self.emergency_floor_bytes


@dataclass
class CertificateHealth:
    path: str
    not_after: Optional[dt.datetime] = None  # UTC
    days_left: Optional[float] = None
    error: Optional[str] = None              # could not be read


@dataclass
class Snapshot:
    at: dt.datetime
    host: str
    tier: str
    settings: HealthSettings
    cameras: list = field(default_factory=list)   # CameraHealth
    remotes: list = field(default_factory=list)   # RemoteHealth
    disk: Optional[DiskHealth] = None
    pruned_assets: dict = field(default_factory=dict)  # reason -> assets removed
    pruned_bytes: dict = field(default_factory=dict)   # reason -> bytes removed
    pruned_undelivered: int = 0
    certificate: Optional[CertificateHealth] = None
    active_alerts: list = field(default_factory=list)  # (name, subject) of active AlertState rows
    # PostgreSQL: other hosts (a fleet's web nodes) may keep their alert states in the same database
    shared_database: bool = False
    errors: list = field(default_factory=list)         # what could not be looked at, e.g. a bad [upload]

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("settings")
        out["at"] = iso(self.at)
        for c, raw in zip(self.cameras, out["cameras"]):
            raw.update(last_frame_at=iso(c.last_frame_at), silent_since=iso(c.silent_since), silent=c.silent)
        for r, raw in zip(self.remotes, out["remotes"]):
            raw.update(oldest_waiting_at=iso(r.oldest_waiting_at), last_success=iso(r.last_success),
                       stalled_since=iso(r.stalled_since), stalled=r.stalled)
        if self.disk:
            out["disk"].update(free_percent=round(self.disk.free_percent, 2), below_floor=self.disk.below_floor,
                               below_emergency_floor=self.disk.below_emergency_floor)
        if self.certificate:
            out["certificate"]["not_after"] = iso(self.certificate.not_after)
        out["active_alerts"] = [{"alert": n, "subject": s} for n, s in self.active_alerts]
        return out


def iso(value: Optional[dt.datetime]) -> Optional[str]:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def tier(settings: Settings) -> str:
    """A camera host has remotes to upload to; a remote (web server) has none."""
    return CAMERA_TIER if settings.table("upload").get("remotes") else REMOTE_TIER


def collect(session: Session, settings: Settings, health: HealthSettings, retention: RetentionPolicy,
            now: dt.datetime, host: Optional[str] = None) -> Snapshot:
    snap = Snapshot(at=now, host=host or socket.gethostname(), tier=tier(settings), settings=health,
                    shared_database=settings.database_is_shared)
    snap.cameras = cameras(session, health, now)
    if snap.tier == CAMERA_TIER:
        try:
            names = [r.name for r in upload_from_table(settings.table("upload")).remotes]
        except UploadConfigError as exc:
            snap.errors.append(str(exc))
            names = []
        snap.remotes = remotes(session, names, health, now)
    snap.disk = disk(settings.storage_dir, retention)
    snap.pruned_assets, snap.pruned_bytes, snap.pruned_undelivered = pruned(session)
    if health.certificate_file:
        snap.certificate = certificate(Path(health.certificate_file), now)
    snap.active_alerts = [tuple(r) for r in session.execute(
        select(AlertState.name, AlertState.subject).where(AlertState.active.is_(True))
        .order_by(AlertState.name, AlertState.subject)).all()]
    session.rollback()  # end the read snapshot
    return snap


def silent_after(camera: Camera, health: HealthSettings) -> dt.timedelta:
    """How long a camera may send nothing: 24 h when it captures only at night."""
    regular = dt.timedelta(minutes=health.camera_silent_minutes)
    if (camera.data or {}).get("daytime_capture") is False:
        return max(regular, NIGHT_ONLY_SILENT)
    return regular


def cameras(session: Session, health: HealthSettings, now: dt.datetime) -> list:
    newest = dict(session.execute(
        select(Asset.camera_id, func.max(Asset.create_date_utc)).where(Asset.kind == "image")
        .group_by(Asset.camera_id)).all())
    out = []
    for cam in session.scalars(select(Camera).order_by(Camera.name, Camera.id)):
        last = newest.get(cam.id)
        limit = silent_after(cam, health)
        reference = last or cam.created_at
        silent_since = reference if reference is not None and now - reference > limit else None
        out.append(CameraHealth(
            name=cam.name, uuid=cam.uuid, last_frame_at=last,
            age_seconds=(now - last).total_seconds() if last else None,
            silent_after_seconds=limit.total_seconds(), silent_since=silent_since))
    return out


def remotes(session: Session, names: list, health: HealthSettings, now: dt.datetime) -> list:
    """Per remote: jobs waiting, parked, and whether the queue is stalled: jobs waiting, the oldest for
    longer than queue_stalled_minutes, and no successful upload within that time either."""
    window = dt.timedelta(minutes=health.queue_stalled_minutes)
    out = []
    for st in queue.status(session, names):
        depth, parked = sum(st.depth.values()), sum(st.parked.values())
        oldest = st.oldest_pending
        stalled_since = None
        if depth and oldest is not None and now - oldest > window and (
                st.last_success is None or now - st.last_success > window):
            stalled_since = max(oldest, st.last_success) if st.last_success else oldest
        out.append(RemoteHealth(
            name=st.remote, depth=depth, parked=parked, oldest_waiting_at=oldest,
            oldest_waiting_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest and depth else None,
            last_success=st.last_success, last_error=st.last_error, stalled_since=stalled_since))
    return out


def disk(path: Path, retention: RetentionPolicy) -> DiskHealth:
    use = disk_mod.usage(path)
    return DiskHealth(path=str(path), total_bytes=use.total_bytes, free_bytes=use.free_bytes,
                      floor_bytes=retention.floor.bytes_for(use.total_bytes),
                      emergency_floor_bytes=retention.emergency.bytes_for(use.total_bytes))


def pruned(session: Session) -> tuple:
    """(reason -> assets, reason -> bytes, undelivered assets) over every PruneEvent row."""
    assets = {r: 0 for r in PRUNE_REASONS}
    size = {r: 0 for r in PRUNE_REASONS}
    for reason, n, b in session.execute(
            select(PruneEvent.reason, func.coalesce(func.sum(PruneEvent.assets), 0),
                   func.coalesce(func.sum(PruneEvent.bytes), 0)).group_by(PruneEvent.reason)).all():
        assets[reason] = int(n)
        size[reason] = int(b)
    undelivered = session.scalar(select(func.coalesce(func.sum(PruneEvent.undelivered), 0)))
    return assets, size, int(undelivered or 0)


def certificate(path: Path, now: dt.datetime) -> CertificateHealth:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        return CertificateHealth(str(path), error=f"cannot read {path}: {exc.strerror or exc}")
    except ValueError:
        return CertificateHealth(str(path), error=f"{path} is not a PEM certificate")
    not_after = cert.not_valid_after_utc.replace(tzinfo=None)
    return CertificateHealth(str(path), not_after=not_after,
                             days_left=round((not_after - now).total_seconds() / 86400, 2))
