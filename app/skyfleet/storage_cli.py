"""`skyfleet storage ...`: housekeeping of the storage folder from the shell and from systemd timers.

`status` shows what the storage holds (per camera, kind and month), the free space against the floors,
the retention in force and what the next prune would remove; `prune` prunes (housekeeping/prune.py:
the retention, then the floor, then the emergency floor); skyfleet-prune.timer runs it hourly.

`clean-staging` removes what killed or crashed processes left in the staging folder: half-received
uploads (`upload-*.part`) of a gunicorn worker that was killed, set-aside files, the work folders of a
recording or a night build. The web app also cleans at start, but a server that runs for months needs
it periodically: the remote's skyfleet-clean-staging.timer runs this command every hour.

`sweep-orphans` (object store only, `[storage] backend = "s3"`) removes objects that no asset row names,
older than --older-than-hours: uploads whose process was killed between placing and committing, deletes
that failed after their row was gone (housekeeping/orphans.py).  `clean-staging` runs it too, with the
default age, so the same hourly timer keeps the bucket clean.

A plain click group (no app context): it needs the settings (and for status, prune and the sweep the
database), not the web app, so it also runs where the web app could not start.  What counts as a
leftover: core/staging.py.
"""
from __future__ import annotations

import datetime as dt
import sys
import time

import click
from sqlalchemy import select

from . import settings as settings_mod
from .core.errors import SyncError
from .core.staging import STALE_SECONDS, leftovers, remove
from .db_setup import session_factory
from .housekeeping import disk, usage
from .housekeeping import policy as retention_policy
from .housekeeping.disk import size_text
from .housekeeping.orphans import sweep
from .housekeeping.prune import NightPruned, Pruner, Report, held_for_delivery
from .models import Camera, PruneEvent
from .storage_setup import storage_from_settings

EXIT_SOME_NOT_REMOVED = 1
EXIT_STILL_BELOW_FLOOR = 1
EXIT_CONFIG_ERROR = 2
ORPHAN_HOURS = 24  # an upload still in flight is never this old

storage_cli = click.Group("storage", help="What the storage holds, pruning by the retention policy, staging leftovers.")


def _settings():
    try:
        settings = settings_mod.load()
        return settings, retention_policy.from_table(settings.table("retention"))
    except (settings_mod.SettingsError, retention_policy.RetentionConfigError) as exc:
        click.echo(f"skyfleet: {exc}", err=True)
        sys.exit(EXIT_CONFIG_ERROR)


def _storage(settings):
    try:
        return storage_from_settings(settings)
    except settings_mod.SettingsError as exc:
        click.echo(f"skyfleet: {exc}", err=True)
        sys.exit(EXIT_CONFIG_ERROR)


def _pruner(settings, policy, progress=None) -> Pruner:
    sessions = session_factory(settings.database_url, settings.sqlite_busy_timeout_ms)
    return Pruner(sessions, _storage(settings), policy, progress=progress, lock_dir=settings.data_dir)


def _where(settings) -> str:
    st = settings.storage
    return f"bucket {st.bucket}" + (f", prefix {st.prefix}" if st.prefix else "") + (
        f" at {st.endpoint_url}" if st.endpoint_url else "")


def _storage_line(settings, policy, du=None) -> str:
    if settings.storage.is_s3:
        return f"storage: object store, {_where(settings)} (no free-space floor: retention only)"
    return f"storage {settings.storage_dir}: {_disk_line(du or disk.usage(settings.storage_dir), policy)}"


def _disk_line(du: disk.DiskUsage, policy: retention_policy.RetentionPolicy) -> str:
    floor, emergency = policy.floor.bytes_for(du.total_bytes), policy.emergency.bytes_for(du.total_bytes)
    state = ("below the emergency floor" if du.below(policy.emergency) else
             "below the floor" if du.below(policy.floor) else "above the floor")
    return (f"{size_text(du.free_bytes)} free of {size_text(du.total_bytes)} ({du.free_percent:.0f} %); "
            f"floor {size_text(floor)} ({policy.floor.percent:g} % / {policy.floor.mb} MiB), emergency floor "
            f"{size_text(emergency)} ({policy.emergency.percent:g} % / {policy.emergency.mb} MiB): {state}")


def _days_text(days: retention_policy.Days) -> str:
    def keep(n):
        return "forever" if not n else f"{n} days"
    thumbs = "with their frames" if not days.thumbnails_days else keep(days.for_class(retention_policy.THUMBNAILS))
    return (f"images {keep(days.images_days)}, thumbnails {thumbs}, FITS/raw {keep(days.fits_days)}, "
            f"night products {keep(days.products_days)}")


def _night_line(verb: str, n) -> str:
    extra = f", {n.undelivered} NOT YET DELIVERED" if n.undelivered else ""
    return (f"{verb} {n.prune_class.replace('_', ' ')} of {n.camera}, night {n.day:%Y-%m-%d} ({n.reason}): "
            f"{n.assets} asset(s), {size_text(n.bytes)}{extra}")


@storage_cli.command("status")
def storage_status() -> None:
    """Usage per camera, kind and month, free space, the retention in force and the next prune."""
    settings, policy = _settings()
    pruner = _pruner(settings, policy)
    click.echo(_storage_line(settings, policy))
    click.echo(f"retention: {_days_text(policy.days)}")
    for name, days in sorted(policy.cameras.items()):
        click.echo(f"  camera {name}: {_days_text(days)}")
    with pruner.sessions() as session:
        rows = usage.by_camera_kind_month(session)
        held = held_for_delivery(session)
        events = list(session.execute(
            select(PruneEvent, Camera.name).outerjoin(Camera, Camera.id == PruneEvent.camera_id)
            .order_by(PruneEvent.at.desc(), PruneEvent.id.desc()).limit(5)))
    click.echo("usage per camera, month and kind:" if rows else "usage: no assets stored")
    for row in rows:
        click.echo(f"  {row.camera:<20} {row.month}  {row.kind:<15} {row.assets:>8} asset(s) "
                   f"{size_text(row.bytes):>12}")
    click.echo(f"not yet delivered to every remote (kept above the emergency floor): {held} asset(s)")
    plan = pruner.run(dry_run=True, wait=False)
    if plan.busy:
        click.echo("next prune: a prune is running now")
    elif not plan.nights:
        click.echo("next prune would remove nothing" + (f" ({plan.held} asset(s) past retention wait for delivery)"
                                                        if plan.held else ""))
    else:
        click.echo(f"next prune would remove {plan.assets} asset(s), {size_text(plan.bytes)}:")
        for n in plan.nights:
            click.echo("  " + _night_line("would remove", n))
    for event, camera in events:
        night = NightPruned(camera or "?", event.prune_class, event.day_date, event.reason, event.assets,
                            event.bytes, event.undelivered)
        click.echo(_night_line(f"pruned {event.at:%Y-%m-%d %H:%M} UTC:", night))


@storage_cli.command("prune")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def storage_prune(dry_run: bool) -> None:
    """Remove what the retention policy and the free-space floors ask for (oldest first).

    Exit status 0 when done (or another prune was running), 1 when free space is still below the
    floor afterwards (nothing more may go: see `skyfleet storage status`), 2 for bad settings."""
    settings, policy = _settings()
    plan = _pruner(settings, policy).run(dry_run=True, wait=False)
    if dry_run or plan.busy or not plan.nights:  # nothing to do is what a real run would have done
        _summary(plan, dry_run=dry_run, settings=settings, policy=policy)
        if not dry_run and plan.disk_after is not None and plan.disk_after.below(policy.floor):
            sys.exit(EXIT_STILL_BELOW_FLOOR)
        return
    with click.progressbar(length=plan.assets, label="pruning", file=sys.stderr) as bar:
        report = _pruner(settings, policy, progress=bar.update).run()
    _summary(report, dry_run=False, settings=settings, policy=policy)
    if report.disk_after is not None and report.disk_after.below(policy.floor):
        sys.exit(EXIT_STILL_BELOW_FLOOR)


def _summary(report: Report, *, dry_run: bool, settings, policy) -> None:
    if report.busy:
        click.echo("another prune is running: nothing done")
        return
    verb = "would remove" if dry_run else "removed"
    for n in report.nights:
        click.echo(_night_line(verb, n))
    held = f"; kept {report.held} asset(s) past retention that some remote still lacks" if report.held else ""
    click.echo(f"{verb} {report.assets} asset(s), {size_text(report.bytes)}{held}")
    click.echo(_storage_line(settings, policy, report.disk_after))


@storage_cli.command("clean-staging")
@click.option("--older-than", "older_than", type=click.IntRange(min=0), default=STALE_SECONDS,
              show_default=True, metavar="SECONDS", help="Remove only what was last written this long ago.")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def clean_staging(older_than: int, dry_run: bool) -> None:
    """Remove leftovers of killed or crashed processes from the staging folder.

    Prints one line per removed file or folder and a summary; exit status 0 when everything old was
    removed (or nothing was there), 1 when something could not be removed, 2 for bad settings."""
    try:
        settings = settings_mod.load()
    except settings_mod.SettingsError as exc:
        click.echo(f"skyfleet: {exc}", err=True)
        sys.exit(2)
    staging = settings.staging_dir
    removed = failed = freed = 0
    for leftover in leftovers(staging, older_than, time.time()):
        kind = "folder" if leftover.is_dir else "file"
        if not dry_run:
            try:
                remove(leftover)
            except OSError as exc:
                failed += 1
                click.echo(f"cannot remove {leftover.path}: {exc.strerror or exc}", err=True)
                continue
        removed += 1
        freed += leftover.size
        verb = "would remove" if dry_run else "removed"
        click.echo(f"{verb} {kind} {leftover.path} ({leftover.size} bytes, last written "
                   f"{int(leftover.age)} s ago)")
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {removed} leftover(s) older than {older_than} s from {staging} ({freed} bytes)"
               + (f"; {failed} could not be removed" if failed else ""))
    if settings.storage.is_s3 and not _sweep_orphans(settings, ORPHAN_HOURS, dry_run):
        failed += 1
    if failed:
        sys.exit(EXIT_SOME_NOT_REMOVED)


@storage_cli.command("sweep-orphans")
@click.option("--older-than-hours", "hours", type=click.FloatRange(min=0), default=ORPHAN_HOURS,
              show_default=True, help="Remove only objects stored this long ago (younger ones may be in flight).")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def sweep_orphans(hours: float, dry_run: bool) -> None:
    """Remove objects that no asset row names from the object store (killed uploads, failed deletes).

    Exit status 0 when done, 1 when something could not be removed or the store was unavailable,
    2 for bad settings (or a storage that is no object store)."""
    try:
        settings = settings_mod.load()
    except settings_mod.SettingsError as exc:
        click.echo(f"skyfleet: {exc}", err=True)
        sys.exit(EXIT_CONFIG_ERROR)
    if not settings.storage.is_s3:
        click.echo("skyfleet: sweep-orphans is for an object store ([storage] backend = \"s3\"); files in the "
                   f"storage folder {settings.storage_dir} are not swept", err=True)
        sys.exit(EXIT_CONFIG_ERROR)
    if not _sweep_orphans(settings, hours, dry_run):
        sys.exit(EXIT_SOME_NOT_REMOVED)


def _sweep_orphans(settings, hours: float, dry_run: bool) -> bool:
    """Sweep and print one line per object and a summary; False when something failed."""
    storage = _storage(settings)
    sessions = session_factory(settings.database_url, settings.sqlite_busy_timeout_ms)
    now = dt.datetime.now(dt.timezone.utc)
    try:
        report = sweep(sessions, storage, older_than=dt.timedelta(hours=hours), now=now, dry_run=dry_run)
    except SyncError as exc:
        click.echo(f"cannot sweep orphans: {exc.message} ({exc.log_detail})", err=True)
        return False
    finally:
        sessions.kw["bind"].dispose()
    verb = "would remove" if dry_run else "removed"
    for obj in report.removed:
        age = (now - obj.modified).total_seconds() / 3600
        click.echo(f"{verb} {'set-aside ' if obj.set_aside else ''}orphan {obj.key} ({obj.size} bytes, "
                   f"stored {age:.1f} h ago)")
    for obj, why in report.failed:
        click.echo(f"cannot remove orphan {obj.key}: {why}", err=True)
    aborted = f"; {verb} {report.aborted_uploads} unfinished multipart upload(s)" if report.aborted_uploads else ""
    young = f"; {report.kept_young} younger one(s) kept" if report.kept_young else ""
    click.echo(f"{verb} {len(report.removed)} orphan(s) older than {hours:g} h from {_where(settings)} "
               f"({report.bytes} bytes){aborted}{young}" + (f"; {len(report.failed)} could not be removed"
                                                          if report.failed else ""))
    return not report.failed
