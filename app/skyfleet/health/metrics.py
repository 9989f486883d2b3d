"""Prometheus metrics of this host, built from a fresh snapshot on every scrape.

A custom collector on a registry of its own (never prometheus_client's global one), so each app (and
each test) has its own.  Metric names and labels are listed in README ("Running unattended").
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .collect import PRUNE_REASONS, Snapshot

log = logging.getLogger(__name__)


def families(snap: Snapshot) -> list:
    """The metric families of one snapshot."""
    out = []

    def gauge(name, doc, labels=()):
        g = GaugeMetricFamily(name, doc, labels=list(labels))
        out.append(g)
        return g

    age = gauge("skyfleet_camera_last_frame_age_seconds",
                "Seconds since the camera's newest image (absent: no image yet)", ["camera"])
    silent = gauge("skyfleet_camera_silent", "1 when the camera sent no frame within its silent threshold",
                   ["camera"])
    for cam in snap.cameras:
        if cam.age_seconds is not None:
            age.add_metric([cam.name], cam.age_seconds)
        silent.add_metric([cam.name], 1.0 if cam.silent else 0.0)
    depth = gauge("skyfleet_upload_queue_depth", "Upload jobs waiting (pending or leased)", ["remote"])
    oldest = gauge("skyfleet_upload_oldest_waiting_age_seconds",
                   "Age of the oldest waiting job's asset (0: nothing waiting)", ["remote"])
    parked = gauge("skyfleet_upload_parked_jobs", "Upload jobs parked after too many failures", ["remote"])
    for r in snap.remotes:
        depth.add_metric([r.name], r.depth)
        oldest.add_metric([r.name], r.oldest_waiting_age_seconds or 0.0)
        parked.add_metric([r.name], r.parked)
    if snap.disk:
        d = snap.disk
        gauge("skyfleet_disk_free_bytes", "Free bytes of the storage folder's filesystem",
              ["tier", "path"]).add_metric([snap.tier, d.path], d.free_bytes)
        gauge("skyfleet_disk_total_bytes", "Size of the storage folder's filesystem",
              ["tier", "path"]).add_metric([snap.tier, d.path], d.total_bytes)
        gauge("skyfleet_disk_floor_bytes", "Free bytes the retention floor asks for",
              ["tier", "path"]).add_metric([snap.tier, d.path], d.floor_bytes)
        gauge("skyfleet_disk_below_floor", "1 when free space is below the retention floor",
              ["tier", "path"]).add_metric([snap.tier, d.path], 1.0 if d.below_floor else 0.0)
        gauge("skyfleet_disk_below_emergency_floor", "1 when free space is below the emergency floor",
              ["tier", "path"]).add_metric([snap.tier, d.path], 1.0 if d.below_emergency_floor else 0.0)
    pruned = CounterMetricFamily("skyfleet_pruned_assets", "Assets removed by pruning, by reason", labels=["reason"])
    pruned_bytes = CounterMetricFamily("skyfleet_pruned_bytes", "Bytes removed by pruning, by reason",
                                       labels=["reason"])
    for reason in sorted(set(PRUNE_REASONS) | set(snap.pruned_assets)):
        pruned.add_metric([reason], snap.pruned_assets.get(reason, 0))
        pruned_bytes.add_metric([reason], snap.pruned_bytes.get(reason, 0))
    out += [pruned, pruned_bytes]
    out.append(CounterMetricFamily("skyfleet_pruned_undelivered",
                                   "Assets removed before every remote had them (emergency floor)",
                                   value=snap.pruned_undelivered))
    if snap.certificate and snap.certificate.days_left is not None:
        gauge("skyfleet_certificate_days_left", "Days until the TLS certificate expires",
              ["path"]).add_metric([snap.certificate.path], snap.certificate.days_left)
    active = gauge("skyfleet_alert_active", "1 for each active alert incident", ["alert", "subject"])
    for name, subject in snap.active_alerts:
        active.add_metric([name, subject], 1.0)
    return out


class SnapshotCollector:
    """Collects `snapshot()` at every scrape; a failing snapshot gives skyfleet_health_collect_success 0."""

    def __init__(self, snapshot: Callable[[], Snapshot]):
        self.snapshot = snapshot

    def collect(self):
        try:
            fams = families(self.snapshot())
            ok = 1.0
        except Exception:  # noqa: BLE001 - a scrape must answer, whatever broke
            log.exception("health snapshot failed")
            fams, ok = [], 0.0
        yield from fams
        yield GaugeMetricFamily("skyfleet_health_collect_success", "1 when this host's health snapshot was taken",
                                value=ok)


def registry_for(snapshot: Callable[[], Snapshot]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return registry


def render(snap: Snapshot) -> bytes:
    """The Prometheus text format of one snapshot."""
    return generate_latest(registry_for(lambda: snap))


def write_textfile(path: Path, snap: Snapshot) -> None:
    """Write the metrics for node_exporter's textfile collector atomically (temp file, then rename)."""
    path = Path(path)
    data = render(snap)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
