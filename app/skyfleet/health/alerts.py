"""Alert rules on a snapshot, and incidents announced once when they start and once when they end.

Rules (name: subject, condition):

    camera_silent        camera name   no frame for camera_silent_minutes (24 h for night-only cameras)
    queue_stalled        remote name   jobs waiting, the oldest longer than queue_stalled_minutes, and
                                       no successful upload within that time
    disk_floor           storage path  free space below the retention floor
    certificate_expiry   cert path     fewer than certificate_warn_days left (or the file is unreadable)
    undelivered_dropped  storage path  a prune removed assets not yet delivered to every remote (an event:
                                       announced once, no recovery notice)

Each incident is an AlertState row (name, subject).  `notified_at` is None while the notice for the
row's current state (firing when active, resolved when not) has not reached every channel; the next
check sends it again, and never again once it went out.  undelivered_dropped keeps in `since` the time
of the newest PruneEvent already announced.

disk_floor and certificate_expiry are about the checking host's own disk and certificate: on a
database several hosts share (PostgreSQL, a fleet's web nodes) their subject names the host ("<path>
on <host>") and each host decides only its own rows, so one node's full disk is not declared over by
another node's free one.  The other rules are about the shared data and any host decides them; checks
on one database run one at a time (an advisory lock on PostgreSQL), so two nodes checking at the same
moment send each notice once.  A node taken out of the site no longer decides its rows: `forget_host`
(`skyfleet health forget-host`, run on any other node) announces its open incidents as over and
removes them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Optional

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..housekeeping.disk import size_text
from ..models import AlertState, Camera, PruneEvent
from .collect import Snapshot

CAMERA_SILENT, QUEUE_STALLED, DISK_FLOOR = "camera_silent", "queue_stalled", "disk_floor"
CERTIFICATE_EXPIRY, UNDELIVERED_DROPPED = "certificate_expiry", "undelivered_dropped"
INCIDENT_RULES = (CAMERA_SILENT, QUEUE_STALLED, DISK_FLOOR, CERTIFICATE_EXPIRY)
PER_HOST_RULES = (DISK_FLOOR, CERTIFICATE_EXPIRY)
# pg_advisory_xact_lock key of the alert check ("skyf" in ASCII): any constant other code does not use
ALERT_CHECK_LOCK = 0x736B7966
FIRING, RESOLVED = "firing", "resolved"
SUBJECT_LENGTH = 128  # AlertState.subject


@dataclass(frozen=True)
class Condition:
    """An alert condition that holds now."""
    name: str
    subject: str
    message: str
    since: Optional[dt.datetime] = None  # None: from the first check that sees it


@dataclass(frozen=True)
class Notice:
    alert: str
    subject: str
    state: str  # firing or resolved
    message: str
    since: Optional[dt.datetime]
    host: str


@dataclass
class CheckResult:
    sent: list = field(default_factory=list)      # Notice delivered
    failed: list = field(default_factory=list)    # (Notice, error) to retry at the next check
    active: list = field(default_factory=list)    # Condition holding now


def when(value: Optional[dt.datetime]) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def own_subject(snap: Snapshot, subject: str) -> str:
    """The subject of a per-host rule's condition: with the host's name on a shared database."""
    if not snap.shared_database:
        return subject
    suffix = host_suffix(snap.host)
    return subject[:SUBJECT_LENGTH - len(suffix)] + suffix


def decided_here(row: AlertState, snap: Snapshot) -> bool:
    """Whether this host's check decides the row: any of a shared rule, a per-host rule's only its own."""
    return (row.name not in PER_HOST_RULES or not snap.shared_database
            or row.subject.endswith(host_suffix(snap.host)))


def host_suffix(host: str) -> str:
    return f" on {host}"


def _one_check_at_a_time(session: Session) -> None:
    """On PostgreSQL, wait for another host's check to commit (the lock ends with this transaction),
    then read the rows as it left them.  SQLite is one host's, and systemd runs one check at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ALERT_CHECK_LOCK})


def conditions(snap: Snapshot) -> list:
    """Every alert condition that holds in the snapshot (undelivered_dropped is an event: see check)."""
    out = []
    for cam in snap.cameras:
        if cam.silent:
            seen = (f"its last frame was at {when(cam.last_frame_at)}, {duration(cam.age_seconds)} ago"
                    if cam.last_frame_at else
                    f"it has sent no frame since it was registered ({when(cam.silent_since)})")
            out.append(Condition(CAMERA_SILENT, cam.name, (
                f"Camera {cam.name!r} is silent: {seen}; a frame is expected at least every "
                f"{duration(cam.silent_after_seconds)}. Check on the camera host that skyfleet-capture is running "
                f"(systemctl status skyfleet-capture, journalctl -u skyfleet-capture), that the camera is powered "
                f"and connected, and, seen from a remote, that the camera host can still upload."), cam.silent_since))
    for r in snap.remotes:
        if r.stalled:
            out.append(Condition(QUEUE_STALLED, r.name, (
                f"Uploads to remote {r.name!r} are stalled: {r.depth} job(s) waiting, the oldest since "
                f"{when(r.oldest_waiting_at)}, last successful upload {when(r.last_success)}"
                + (f", last error: {r.last_error}" if r.last_error else "") +
                ". Check the network and the remote (skyfleet sync check, skyfleet sync status, "
                "journalctl -u 'skyfleet-upload@*'); the queue is kept and resumes by itself."), r.stalled_since))
    d = snap.disk
    if d and d.below_floor:
        level = ("below the EMERGENCY floor" if d.below_emergency_floor else "below the floor")
        out.append(Condition(DISK_FLOOR, own_subject(snap, d.path), (
            f"Free space for {d.path} is {size_text(d.free_bytes)} of {size_text(d.total_bytes)} "
            f"({d.free_percent:.1f} %), {level} ({size_text(d.floor_bytes)}; emergency "
            f"{size_text(d.emergency_floor_bytes)}). skyfleet prunes the "
            f"oldest delivered assets to get back above the floor; below the emergency floor it also removes frames "
            f"not yet delivered. Free space, add a disk or lower the [retention] days.")))
    c = snap.certificate
    if c is not None:
        warn = snap.settings.certificate_warn_days
        if c.error:
            out.append(Condition(CERTIFICATE_EXPIRY, own_subject(snap, c.path), (
                f"The TLS certificate cannot be checked: {c.error}. Check [health] certificate_file and the file.")))
        elif c.days_left is not None and c.days_left < warn:
            state = "has EXPIRED" if c.days_left <= 0 else f"expires in {c.days_left:.0f} day(s)"
            out.append(Condition(CERTIFICATE_EXPIRY, own_subject(snap, c.path), (
                f"The TLS certificate {c.path} {state} (valid until {when(c.not_after)}; warning below {warn} "
                f"days). Renew it (certbot renew, or your CA) and reload the web proxy."),
                c.not_after - dt.timedelta(days=warn) if c.not_after else None))
    return [Condition(x.name, x.subject[:SUBJECT_LENGTH], x.message, x.since) for x in out]


def _recovery(row: AlertState, now: dt.datetime) -> str:
    what = {CAMERA_SILENT: f"Camera {row.subject!r} is sending frames again",
            QUEUE_STALLED: f"Uploads to remote {row.subject!r} are moving again",
            DISK_FLOOR: f"Free space for {row.subject} is back above the floor",
            CERTIFICATE_EXPIRY: f"The TLS certificate {row.subject} is fine again (renewed or checked)"}
    return (f"{what.get(row.name, f'{row.name} {row.subject} is over')} (the incident began "
            f"{when(row.since)} and ended by {when(now)}). Nothing left to do.")


def _undelivered(session: Session, snap: Snapshot, now: dt.datetime) -> Optional[AlertState]:
    """The undelivered_dropped row, active with a fresh message when prunes not yet announced dropped
    undelivered assets."""
    subject = (snap.disk.path if snap.disk else "storage")[:SUBJECT_LENGTH]
    row = session.scalar(select(AlertState).where(AlertState.name == UNDELIVERED_DROPPED))
    query = select(PruneEvent, Camera.name).outerjoin(Camera, Camera.id == PruneEvent.camera_id).where(
        PruneEvent.undelivered > 0).order_by(PruneEvent.at)
    if row is not None and row.since is not None:
        query = query.where(PruneEvent.at > row.since)
    events = session.execute(query).all()
    if not events:
        if row is not None and row.active:
            row.active = False
        return None
    if row is None:
        row = AlertState(name=UNDELIVERED_DROPPED, subject=subject, active=False)
        session.add(row)
    total = sum(e.undelivered for e, _ in events)
    cams = sorted({name or "?" for _, name in events})
    nights = sorted({e.day_date.isoformat() for e, _ in events})
    row.active, row.notified_at, row.updated_at = True, None, now
    row.message = (
        f"Below the emergency floor, {total} asset(s) not yet delivered to every remote were deleted from "
        f"{subject} (camera(s) {', '.join(cams)}; night(s) {', '.join(nights)}; between {when(events[0][0].at)} "
        f"and {when(events[-1][0].at)}). The remotes will never get them. Free space on this host and check "
        f"the uplink (skyfleet sync status).")
    row._first, row._newest = events[0][0].at, events[-1][0].at  # _newest becomes `since` once announced
    return row


def check(session: Session, snap: Snapshot, send: Callable[[Notice], None], now: dt.datetime) -> CheckResult:
    """Update the incidents from the snapshot and send what has not been sent; `send` raises on failure.

    Commits the session."""
    result = CheckResult(active=conditions(snap))
    holding = {(c.name, c.subject): c for c in result.active}
    _one_check_at_a_time(session)
    rows = {(r.name, r.subject): r for r in session.scalars(
        select(AlertState).where(AlertState.name.in_(INCIDENT_RULES))) if decided_here(r, snap)}
    for key, cond in holding.items():
        row = rows.get(key)
        if row is None:
            row = AlertState(name=cond.name, subject=cond.subject, active=False)
            session.add(row)
            rows[key] = row
        if not row.active:
            # A recovery that was never announced followed by the same condition: the incident goes on.
            continuing = row.since is not None and row.notified_at is None
            row.active = True
            row.notified_at = now if continuing else None
            if not continuing:
                row.since = cond.since or now
        row.message = cond.message
        row.updated_at = now
    for key, row in rows.items():
        if row.active and key not in holding:
            row.active, row.notified_at, row.updated_at = False, None, now
            row.message = _recovery(row, now)
    pending = [r for r in rows.values() if r.notified_at is None and r.since is not None]
    dropped = _undelivered(session, snap, now)
    if dropped is not None:
        pending.append(dropped)
    for row in sorted(pending, key=lambda r: (r.name, r.subject)):
        firing = row.active
        since = row.since if row.name != UNDELIVERED_DROPPED else getattr(row, "_first", None)
        notice = Notice(row.name, row.subject, FIRING if firing else RESOLVED, row.message or "", since, snap.host)
        try:
            send(notice)
        except Exception as exc:  # noqa: BLE001 - any channel failure is retried at the next check
            result.failed.append((notice, str(exc) or type(exc).__name__))
            continue
        row.notified_at = now
        if row.name == UNDELIVERED_DROPPED:
            row.since = getattr(row, "_newest", row.since)
        result.sent.append(notice)
    session.commit()
    return result


def forget_host(session: Session, gone: str, here: str, send: Callable[[Notice], None],
                now: dt.datetime) -> CheckResult:
    """End the per-host incidents of host `gone`, taken out of a site whose database several hosts share.

    An incident whose last notice said firing (or whose recovery was not announced yet) gets a resolved
    notice first; a row is removed once nothing about it is left to send, so a failed notice is sent
    again by the next call.  `here` is the host sending.  Commits the session."""
    result = CheckResult()
    _one_check_at_a_time(session)
    suffix = host_suffix(gone)
    rows = [r for r in session.scalars(select(AlertState).where(AlertState.name.in_(PER_HOST_RULES)).order_by(
        AlertState.name, AlertState.subject)) if r.subject.endswith(suffix)]
    for row in rows:
        if row.active or (row.notified_at is None and row.since is not None):
            message = (f"Host {gone!r} was taken out of the site (skyfleet health forget-host on {here}): its "
                       f"incident {row.name} {row.subject}, begun {when(row.since)}, is closed by {when(now)}. "
                       f"Nothing left to do unless the host is still running.")
            notice = Notice(row.name, row.subject, RESOLVED, message, row.since, here)
            try:
                send(notice)
            except Exception as exc:  # noqa: BLE001 - any channel failure: the row stays for the next call
                result.failed.append((notice, str(exc) or type(exc).__name__))
                continue
            result.sent.append(notice)
        session.delete(row)
    session.commit()
    return result
