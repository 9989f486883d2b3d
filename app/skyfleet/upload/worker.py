"""An upload worker: claims jobs from the outbox and delivers them, one at a time, until stopped.

Several workers (processes) may run side by side; each renews the lease of its job while the upload
runs, so a long video is never taken over, and a killed worker's job is retried after its lease.
Renewals are capped (``lease_max_renewals``; by default what the job's request deadlines allow), so a
job stuck past them, behind a remote that never finishes answering, is retried by another worker.
"""
from __future__ import annotations

import logging
import math
import socket
import threading
from pathlib import Path
from typing import Callable, Optional

from sqlalchemy.orm import Session, sessionmaker

from ..core import longterm_keogram
from ..models import Asset, Camera, UploadJob
from . import metadata, queue
from .bell import QueueBell
from .client import CAMERA_MISSING, EXISTS, EXPIRED, OK, PERMANENT, TRANSIENT, Reply, SyncClient
from .config import RemoteConfig, UploadSettings

log = logging.getLogger(__name__)


LEASE_OWNER_LENGTH = 64  # UploadJob.lease_owner


def lease_owner(name: str) -> str:
    """A worker's name as its leases record it: at most 64 characters (PostgreSQL enforces the column's
    length), keeping the end, which tells the workers of one host apart."""
    return name if len(name) <= LEASE_OWNER_LENGTH else name[-LEASE_OWNER_LENGTH:]


EXPIRED_NOTE = "expired on the remote: "  # what a job the remote answered 410 asset_expired for records


def expired_note(reply: Reply) -> str:
    """The note of a job that the remote answered 410 asset_expired for (it is done)."""
    return EXPIRED_NOTE + (reply.message or "asset_expired")


class UploadWorker:
    def __init__(self, upload: UploadSettings, storage_dir: Path, sessions: sessionmaker, name: str = "",
                 stop: Optional[threading.Event] = None,
                 client_factory: Callable[[RemoteConfig], SyncClient] = None, bell: Optional[QueueBell] = None):
        self.upload = upload
        self.storage_dir = Path(storage_dir)
        self.sessions = sessions
        self.name = lease_owner(name or f"{socket.gethostname()}-{id(self):x}")
        self.stop = stop or threading.Event()
        self.client_factory = client_factory or (lambda r: SyncClient(r, r.load_key()))
        self.clients: dict = {}
        self.synced_cameras: set = set()
        self.remote_names = [r.name for r in upload.remotes]
        self.bell = bell  # rung by a commit that queued jobs: an idle worker looks at once

    def client(self, remote: str) -> SyncClient:
        if remote not in self.clients:
            self.clients[remote] = self.client_factory(self.upload.remote(remote))
        return self.clients[remote]

    def run(self) -> None:
        log.info("upload worker %s started for %s", self.name, ", ".join(self.remote_names) or "no remotes")
        while not self.stop.is_set():
            if not self.run_once():
                if self.bell is not None:
                    self.bell.wait(self.upload.idle_poll_seconds, self.stop)
                else:
                    self.stop.wait(self.upload.idle_poll_seconds)
        for cl in self.clients.values():
            cl.close()
        log.info("upload worker %s stopped", self.name)

    def run_once(self) -> bool:
        """Claim and handle one job; False when there was nothing to do."""
        with self.sessions() as session:
            job = queue.claim(session, self.remote_names, self.name, self.upload.lease_seconds)
            if job is None:
                return False
            beat = _Heartbeat(self.sessions, job, self.name, self.upload.lease_seconds,
                              self.renewal_cap(session, job))
            beat.start()
            try:
                self.handle(session, job)
            except Exception as exc:  # a bug must not lose the job: retry it later, keep the worker alive
                log.exception("job %s failed unexpectedly", job.id)
                session.rollback()
                queue.retry_later(session, job, self.name, f"internal error: {exc}", None,
                                  queue.backoff(job.attempts, self.upload.retry_base_seconds,
                                                self.upload.retry_max_seconds))
            finally:
                beat.stop()
        return True

    def renewal_cap(self, session: Session, job: UploadJob) -> int:
        """How often the job's lease may be renewed: the setting, or enough for the most the job can send
        within its requests' deadlines (the camera twice, the media twice after a re-sync, one lookup)."""
        if self.upload.lease_max_renewals:
            return self.upload.lease_max_renewals
        remote = self.upload.remote(job.remote)
        asset = session.get(Asset, job.asset_id) if job.asset_id is not None else None
        size = (asset.file_size or 0) if asset is not None else 0
        budget = 3 * remote.deadline(0) + 2 * remote.deadline(size)
        return math.ceil(budget / (self.upload.lease_seconds / 3)) + 1

    def handle(self, session: Session, job: UploadJob) -> None:
        camera = session.get(Camera, job.camera_id)
        if job.action == queue.ACTION_CAMERA:
            reply = self.sync_camera(job.remote, camera)
            self.settle(session, job, reply)
            return
        asset = session.get(Asset, job.asset_id)
        path = self.storage_dir / asset.filename if asset.filename else None
        if path is not None and not path.is_file():
            queue.park(session, job, self.name, f"local file is missing: {path}", None)
            return
        if (job.remote, camera.id) not in self.synced_cameras:
            reply = self.sync_camera(job.remote, camera)
            if reply.outcome != OK:
                self.settle(session, job, reply)
                return
        pixels = longterm_keogram.pixels_at(session, camera.id, metadata.epoch(asset.create_date_utc)) \
            if asset.kind == "image" else None
        meta = metadata.for_asset(asset, camera, keogram_pixels=pixels)
        name = path.name if path is not None else f"{asset.kind}.bin"
        reply = self.client(job.remote).request(job.method, asset.kind, meta, path, name)
        if reply.outcome == CAMERA_MISSING:  # the remote lost or never had the camera: register, retry once
            self.synced_cameras.discard((job.remote, camera.id))
            synced = self.sync_camera(job.remote, camera)
            reply = (self.client(job.remote).request(job.method, asset.kind, meta, path, name)
                     if synced.outcome == OK else synced)
        if reply.outcome == EXISTS:
            reply = self.verify_existing(job.remote, asset, camera, reply)
        self.settle(session, job, reply)

    def sync_camera(self, remote: str, camera: Camera) -> Reply:
        reply = self.client(remote).request("PUT", "camera", metadata.for_camera(camera))
        if reply.outcome == OK:
            self.synced_cameras.add((remote, camera.id))
        return reply

    def verify_existing(self, remote: str, asset: Asset, camera: Camera, reply: Reply) -> Reply:
        """POST found the asset already there: delivered if it is the same file."""
        cl = self.client(remote)
        if not cl.skyfleet_server:
            # indi-allsky can only look assets up by its own row id: the earlier delivery stands.
            return Reply(OK, reply.status, {"id": None}, "already on the remote (not verifiable there)")
        found = cl.request("GET", asset.kind, metadata.lookup(asset, camera))
        body = found.body or {}
        if found.outcome == OK and body.get("file_size") == asset.file_size and (
                not asset.sha256 or body.get("sha256") in (None, asset.sha256)):
            return Reply(OK, 200, body, "already on the remote, same size and digest")
        if found.outcome != OK:
            return found
        return Reply(PERMANENT, reply.status, reply.body,
                       f"the remote has a different file for this {asset.kind} (id {body.get('id')}, "
                       f"{body.get('file_size')} bytes vs {asset.file_size}); `skyfleet sync resync --overwrite` "
                       "replaces it")

    def settle(self, session: Session, job: UploadJob, reply: Reply) -> None:
        if reply.outcome == OK:
            if queue.complete(session, job, self.name, reply.remote_id, reply.message):
                log.info("delivered job %s (%s) to %s", job.id, job.action, job.remote)
                return
        elif reply.outcome == EXPIRED:  # the remote does not keep it (any more): done, never resent
            if queue.complete(session, job, self.name, None, expired_note(reply)):
                log.info("job %s to %s: %s", job.id, job.remote, expired_note(reply))
                return
        elif reply.outcome in (TRANSIENT, CAMERA_MISSING):
            delay = queue.backoff(job.attempts, self.upload.retry_base_seconds, self.upload.retry_max_seconds)
            if queue.retry_later(session, job, self.name, reply.message, reply.status, delay):
                log.warning("job %s to %s: %s; retry in %.0f s", job.id, job.remote, reply.message, delay)
                return
        elif queue.park(session, job, self.name, reply.message, reply.status):
            log.error("job %s to %s parked: %s", job.id, job.remote, reply.message)
            return
        log.warning("job %s to %s: its lease lapsed and it was taken over by another worker (or finished); "
                    "this attempt's outcome is not recorded: %s %s", job.id, job.remote, reply.outcome,
                    reply.message)


class _Heartbeat:
    """Renews a job's lease every third of the lease while the upload runs, at most `cap` times."""

    def __init__(self, sessions: sessionmaker, job: UploadJob, owner: str, lease_seconds: float, cap: int):
        self.sessions, self.job, self.owner, self.lease, self.cap = sessions, job, owner, lease_seconds, cap
        self.renewals = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def _run(self) -> None:
        interval = self.lease / 3
        while not self.done.wait(interval):
            if self.renewals >= self.cap:
                log.warning("job %s to %s: still running after %d lease renewals (%.0f s), past what its "
                            "requests' deadlines allow; no more lease renewals: the lease lapses within %.0f s "
                            "and another worker retries the job (lease_max_renewals)", self.job.id,
                            self.job.remote, self.renewals, (self.renewals + 1) * interval, self.lease - interval)
                return
            try:
                with self.sessions() as session:
                    renewed = queue.renew(session, self.job, self.owner, self.lease)
            except Exception:  # the next beat tries again; at worst the lease expires and a peer retries
                log.exception("renewing the lease of job %s failed", self.job.id)
                continue
            self.renewals += 1
            if not renewed:  # settled a moment ago, or taken over (settle says which)
                log.debug("job %s: the lease is no longer this worker's; renewals stop", self.job.id)
                return
