"""`skyfleet health ...`: this host's health from the shell and from skyfleet-health.timer (every 5 min).

A plain click group (no app context): it reads the settings and opens a plain SQLAlchemy session, so it
works where the web app does not run (a camera host) or could not start.

    skyfleet health show [--json]   the snapshot; exit 0 healthy, 1 when an alert condition holds
    skyfleet health check           update the incidents, send the notices not sent yet, write the
                                    [health] textfile; exit 1 when a notice could not be sent (it is
                                    retried at the next check), 2 for bad settings
    skyfleet health forget-host HOST
                                    on a fleet site, close the disk and certificate incidents of a
                                    node taken out of it (resolved notices, then the rows go); exit 1
                                    when a notice could not be sent (run it again), 2 for bad use
"""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from . import settings as settings_mod
from .db_setup import session_factory
from .health import alerts, collect, metrics
from .health.config import HealthConfigError, alerts_from_table, health_from_table
from .health.notify import Notifier
from .housekeeping import policy
from .housekeeping.disk import size_text
from .models import utcnow

EXIT_UNHEALTHY = EXIT_NOTIFY_FAILED = 1
EXIT_CONFIG_ERROR = 2

# The clock of every check (naive UTC); tests replace it.
clock = utcnow

health_cli = click.Group("health", help="Health of this host: snapshot, alerts, metrics textfile.")


def _load():
    try:
        settings = settings_mod.load()
        return (settings, health_from_table(settings.table("health")), alerts_from_table(settings.table("alerts")),
                policy.from_table(settings.table("retention")))
    except (settings_mod.SettingsError, HealthConfigError, policy.RetentionConfigError) as exc:
        click.echo(f"skyfleet: {exc}", err=True)
        sys.exit(EXIT_CONFIG_ERROR)


def _snapshot(session, settings, health, retention, now):
    try:
        return collect.collect(session, settings, health, retention, now)
    except SQLAlchemyError as exc:
        click.echo(f"skyfleet: cannot read the database ({settings.database_url.split('://')[0]}): "
                   f"{type(exc).__name__}; run `skyfleet db upgrade`?", err=True)
        sys.exit(1)


def describe(snap: collect.Snapshot, conditions: list) -> str:
    lines = [f"host {snap.host} ({snap.tier} tier) at {alerts.when(snap.at)}"]
    for c in snap.cameras:
        seen = (f"last frame {alerts.duration(c.age_seconds)} ago ({alerts.when(c.last_frame_at)})"
                if c.last_frame_at else "no frame yet")
        lines.append(f"camera {c.name}: {seen}; silent after {alerts.duration(c.silent_after_seconds)}"
                     + (" -- SILENT" if c.silent else ""))
    for r in snap.remotes:
        lines.append(f"remote {r.name}: {r.depth} waiting (oldest {alerts.when(r.oldest_waiting_at)}), "
                     f"{r.parked} parked, last success {alerts.when(r.last_success)}"
                     + (" -- STALLED" if r.stalled else ""))
    if snap.disk:
        d = snap.disk
        lines.append(f"disk {d.path}: {size_text(d.free_bytes)} free of {size_text(d.total_bytes)} "
                     f"({d.free_percent:.1f} %); "
                     f"floor {size_text(d.floor_bytes)}, emergency floor {size_text(d.emergency_floor_bytes)}"
                     + (" -- BELOW THE FLOOR" if d.below_floor else ""))
    lines.append("pruned assets: " + ", ".join(f"{k} {v}" for k, v in sorted(snap.pruned_assets.items()))
                 + f"; undelivered dropped {snap.pruned_undelivered}")
    if snap.certificate:
        c = snap.certificate
        lines.append(f"certificate {c.path}: " + (c.error or f"{c.days_left:.1f} days left "
                                                   f"(until {alerts.when(c.not_after)})"))
    for err in snap.errors:
        lines.append(f"error: {err}")
    lines.append(f"alert conditions: {len(conditions) or 'none'}")
    for cond in conditions:
        lines.append(f"  {cond.name} {cond.subject}: {cond.message}")
    return "\n".join(lines)


def _report(result: alerts.CheckResult, notifier: Notifier, when_failed: str) -> None:
    """One line per notice sent, and per notice not sent with what becomes of it."""
    for notice in result.sent:
        click.echo(f"sent {notice.state} {notice.alert} {notice.subject}"
                   + ("" if notifier.channels else " (no channel configured in [alerts]: recorded only)"))
    for notice, error in result.failed:
        click.echo(f"not sent {notice.state} {notice.alert} {notice.subject} ({when_failed}): {error}", err=True)


@health_cli.command("show")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
def show(as_json: bool) -> None:
    """This host's health snapshot. Exit 0 when healthy, 1 when an alert condition holds."""
    settings, health, _, retention = _load()
    session = session_factory(settings.database_url, settings.sqlite_busy_timeout_ms)()
    try:
        snap = _snapshot(session, settings, health, retention, clock())
    finally:
        session.close()
    conditions = alerts.conditions(snap)
    if as_json:
        doc = snap.as_dict()
        doc["healthy"] = not conditions and not snap.errors
        doc["conditions"] = [{"alert": c.name, "subject": c.subject, "message": c.message,
                              "since": collect.iso(c.since)} for c in conditions]
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(describe(snap, conditions))
    if conditions or snap.errors:
        sys.exit(EXIT_UNHEALTHY)


@health_cli.command("check")
def check() -> None:
    """Update the alert incidents, send the notices not sent yet, write the metrics textfile.

    Exit 0 when every notice went out, 1 when one could not be sent (retried at the next check),
    2 for bad settings."""
    settings, health, alert_cfg, retention = _load()
    now = clock()
    session = session_factory(settings.database_url, settings.sqlite_busy_timeout_ms)()
    try:
        snap = _snapshot(session, settings, health, retention, now)
        notifier = Notifier(alert_cfg, snap.host)
        try:
            result = alerts.check(session, snap, notifier.send, now)
        except SQLAlchemyError as exc:
            click.echo(f"skyfleet: cannot record the alert states: {type(exc).__name__}", err=True)
            sys.exit(1)
        if health.textfile:
            snap = _snapshot(session, settings, health, retention, now)  # with the alerts just updated
    finally:
        session.close()
    _report(result, notifier, "retried next check")
    failed = bool(result.failed)
    if health.textfile:
        try:
            metrics.write_textfile(Path(health.textfile), snap)
        except OSError as exc:
            click.echo(f"cannot write {health.textfile}: {exc.strerror or exc}", err=True)
            failed = True
    click.echo(f"{len(result.active)} alert condition(s) hold; {len(result.sent)} notice(s) sent, "
               f"{len(result.failed)} failed")
    if failed:
        sys.exit(EXIT_NOTIFY_FAILED)


@health_cli.command("forget-host")
@click.argument("host")
def forget_host(host: str) -> None:
    """Close the disk and certificate incidents of HOST, a web node taken out of the site.

    Only on a database several hosts share (PostgreSQL), from another host: such incidents are named
    "<path> on HOST" and only HOST's own checks end them.  Exit 0 when every resolved notice went out,
    1 when one could not be sent (its incident stays: run the command again), 2 for bad use."""
    settings, _, alert_cfg, _ = _load()
    here = socket.gethostname()
    if not settings.database_is_shared:
        click.echo("skyfleet: this host's database is SQLite, its own: incidents are named after a host only on "
                   "a database several hosts share (database_url = postgresql...)", err=True)
        sys.exit(EXIT_CONFIG_ERROR)
    if host == here:
        click.echo(f"skyfleet: {host} is this host: run forget-host on another node of the site (this host's next "
                   "check would open its incidents again)", err=True)
        sys.exit(EXIT_CONFIG_ERROR)
    notifier = Notifier(alert_cfg, here)
    session = session_factory(settings.database_url, settings.sqlite_busy_timeout_ms)()
    try:
        result = alerts.forget_host(session, host, here, notifier.send, clock())
    except SQLAlchemyError as exc:
        click.echo(f"skyfleet: cannot update the alert states: {type(exc).__name__}", err=True)
        sys.exit(1)
    finally:
        session.close()
    _report(result, notifier, "its incident stays; run again")
    click.echo(f"host {host}: {len(result.sent)} incident(s) closed, {len(result.failed)} not (notice failed)")
    if result.failed:
        sys.exit(EXIT_NOTIFY_FAILED)
