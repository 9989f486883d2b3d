"""The durable outbox: enqueue in the asset's own transaction, lease, complete, retry, park.

Claiming is an optimistic UPDATE guarded by the row's state, which works the same on SQLite (WAL) and
PostgreSQL and across processes: two workers can never hold the same job.  A job whose lease ran out
(its worker was killed) is claimable again.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..models import Asset, Camera, UploadJob, utcnow
from . import bell

PENDING, LEASED, DONE, PARKED = "pending", "leased", "done", "parked"
ACTION_CAMERA, ACTION_ASSET = "camera", "asset"
PRIORITY_CAMERA, PRIORITY_THUMBNAIL, PRIORITY_ASSET = 0, 1, 2


def enqueue_asset(session: Session, asset: Asset, remotes: Iterable[str], method: str = "POST") -> list:
    """Add a job per remote (not committed: the caller commits it with the asset itself)."""
    if asset.id is None:
        session.flush()
    jobs = []
    for remote in remotes:
        job = session.scalar(select(UploadJob).where(
            UploadJob.remote == remote, UploadJob.action == ACTION_ASSET, UploadJob.asset_id == asset.id))
        if job is None:
            job = UploadJob(remote=remote, action=ACTION_ASSET, camera_id=asset.camera_id, asset_id=asset.id,
                            priority=PRIORITY_THUMBNAIL if asset.kind == "thumbnail" else PRIORITY_ASSET,
                            sort_time=asset.create_date_utc, attempts=0, next_attempt_at=utcnow())
            session.add(job)
        elif job.state in (DONE, PARKED):
            _reset(job)
        job.method = method
        jobs.append(job)
    if jobs:
        bell.jobs_added(session)
    return jobs


def enqueue_camera(session: Session, camera: Camera, remotes: Iterable[str]) -> None:
    """A camera sync per remote, unless one is already waiting."""
    for remote in remotes:
        waiting = session.scalar(select(UploadJob.id).where(
            UploadJob.remote == remote, UploadJob.action == ACTION_CAMERA, UploadJob.camera_id == camera.id,
            UploadJob.state.in_((PENDING, LEASED))))
        if waiting is None:
            session.add(UploadJob(remote=remote, action=ACTION_CAMERA, camera_id=camera.id, method="PUT",
                                  priority=PRIORITY_CAMERA, sort_time=utcnow(), attempts=0,
                                  next_attempt_at=utcnow()))
            bell.jobs_added(session)


def _reset(job: UploadJob) -> None:
    job.state, job.attempts, job.next_attempt_at = PENDING, 0, utcnow()
    job.lease_owner = job.lease_expires_at = job.done_at = None


def claim(session: Session, remotes: Sequence[str], owner: str, lease_seconds: float,
          now: Optional[dt.datetime] = None) -> Optional[UploadJob]:
    now = now or utcnow()
    claimable = or_(and_(UploadJob.state == PENDING, UploadJob.next_attempt_at <= now),
                    and_(UploadJob.state == LEASED, UploadJob.lease_expires_at < now))
    for _ in range(10):
        row = session.execute(
            select(UploadJob.id, UploadJob.state).where(UploadJob.remote.in_(remotes), claimable)
            .order_by(UploadJob.priority, UploadJob.sort_time.desc(), UploadJob.id.desc()).limit(1)).first()
        session.rollback()  # end the read snapshot before writing (SQLite WAL cannot upgrade a stale one)
        if row is None:
            return None
        guard = (UploadJob.state == PENDING) if row.state == PENDING else and_(
            UploadJob.state == LEASED, UploadJob.lease_expires_at < now)
        won = session.execute(
            update(UploadJob).where(UploadJob.id == row.id, guard)
            .values(state=LEASED, lease_owner=owner, attempts=UploadJob.attempts + 1, updated_at=now,
                    lease_expires_at=now + dt.timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)).rowcount
        session.commit()
        if won == 1:
            return session.get(UploadJob, row.id, populate_existing=True)
    return None


def _mine(job_id: int, owner: str):
    return and_(UploadJob.id == job_id, UploadJob.state == LEASED, UploadJob.lease_owner == owner)


def _finish(session: Session, job: UploadJob, owner: str, **values) -> bool:
    values.setdefault("updated_at", utcnow())
    done = session.execute(update(UploadJob).where(_mine(job.id, owner)).values(**values)
                           .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return done == 1


def renew(session: Session, job: UploadJob, owner: str, lease_seconds: float) -> bool:
    return _finish(session, job, owner, lease_expires_at=utcnow() + dt.timedelta(seconds=lease_seconds))


def complete(session: Session, job: UploadJob, owner: str, remote_id: Optional[int], note: str = "") -> bool:
    return _finish(session, job, owner, state=DONE, done_at=utcnow(), remote_id=remote_id, lease_owner=None,
                   lease_expires_at=None, last_error=note or None, last_status=200)


def retry_later(session: Session, job: UploadJob, owner: str, error: str, status: Optional[int],
                delay: float) -> bool:
    return _finish(session, job, owner, state=PENDING, lease_owner=None, lease_expires_at=None,
                   last_error=error[:2000], last_status=status,
                   next_attempt_at=utcnow() + dt.timedelta(seconds=delay))


def park(session: Session, job: UploadJob, owner: str, reason: str, status: Optional[int]) -> bool:
    return _finish(session, job, owner, state=PARKED, lease_owner=None, lease_expires_at=None,
                   last_error=reason[:2000], last_status=status)


def release(session: Session, job: UploadJob, owner: str) -> bool:
    """Give a job back untouched (clean shutdown): the attempt does not count."""
    return _finish(session, job, owner, state=PENDING, lease_owner=None, lease_expires_at=None,
                   attempts=UploadJob.attempts - 1)


def backoff(attempts: int, base: float, cap: float, rng: random.Random = random) -> float:
    """Exponential backoff with jitter: base * 2^(attempts-1), capped, times a random 0.5-1.0."""
    return min(cap, base * (2 ** max(0, min(attempts - 1, 30)))) * rng.uniform(0.5, 1.0)


def requeue_parked(session: Session, remote: Optional[str] = None) -> int:
    query = select(UploadJob).where(UploadJob.state == PARKED)
    if remote:
        query = query.where(UploadJob.remote == remote)
    jobs = list(session.scalars(query))
    for job in jobs:
        _reset(job)
        job.last_error = f"re-queued after: {job.last_error}"
    session.commit()
    return len(jobs)


@dataclass
class RemoteStatus:
    remote: str
    depth: dict = field(default_factory=dict)  # kind -> jobs not yet delivered (pending + leased)
    parked: dict = field(default_factory=dict)  # kind -> parked jobs
    oldest_pending: Optional[dt.datetime] = None
    last_success: Optional[dt.datetime] = None
    last_error: Optional[str] = None
    last_error_at: Optional[dt.datetime] = None
    delivered: int = 0


def status(session: Session, remotes: Sequence[str]) -> list:
    kind = func.coalesce(Asset.kind, UploadJob.action)
    out = []
    for remote in remotes:
        st = RemoteStatus(remote)
        rows = session.execute(
            select(UploadJob.state, kind, func.count(UploadJob.id))
            .outerjoin(Asset, Asset.id == UploadJob.asset_id).where(UploadJob.remote == remote)
            .group_by(UploadJob.state, kind)).all()
        for state, k, n in rows:
            if state in (PENDING, LEASED):
                st.depth[k] = st.depth.get(k, 0) + n
            elif state == PARKED:
                st.parked[k] = n
            else:
                st.delivered += n
        st.oldest_pending = session.scalar(select(func.min(UploadJob.sort_time)).where(
            UploadJob.remote == remote, UploadJob.state.in_((PENDING, LEASED))))
        st.last_success = session.scalar(select(func.max(UploadJob.done_at)).where(UploadJob.remote == remote))
        err = session.execute(select(UploadJob.last_error, UploadJob.updated_at).where(
            UploadJob.remote == remote, UploadJob.state.in_((PENDING, PARKED)), UploadJob.last_error.is_not(None))
            .order_by(UploadJob.updated_at.desc()).limit(1)).first()
        if err:
            st.last_error, st.last_error_at = err
        out.append(st)
    session.rollback()
    return out
