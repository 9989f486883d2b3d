"""The SyncAPI client and the outbox against a real skyfleet remote under gunicorn (no mocks)."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from skyfleet.upload import client as c
from skyfleet.upload import metadata
from tests.helpers import metadata as mdh
from tests.helpers.live import free_port, running_server
from tests.helpers.media import fake
from tests.helpers.waiting import wait_until
from tests.upload.conftest import CameraHost, remote_assets

pytestmark = pytest.mark.slow


def fetch(remote, url) -> bytes:
    resp = requests.get(f"{remote.url}/indi-allsky/{url}", timeout=30)
    assert resp.status_code == 200
    return resp.content


@pytest.mark.parametrize("protocol", ["auto", "indi-allsky"])
def test_every_kind_round_trips(tmp_path, remote, protocol):
    host = CameraHost(tmp_path / "cam", remote, protocol=protocol).setup()
    local = {kind: host.add(kind, os.urandom(2000) + kind.encode()) for kind in mdh.ALL_KINDS}
    host.drain()
    jobs = {j.asset_id: j for j in host.jobs() if j.asset_id}
    assert all(j.state == "done" and j.remote_id for j in jobs.values()), [
        (j.state, j.last_error) for j in jobs.values()]
    cl = c.SyncClient(host.upload.remote("remote"), remote.key)

    def signed_earlier(seconds: float) -> c.SyncClient:
        return c.SyncClient(host.upload.remote("remote"), remote.key, clock=lambda: time.time() - seconds,
                            session=cl.session)

    with host.sessions() as s:
        for kind, asset in local.items():
            asset = s.merge(asset)
            camera = s.merge(host.camera)
            rid = jobs[asset.id].remote_id
            got = cl.request("GET", kind, {"id": rid, "camera_uuid": camera.uuid})
            assert got.outcome == c.OK and got.body["id"] == rid
            assert fetch(remote, got.body["url"]) == (host.storage.root / asset.filename).read_bytes()
            other = tmp_path / f"other{mdh.EXTENSION[kind]}"
            other.write_bytes(fake(other.suffix, b"replacement " + kind.encode()))
            put = cl.request("PUT", kind, metadata.for_asset(asset, camera), other, other.name)
            assert put.outcome == c.OK and put.remote_id == rid
            assert fetch(remote, put.body["url"]) == other.read_bytes()
            # The DELETE and the last GET repeat the first GET's metadata: in v1 each is signed in an
            # earlier 5-minute bucket (still accepted), since one v1 MAC with two methods is a replay.
            gone = signed_earlier(300).request("DELETE", kind, {"id": rid, "camera_uuid": camera.uuid})
            assert gone.outcome == c.OK, gone.message
            again = signed_earlier(600).request("GET", kind, {"id": rid, "camera_uuid": camera.uuid})
            assert again.outcome == c.NOT_FOUND, again.message
    assert cl.scheme == ("skyfleet" if protocol == "auto" else "v1")


def test_remote_down_then_up_delivers_everything_exactly_once(tmp_path, remote):
    remote.stop()
    host = CameraHost(tmp_path / "cam", remote).setup()
    for i in range(200):
        host.add("image", os.urandom(512), createDate=mdh.NIGHT_START + 60 * i)
    stop = threading.Event()
    workers = [threading.Thread(target=host.worker(f"w{i}", stop=stop).run) for i in range(2)]
    for w in workers:
        w.start()
    try:
        assert wait_until(lambda: any("unreachable" in (j.last_error or "") for j in host.jobs()), 60), \
            "no worker met the dead remote"
        assert all(j.state in ("pending", "leased") for j in host.jobs())  # backing off, none given up
        remote.start()
        assert wait_until(lambda: host.waiting() == 0, 180), f"{host.waiting()} jobs still waiting"
    finally:
        stop.set()
        for w in workers:
            w.join()
    images = [a for a in remote_assets(remote) if a[1] == "image"]
    assert len(images) == 200 and len({a[2] for a in images}) == 200
    done = host.jobs("done")
    assert len({j.remote_id for j in done if j.asset_id}) == 200


def test_newest_images_go_first(tmp_path, remote):
    host = CameraHost(tmp_path / "cam", remote).setup()
    for i in range(5):
        host.add("image", b"x" * 100, createDate=mdh.NIGHT_START + 60 * i)
    host.drain()
    order = sorted((j for j in host.jobs() if j.asset_id), key=lambda j: j.done_at)
    created = [j.sort_time for j in order]
    assert created == sorted(created, reverse=True)


def test_worker_killed_mid_upload_delivers_once_without_partial_file(tmp_path, remote):
    host = CameraHost(tmp_path / "cam", remote).setup(lease_seconds=3.0)
    host.drain()  # the camera sync
    asset = host.add_sized("video", 300 * 1024 * 1024, mdh.NIGHT_START)
    env = {"PATH": "/usr/bin:/bin", "SKYFLEET_CONFIG": str(host.toml), "LANG": "C.UTF-8"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "skyfleet-upload-worker"), "doomed"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = remote.root / "data" / "images" / ".staging"
    try:
        def partial_upload_running():
            parts = list(staging.glob("upload-*.part")) if staging.exists() else []
            return any(p.stat().st_size > 20 * 1024 * 1024 for p in parts if p.exists())
        assert wait_until(partial_upload_running, 120, interval=0.02), "the upload never started"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert [a for a in remote_assets(remote) if a[1] == "video"] == []
    assert wait_until(lambda: not list(staging.glob("*")), 60), "the remote kept a partial upload"
    job = [j for j in host.jobs() if j.asset_id == asset.id][0]
    assert job.state == "leased" and job.lease_owner.endswith("doomed")
    host.drain(timeout=180)  # a new worker takes the job over once the lease expired
    videos = [a for a in remote_assets(remote) if a[1] == "video"]
    assert len(videos) == 1 and videos[0][3] == 300 * 1024 * 1024
    assert list(staging.glob("*")) == []


def test_disk_full_on_remote_waits_then_drains(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    disk = tmp_path / "small"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], check=True)
    try:
        with running_server(tmp_path / "remote", extra_settings=f'storage_dir = "{disk / "images"}"\n') as remote:
            filler = disk / "filler"
            filler.write_bytes(b"\0" * (7 * 1024 * 1024))
            host = CameraHost(tmp_path / "cam", remote).setup()
            for i in range(3):
                host.add("image", os.urandom(1500 * 1024), createDate=mdh.NIGHT_START + i)
            stop = threading.Event()
            t = threading.Thread(target=host.worker(stop=stop).run)
            t.start()
            try:
                assert wait_until(lambda: any(j.last_status == 507 for j in host.jobs()), 60), "no 507 seen"
                assert host.jobs("parked") == [] and host.waiting() > 0
                filler.unlink()
                assert wait_until(lambda: host.waiting() == 0, 120), f"{host.waiting()} jobs still waiting"
            finally:
                stop.set()
                t.join()
            assert len([a for a in remote_assets(remote) if a[1] == "image"]) == 3
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_wrong_key_parks_with_a_clear_reason_until_retried(tmp_path, remote):
    host = CameraHost(tmp_path / "cam", remote, key="0" * 64).setup()
    host.add("image", b"sky" * 100)
    worker = host.worker()
    while worker.run_once():
        pass
    parked = host.jobs("parked")  # the camera sync and the image
    assert len(parked) == 2 and all("authentication failed" in j.last_error for j in parked)
    assert {j.last_status for j in parked} == {401}
    runner = host.app.test_cli_runner()
    status = runner.invoke(args=["sync", "status"])
    assert "2 parked" in status.output and "authentication failed" in status.output
    assert host.waiting() == 0  # not retried forever
    host.key_file.write_text(remote.key + "\n")
    assert "re-queued 2" in runner.invoke(args=["sync", "retry"]).output
    host.drain()
    assert {j.state for j in host.jobs()} == {"done"}


def test_camera_unknown_to_the_remote_is_registered_and_the_upload_retried(tmp_path, remote):
    host = CameraHost(tmp_path / "cam", remote).setup()
    host.add("image", b"first light" * 10)
    worker = host.worker()
    worker.synced_cameras.add(("remote", host.camera.id))  # believes the camera was synced; the remote never saw it
    while worker.run_once():
        pass
    assert {j.state for j in host.jobs()} == {"done"}
    assert [a[1] for a in remote_assets(remote)] == ["image"]


def test_resync_sends_exactly_what_the_remote_lost(tmp_path, remote):
    host = CameraHost(tmp_path / "cam", remote).setup()
    for i in range(10):
        host.add("image", os.urandom(300), createDate=mdh.NIGHT_START + 60 * i)
    host.drain()
    before = {a[2]: a[0] for a in remote_assets(remote)}
    cl = c.SyncClient(host.upload.remote("remote"), remote.key)
    lost = sorted(before)[2:5]
    for key in lost:
        assert cl.request("DELETE", "image", {"id": before[key], "camera_uuid": host.camera.uuid}).outcome == c.OK
    result = host.app.test_cli_runner().invoke(args=["sync", "resync", "--kind", "image"])
    assert result.exit_code == 0, result.output
    assert "checked 10, missing 3, sent 3" in result.output
    after = {a[2]: a[0] for a in remote_assets(remote)}
    assert sorted(after) == sorted(before)
    assert all(after[k] == before[k] for k in before if k not in lost)  # untouched ones were not re-sent
    assert all(after[k] != before[k] for k in lost)
    again = host.app.test_cli_runner().invoke(args=["sync", "resync"])
    assert "missing 0, sent 0" in again.output


def test_sync_check_round_trip_and_failure(tmp_path, remote):
    host = CameraHost(tmp_path / "cam", remote).setup()
    ok = host.app.test_cli_runner().invoke(args=["sync", "check"])
    assert ok.exit_code == 0 and "ok remote" in ok.output and "skyfleet signatures" in ok.output
    bad = CameraHost(tmp_path / "bad", remote, key="1" * 64).setup()
    failed = bad.app.test_cli_runner().invoke(args=["sync", "check"])
    assert failed.exit_code == 1 and "authentication failed" in failed.output


def test_sync_probe_checks_a_key_before_it_is_installed(tmp_path, remote):
    host = CameraHost(tmp_path / "cam", remote).setup()
    cli = host.app.test_cli_runner()
    url = remote.url + "/indi-allsky"
    ok = cli.invoke(args=["sync", "probe", url, "--username", remote.user], input=remote.key + "\n")
    assert ok.exit_code == 0, ok.output
    assert f"ok {url}: {remote.user} accepted (skyfleet signatures" in ok.output
    wrong = cli.invoke(args=["sync", "probe", url, "--username", remote.user], input="1" * 64 + "\n")
    assert wrong.exit_code == 1 and "authentication failed" in wrong.output and "1" * 64 not in wrong.output
    nobody = cli.invoke(args=["sync", "probe", url, "--username", "nobody"], input=remote.key + "\n")
    assert nobody.exit_code == 1 and "authentication failed" in nobody.output
    empty = cli.invoke(args=["sync", "probe", url, "--username", remote.user], input="")
    assert empty.exit_code == 1 and "no API key on stdin" in empty.output
    bad_url = cli.invoke(args=["sync", "probe", url + "/", "--username", remote.user], input=remote.key)
    assert bad_url.exit_code == 1 and "probe.url must be http(s)://host[:port]/path" in bad_url.output
    closed = cli.invoke(args=["sync", "probe", f"http://127.0.0.1:{free_port()}/x", "--username", remote.user],
                        input=remote.key)
    assert closed.exit_code == 1 and "/x as " in closed.output and "unreachable" in closed.output


def test_a_worker_on_a_host_with_a_long_name_still_claims_and_delivers(host):
    """The lease owner column holds 64 characters, and PostgreSQL enforces it (SQLite does not)."""
    host.add("image", os.urandom(512))
    worker = host.worker(name=f"{'camera-host-at-the-dark-site-' * 3}1")  # 88 characters
    assert len(worker.name) == 64 and worker.name.endswith("site-1")
    stop = threading.Event()
    worker.stop = stop
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        assert wait_until(lambda: host.waiting() == 0, 120), [j.last_error for j in host.jobs()]
    finally:
        stop.set()
        runner.join(120)
    assert [j.state for j in host.jobs()] == ["done", "done"]  # the camera, then the image
