"""The remote's expiry against a real skyfleet remote under gunicorn: what it pruned is answered 410
asset_expired, so `skyfleet sync resync` and the workers never send it again; and a remote whose disk
is below its floor prunes its oldest nights to take an upload (507 only when nothing can go)."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from skyfleet.core.storage import LocalStorage
from skyfleet.db_setup import session_factory
from skyfleet.housekeeping.policy import from_table
from skyfleet.housekeeping.prune import LOCK_NAME, Pruner
from skyfleet.models import ExpiryMark
from skyfleet.upload import client as c
from tests.helpers import retention
from tests.helpers.live import LiveServer, running_server
from tests.upload.conftest import CameraHost, remote_assets

pytestmark = pytest.mark.slow

KEEP_30_DAYS = {**retention.KEEP_EVERYTHING, "images_days": 30}


def night(days_ago: int, minute: int = 0) -> dict:
    """A night frame's keys: 22:00 UTC `days_ago` days ago, dayDate that day."""
    day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=days_ago)
    when = int(dt.datetime(day.year, day.month, day.day, 22, tzinfo=dt.timezone.utc).timestamp()) + 60 * minute
    return {"createDate": when, "dayDate": f"{day:%Y%m%d}", "night": True}


def remote_database(remote: LiveServer) -> str:
    return os.environ.get("SKYFLEET_TEST_DATABASE_URL") or f"sqlite:///{remote.root / 'data' / 'skyfleet.db'}"


def remote_storage(remote: LiveServer, root: Path | None = None) -> LocalStorage:
    root = root or remote.root / "data" / "images"
    return LocalStorage(root, root / ".staging")


def prune_remote(remote: LiveServer, table: dict, days_ahead: int, root: Path | None = None):
    """The remote's own prune (`skyfleet storage prune` does the same), its clock `days_ahead` ahead."""
    sessions = session_factory(remote_database(remote))
    ahead = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=days_ahead)
    try:
        return Pruner(sessions, remote_storage(remote, root), from_table(table), clock=lambda: ahead).run()
    finally:
        sessions.kw["bind"].dispose()


def rejected_posts(remote: LiveServer) -> list:
    """The uploads (POST, PUT) the remote refused, from its log (every refusal is logged, 410 included):
    with its rows, everything it was sent."""
    return [line for line in remote.log_tail(10**7).splitlines()
            if ("syncapi POST" in line or "syncapi PUT" in line) and " rejected (" in line]


def test_resync_sends_nothing_the_remote_expired_and_marks_those_jobs_done(tmp_path):
    with running_server(tmp_path / "remote", extra_settings=retention.toml(KEEP_30_DAYS)) as remote:
        host = CameraHost(tmp_path / "cam", remote).setup()
        for days_ago in (28, 27, 26, 25, 24):  # five nights, two frames each, all delivered
            for minute in (0, 1):
                host.add("image", os.urandom(400), **night(days_ago, minute))
        thumbs = {d: host.add("thumbnail", os.urandom(100), origin=2, **night(d, 0)) for d in (28, 25)}
        host.drain()
        assert {j.state for j in host.jobs()} == {"done"}
        assert len(remote_assets(remote)) == 12

        # The remote prunes four days later: nights older than 30 days then (28 and 27 days ago) go.
        report = prune_remote(remote, KEEP_30_DAYS, days_ahead=4)
        assert sorted(n.day for n in report.nights) == sorted(
            dt.date.fromisoformat(f"{d[:4]}-{d[4:6]}-{d[6:]}") for d in (night(28)["dayDate"], night(27)["dayDate"]))
        assert report.assets == 5  # the two nights' frames and the frame thumbnail of one of them
        left = {a[2] for a in remote_assets(remote)}
        assert left == {str(night(d, m)["createDate"]) for d in (26, 25, 24) for m in (0, 1)} | {thumbs[25].uuid}
        assert not list((remote.root / "data" / "images").rglob(f"*/{night(28)['dayDate']}/*/*/*.jpg"))

        # The camera host meanwhile recorded a late frame of a pruned night (not delivered yet), and the
        # remote lost one frame of a night it keeps.
        late = host.add("image", os.urandom(400), **night(27, 5))
        cl = c.SyncClient(host.upload.remote("remote"), remote.key)
        lost = night(25, 1)
        lost_id = [a[0] for a in remote_assets(remote) if a[2] == str(lost["createDate"])][0]
        assert cl.request("DELETE", "image", {"id": lost_id, "camera_uuid": host.camera.uuid}).outcome == c.OK

        result = host.app.test_cli_runner().invoke(args=["sync", "resync"])
        assert result.exit_code == 0, result.output
        assert "checked 13, missing 1, sent 1, expired on the remote 6" in result.output
        assert rejected_posts(remote) == []  # nothing of the expired nights was sent
        after = {a[2] for a in remote_assets(remote)}
        assert after == left  # the lost frame is back, nothing else was added
        assert {j.state for j in host.jobs()} == {"done"}
        late_job = [j for j in host.jobs() if j.asset_id == late.id][0]
        assert late_job.last_error.startswith("expired on the remote: ") and late_job.last_status == 410

        again = host.app.test_cli_runner().invoke(args=["sync", "resync"])
        assert again.exit_code == 0, again.output
        assert "missing 0, sent 0, expired on the remote 6" in again.output
        assert rejected_posts(remote) == [] and {a[2] for a in remote_assets(remote)} == left

        # A worker that POSTs a frame of a pruned night gets 410: the job is done, not parked or retried.
        later = host.add("image", os.urandom(400), **night(28, 9))
        host.drain()
        job = [j for j in host.jobs() if j.asset_id == later.id][0]
        assert job.state == "done" and job.attempts == 1
        assert job.last_error.startswith("expired on the remote: ") and "were pruned here" in job.last_error
        assert len(rejected_posts(remote)) == 1 and "(410 asset_expired)" in rejected_posts(remote)[0]
        assert {a[2] for a in remote_assets(remote)} == left


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (a real filesystem that fills up), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    disk = tmp_path / "small"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


FLOOR_1_MIB = {**retention.KEEP_EVERYTHING, "floor_mb": 1}


def ballast(disk: Path, leave_free: int) -> Path:
    """A file that is no asset, filling the disk until `leave_free` bytes are free."""
    st = os.statvfs(disk)
    target = disk / "ballast.bin"
    with open(target, "ab") as fh:
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave_free))
    return target


def free_bytes(disk: Path) -> int:
    st = os.statvfs(disk)
    return st.f_bavail * st.f_frsize


def small_remote(tmp_path: Path, disk: Path):
    settings = f'storage_dir = "{disk / "images"}"\n' + retention.toml(FLOOR_1_MIB)
    return running_server(tmp_path / "remote", extra_settings=settings)


def deliver_one(host: CameraHost):
    """Run a worker until nothing is claimable (one attempt per job)."""
    worker = host.worker()
    while worker.run_once():
        pass


def test_remote_below_its_floor_prunes_its_oldest_nights_to_take_an_upload(tmp_path, small_disk):
    with small_remote(tmp_path, small_disk) as remote:
        host = CameraHost(tmp_path / "cam", remote).setup()
        for i in range(4):  # four old nights, one frame each
            host.add("image", os.urandom(400 * 1024), **night(100 - i))
        host.drain()
        assert len(remote_assets(remote)) == 4 and {j.state for j in host.jobs()} == {"done"}
        ballast(small_disk, leave_free=700 * 1024)  # below the 1 MiB floor, room for the upload's staging
        new = host.add("image", os.urandom(300 * 1024), **night(1))
        deliver_one(host)
        job = [j for j in host.jobs() if j.asset_id == new.id][0]
        assert job.state == "done", (job.state, job.last_status, job.last_error)
        stored = {a[2]: a[3] for a in remote_assets(remote)}
        assert stored[str(night(1)["createDate"])] == new.file_size
        assert str(night(100)["createDate"]) not in stored  # the oldest night went first
        assert str(night(97)["createDate"]) in stored  # not more than the floor asks for
        assert free_bytes(small_disk) >= 1024 * 1024 - 300 * 1024
        images = remote_storage(remote, small_disk / "images")
        names = sorted(p.name for p in images.root.rglob("*.jpg"))
        assert len(names) == len(stored)  # the pruned nights' files are gone with their rows
        engine_sessions = session_factory(remote_database(remote))
        try:
            with engine_sessions() as s:
                marks = [(m.prune_class, m.through_day) for m in s.scalars(select(ExpiryMark))]
        finally:
            engine_sessions.kw["bind"].dispose()
        assert [m[0] for m in marks] == ["night_frames"]
        # what the remote pruned to make room is expired there now: a resync does not send it back
        result = host.app.test_cli_runner().invoke(args=["sync", "resync"])
        assert result.exit_code == 0, result.output
        pruned = 4 + 1 - len(stored)
        assert pruned >= 1 and f"missing 0, sent 0, expired on the remote {pruned}" in result.output


def test_remote_full_with_nothing_to_prune_answers_507_and_stores_nothing(tmp_path, small_disk):
    with small_remote(tmp_path, small_disk) as remote:
        host = CameraHost(tmp_path / "cam", remote).setup()
        host.drain()  # the camera sync
        ballast(small_disk, leave_free=64 * 1024)  # a file that is no asset: nothing the remote may prune
        frame = host.add("image", os.urandom(300 * 1024), **night(1))
        deliver_one(host)
        job = [j for j in host.jobs() if j.asset_id == frame.id][0]
        assert job.state == "pending" and job.last_status == 507, (job.state, job.last_status, job.last_error)
        assert "insufficient_storage" in job.last_error
        assert remote_assets(remote) == []
        left = sorted(str(p.relative_to(small_disk)) for p in small_disk.rglob("*") if p.is_file())
        assert left == ["ballast.bin", f"images/{LOCK_NAME}"]  # nothing half-written, staging empty
        assert "500 Internal" not in remote.log_tail(10**7)
