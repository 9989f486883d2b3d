"""`skyfleet sync ...`: the camera host's side of the SyncAPI (the worker daemon is `skyfleet-upload-worker`)."""
from __future__ import annotations

import sys
import uuid

import click
from flask.cli import AppGroup
from sqlalchemy import func, select, update

from .core.version import version
from .db_setup import session_factory
from .extensions import app_settings
from .models import Asset, Camera, PruneEvent, UploadJob, utcnow
from .upload import metadata, queue
from .upload.client import EXPIRED, NOT_FOUND, OK, SyncClient
from .upload.config import NO_REMOTE, PROTOCOLS, UploadConfigError, from_table
from .upload.worker import EXPIRED_NOTE, UploadWorker, expired_note

sync_cli = AppGroup("sync", help="Upload queue of this camera host: status, retry, resync, check.")


def _settings():
    return app_settings()


def _upload_settings():
    try:
        upload = from_table(_settings().table("upload"))
    except UploadConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not upload.remotes:
        raise click.ClickException(NO_REMOTE)
    return upload


def _sessions():
    s = _settings()
    return session_factory(s.database_url, s.sqlite_busy_timeout_ms)


def _remotes(upload, name):
    return [upload.remote(name)] if name else list(upload.remotes)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"


@sync_cli.command("status")
def sync_status() -> None:
    """Queue depth per kind, oldest pending, last success and last error, per remote."""
    upload = _upload_settings()
    click.echo(f"skyfleet {version()}")
    with _sessions()() as session:
        rows = queue.status(session, [r.name for r in upload.remotes])
    for st in rows:
        waiting = sum(st.depth.values())
        parked = sum(st.parked.values())
        click.echo(f"remote {st.remote}: {waiting} waiting, {parked} parked, {st.delivered} delivered")
        for kind in sorted(set(st.depth) | set(st.parked)):
            click.echo(f"  {kind:<15} waiting {st.depth.get(kind, 0):>6}   parked {st.parked.get(kind, 0):>6}")
        click.echo(f"  oldest waiting: {_when(st.oldest_pending)}")
        click.echo(f"  last success:   {_when(st.last_success)}")
        if st.last_error:
            click.echo(f"  last error:     {_when(st.last_error_at)}: {st.last_error}")
    with _sessions()() as session:
        _dropped(session)


def _dropped(session) -> None:
    """What pruning below the emergency floor removed before every remote had it (housekeeping/prune.py)."""
    total = session.scalar(select(func.coalesce(func.sum(PruneEvent.undelivered), 0))
                           .where(PruneEvent.undelivered > 0))
    if not total:
        return
    last = session.execute(select(PruneEvent, Camera.name).outerjoin(Camera, Camera.id == PruneEvent.camera_id)
                           .where(PruneEvent.undelivered > 0).order_by(PruneEvent.id.desc()).limit(1)).first()
    event, camera = last
    click.echo(f"dropped before delivery: {total} asset(s), the disk being below the emergency floor; last "
               f"{_when(event.at)}: {event.undelivered} of {event.prune_class.replace('_', ' ')} of camera "
               f"{camera or '?'}, night {event.day_date:%Y-%m-%d} (see `skyfleet storage status`)")


@sync_cli.command("retry")
@click.option("--remote", help="Only this remote.")
def sync_retry(remote) -> None:
    """Put parked jobs back into the queue (after fixing what parked them)."""
    upload = _upload_settings()
    if remote:
        upload.remote(remote)
    with _sessions()() as session:
        n = queue.requeue_parked(session, remote)
    click.echo(f"re-queued {n} parked job(s)")


@sync_cli.command("check")
def sync_check() -> None:
    """A real round trip to every remote: authentication, then this host's cameras."""
    upload = _upload_settings()
    failed = False
    with _sessions()() as session:
        cameras = list(session.scalars(select(Camera)))
        for remote in upload.remotes:
            cl = SyncClient(remote, remote.load_key())
            try:
                _authenticate(cl, f"remote {remote.name} ({remote.url})")
                for cam in cameras:
                    put = cl.request("PUT", "camera", metadata.for_camera(cam))
                    got = cl.request("GET", "camera", {"camera_uuid": cam.uuid})
                    if put.outcome != OK or got.outcome != OK:
                        raise click.ClickException(f"remote {remote.name}: camera {cam.name}: "
                                                   f"{put.message or got.message}")
                click.echo(f"ok {remote.name} {remote.url}: {cl.scheme} signatures, "
                           f"{len(cameras)} camera(s) synced, clock offset {cl.clock_offset:+.0f} s")
            except click.ClickException as exc:
                click.echo(f"FAILED {exc.message}", err=True)
                failed = True
            finally:
                cl.close()
    if failed:
        sys.exit(1)


def _authenticate(cl: SyncClient, label: str) -> None:
    """One signed request for an unknown camera: a "not found" proves reachability and the key."""
    probe = cl.request("GET", "camera", {"camera_uuid": str(uuid.uuid4())})
    if probe.outcome != NOT_FOUND:
        raise click.ClickException(f"{label}: {probe.message}")


@sync_cli.command("probe")
@click.argument("url")
@click.option("--username", required=True, help="The SyncAPI account on the remote.")
@click.option("--ca-file", default="", help="CA certificate the remote's certificate must chain to.")
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="auto", show_default=True)
def sync_probe(url, username, ca_file, protocol) -> None:
    """Check a remote URL and an API key (read from stdin) before they go into the settings.

    Exit 0 when the remote accepts the key, 1 when it refuses it or cannot be reached."""
    key = sys.stdin.readline().strip()
    if not key:
        raise click.ClickException("no API key on stdin")
    try:
        upload = from_table({"remotes": [{"name": "probe", "url": url, "username": username, "api_key": key,
                                          "ca_file": ca_file, "protocol": protocol}]})
    except UploadConfigError as exc:
        raise click.ClickException(str(exc).replace("upload.remotes[0]", "probe")) from None
    cl = SyncClient(upload.remotes[0], key)
    try:
        _authenticate(cl, f"{url} as {username}")
    finally:
        cl.close()
    click.echo(f"ok {url}: {username} accepted ({cl.scheme} signatures, clock offset {cl.clock_offset:+.0f} s)")


@sync_cli.command("resync")
@click.option("--remote", help="Only this remote.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y%m%d"]), help="Only nights from this date on.")
@click.option("--kind", "kinds", multiple=True, help="Only these kinds (repeatable), e.g. image, video.")
@click.option("--overwrite", is_flag=True, help="Replace files that differ on the remote (PUT).")
def sync_resync(remote, since, kinds, overwrite) -> None:
    """Ask the remote which local assets it lacks and send exactly those. Safe to interrupt and re-run.

    What a skyfleet remote says it no longer keeps (410 asset_expired: past its retention, or of a night
    it pruned) is not sent; its jobs to that remote are marked done."""
    upload = _upload_settings()
    sessions = _sessions()
    total_failed = 0
    for target in _remotes(upload, remote):
        with sessions() as session:
            query = select(Asset).where(Asset.filename.is_not(None)).order_by(Asset.create_date_utc.desc())
            if since:
                query = query.where(Asset.day_date >= since.date())
            if kinds:
                query = query.where(Asset.kind.in_(kinds))
            assets = list(session.scalars(query))
            cl = SyncClient(target, target.load_key())
            cl.request("GET", "camera", {"camera_uuid": str(uuid.uuid4())})  # learns whether it is skyfleet
            missing, expired = [], 0
            with click.progressbar(assets, label=f"checking {target.name}", file=sys.stderr) as bar:
                for asset in bar:
                    lacks = _remote_lacks(session, cl, target.name, asset)
                    if lacks is EXPIRED:
                        expired += 1
                    elif lacks:
                        missing.append(asset)
            cl.close()
            method = "PUT" if overwrite or not cl.skyfleet_server else "POST"
            for asset in missing:
                queue.enqueue_asset(session, asset, [target.name], method=method)
            session.commit()
            ids = [a.id for a in missing]
        sent, refused, failed = _drain(upload, sessions, target.name, ids)
        click.echo(f"{target.name}: checked {len(assets)}, missing {len(ids)}, sent {sent}, "
                   f"expired on the remote {expired + refused}, not sent yet {failed} (see `skyfleet sync status`)")
        total_failed += failed
    if total_failed:
        sys.exit(1)


def _remote_lacks(session, cl: SyncClient, remote: str, asset: Asset):
    """True when the remote lacks the asset; EXPIRED when it no longer keeps it (its jobs to the remote
    are then marked done: it is not sent again); False when it has it."""
    camera = session.get(Camera, asset.camera_id)
    if cl.skyfleet_server:
        got = cl.request("GET", asset.kind, metadata.lookup(asset, camera))
        if got.outcome == EXPIRED:
            _expired_jobs_done(session, remote, asset, expired_note(got))
            return EXPIRED
        body = got.body or {}
        return not (got.outcome == OK and body.get("file_size") == asset.file_size)
    delivered = session.scalar(select(UploadJob.id).where(
        UploadJob.remote == remote, UploadJob.asset_id == asset.id, UploadJob.state == queue.DONE))
    return delivered is None


def _expired_jobs_done(session, remote: str, asset: Asset, note: str) -> None:
    """The asset's jobs to `remote` that are not done (waiting or parked) are: the remote will not keep it.
    A job a worker holds right now is left to that worker (it gets the same answer)."""
    session.execute(update(UploadJob).where(
        UploadJob.remote == remote, UploadJob.asset_id == asset.id,
        UploadJob.state.in_((queue.PENDING, queue.PARKED))).values(
        state=queue.DONE, done_at=utcnow(), updated_at=utcnow(), lease_owner=None, lease_expires_at=None,
        last_error=note[:2000], last_status=410).execution_options(synchronize_session=False))


def _drain(upload, sessions, remote: str, asset_ids: list) -> tuple:
    """Deliver the re-queued jobs now, in this process, with a progress bar: (sent, refused as expired
    by the remote, not sent yet)."""
    if not asset_ids:
        return 0, 0, 0
    worker = UploadWorker(upload, _settings().storage_dir, sessions, name=f"resync-{uuid.uuid4().hex[:8]}")
    worker.remote_names = [remote]
    with click.progressbar(length=len(asset_ids), label=f"sending to {remote}", file=sys.stderr) as bar:
        done_before = 0
        while worker.run_once():
            done = _count(sessions, remote, asset_ids, queue.DONE)
            bar.update(done - done_before)
            done_before = done
    done = _count(sessions, remote, asset_ids, queue.DONE)
    refused = _count(sessions, remote, asset_ids, queue.DONE, expired=True)
    return done - refused, refused, len(asset_ids) - done


def _count(sessions, remote, asset_ids, state, expired: bool = False) -> int:
    with sessions() as session:
        query = select(func.count(UploadJob.id)).where(
            UploadJob.remote == remote, UploadJob.asset_id.in_(asset_ids), UploadJob.state == state)
        if expired:  # done because the remote answered 410 asset_expired (worker.expired_note)
            query = query.where(UploadJob.last_error.like(EXPIRED_NOTE + "%"))
        return session.scalar(query)

