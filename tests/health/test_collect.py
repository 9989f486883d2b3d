"""The snapshot on a database filled with known ages, jobs and prunes; the metrics it gives."""
import datetime as dt

from prometheus_client.parser import text_string_to_metric_families

from skyfleet.health import metrics
from skyfleet.housekeeping.policy import from_table as retention_from_table

from .conftest import NOW, add_camera, add_image, add_job, add_prune, minutes, snapshot


def samples(snap) -> dict:
    """(sample name, sorted label items) -> value of the rendered snapshot."""
    out = {}
    for fam in text_string_to_metric_families(metrics.render(snap).decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_camera_ages_and_silence(remote_host):
    north = add_camera("north")
    add_image(north, NOW - minutes(50))
    add_image(north, NOW - minutes(5))
    south = add_camera("south")
    add_image(south, NOW - minutes(40))
    night_only = add_camera("night-only", daytime_capture=False)
    add_image(night_only, NOW - dt.timedelta(hours=20))
    add_camera("new", created=NOW - minutes(10))
    snap = snapshot(remote_host)
    by_name = {c.name: c for c in snap.cameras}
    assert by_name["north"].age_seconds == 300 and not by_name["north"].silent
    assert by_name["south"].age_seconds == 2400 and by_name["south"].silent_since == NOW - minutes(40)
    assert not by_name["night-only"].silent and by_name["night-only"].silent_after_seconds == 86400
    assert by_name["new"].age_seconds is None and not by_name["new"].silent
    assert snap.tier == "remote" and snap.remotes == []
    got = samples(snap)
    assert got[("skyfleet_camera_last_frame_age_seconds", (("camera", "north"),))] == 300
    assert got[("skyfleet_camera_last_frame_age_seconds", (("camera", "south"),))] == 2400
    assert ("skyfleet_camera_last_frame_age_seconds", (("camera", "new"),)) not in got
    assert got[("skyfleet_camera_silent", (("camera", "south"),))] == 1
    assert got[("skyfleet_camera_silent", (("camera", "night-only"),))] == 0


def test_a_night_only_camera_is_silent_after_a_day(remote_host):
    cam = add_camera("night-only", daytime_capture=False)
    add_image(cam, NOW - dt.timedelta(hours=25))
    assert snapshot(remote_host).cameras[0].silent


def test_upload_queue_per_remote(camera_host):
    cam = add_camera("north")
    for age, state in ((90, "pending"), (30, "leased"), (20, "pending"), (200, "parked"), (300, "done")):
        add_job(cam, add_image(cam, NOW - minutes(age)), state, NOW - minutes(age),
                done_at=NOW - minutes(80) if state == "done" else None)
    snap = snapshot(camera_host)
    assert snap.tier == "camera"
    [r] = snap.remotes
    assert (r.name, r.depth, r.parked) == ("web1", 3, 1)
    assert r.oldest_waiting_age_seconds == 90 * 60
    assert r.stalled  # waiting for 90 min, last success 80 min ago, threshold 60 min
    got = samples(snap)
    assert got[("skyfleet_upload_queue_depth", (("remote", "web1"),))] == 3
    assert got[("skyfleet_upload_oldest_waiting_age_seconds", (("remote", "web1"),))] == 5400
    assert got[("skyfleet_upload_parked_jobs", (("remote", "web1"),))] == 1
    disk = snap.disk
    assert got[("skyfleet_disk_free_bytes", (("path", disk.path), ("tier", "camera")))] == disk.free_bytes


def test_a_recent_success_means_the_queue_is_not_stalled(camera_host):
    cam = add_camera("north")
    add_job(cam, add_image(cam, NOW - minutes(90)), "pending", NOW - minutes(90))
    add_job(cam, add_image(cam, NOW - minutes(95)), "done", NOW - minutes(95), done_at=NOW - minutes(10))
    assert not snapshot(camera_host).remotes[0].stalled
    assert not snapshot(camera_host, queue_stalled_minutes=120).remotes[0].stalled


def test_prune_sums_by_reason(remote_host):
    cam = add_camera("north")
    add_prune(cam, "retention", 100, 10_000)
    add_prune(cam, "retention", 20, 2_000)
    add_prune(cam, "emergency", 7, 700, undelivered=5)
    add_prune(None, "floor", 3, 300)
    snap = snapshot(remote_host)
    assert snap.pruned_assets == {"retention": 120, "floor": 3, "emergency": 7}
    assert snap.pruned_undelivered == 5
    got = samples(snap)
    assert got[("skyfleet_pruned_assets_total", (("reason", "retention"),))] == 120
    assert got[("skyfleet_pruned_assets_total", (("reason", "emergency"),))] == 7
    assert got[("skyfleet_pruned_bytes_total", (("reason", "retention"),))] == 12_000
    assert got[("skyfleet_pruned_undelivered_total", ())] == 5


def test_disk_against_the_floors(remote_host):
    snap = snapshot(remote_host)
    assert snap.disk.total_bytes > 0 and not snap.disk.below_floor
    # A floor of 10**9 MiB: no test machine has that much free.
    huge = retention_from_table({"floor_mb": 10**9, "emergency_floor_mb": 10**9})
    snap = snapshot(remote_host, retention=huge)
    assert snap.disk.below_floor and snap.disk.below_emergency_floor
    got = samples(snap)
    assert got[("skyfleet_disk_below_floor", (("path", snap.disk.path), ("tier", "remote")))] == 1
    assert got[("skyfleet_disk_total_bytes", (("path", snap.disk.path), ("tier", "remote")))] == snap.disk.total_bytes
