"""HEAD deployed over the previous release (prepare.yml deployed it, let frames flow and took a snapshot
of both hosts just before converge): every row and file from before is still there, the schema was
migrated after a backup, each upload reached the remote exactly once, and the chain still works.
That the upgraded remote serves through the proxy it had (nginx), alone, is the first check of
test_switch_proxy.py, which runs before this file."""
import datetime as dt
import json
import os
import shlex
from pathlib import Path

import pytest
from skyfleet_testinfra import (
    VENV,
    first_of_group,
    only_in_scenarios,
    only_on,
    skyfleet,
    variables,
    wait_for,
)

pytestmark = only_in_scenarios("upgrade", why="what the previous release left (molecule/upgrade/prepare.yml)")

PREVIOUS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "previous"
SNAPSHOT_SCRIPT = (Path(__file__).resolve().parents[2] / "upgrade" / "files" / "snapshot.py").read_text()
DELIVERY_TIMEOUT = 240  # seconds: the queue left by the previous release, then one frame taken after the upgrade


def name_of(host) -> str:
    return variables(host)["inventory_hostname"]


def before(host) -> dict:
    path = PREVIOUS / f"{name_of(host)}-before.json"
    assert path.is_file(), f"{path} is missing: prepare.yml did not snapshot {name_of(host)}"
    return json.loads(path.read_text())


def now(host) -> dict:
    res = host.run(f"python3 -c {shlex.quote(SNAPSHOT_SCRIPT)}")
    assert res.rc == 0, res.stderr
    return json.loads(res.stdout)


def camera_name(host) -> str:
    return variables(host)["skyfleet_camera_name"]


def test_the_previous_release_was_deployed_and_delivered_images(host):
    only_on(host, "remote")
    release = (PREVIOUS / "release").read_text().strip()
    images = [a for a in before(host)["assets"] if a["kind"] == "image"]
    assert len(images) >= 3, f"only {len(images)} images on the remote before the upgrade from {release}"


def test_every_asset_row_and_file_from_before_is_still_there(host):
    old, new = before(host)["assets"], {a["id"]: a for a in now(host)["assets"]}
    assert old, f"{name_of(host)} held no asset before the upgrade: nothing would be proven"
    lost = [a["id"] for a in old if a["id"] not in new]
    changed = [a["id"] for a in old if a["id"] in new
               and {k: new[a["id"]][k] for k in ("filename", "sha256", "natural_key", "kind")}
               != {k: a[k] for k in ("filename", "sha256", "natural_key", "kind")}]
    damaged = [a["filename"] for a in old if a["filename"] and a["id"] in new
               and new[a["id"]]["file_sha256"] != a["file_sha256"]]
    assert not lost, f"asset rows gone after the upgrade: {lost}"
    assert not changed, f"asset rows changed by the upgrade: {changed}"
    assert not damaged, f"files missing or changed after the upgrade: {damaged}"


def test_the_schema_is_migrated_to_this_release(host):
    current, heads = skyfleet(host, "db", "current"), skyfleet(host, "db", "heads")
    assert current.rc == 0 and heads.rc == 0, current.stderr + heads.stderr
    head = heads.stdout.split()[0]
    assert now(host)["revision"] == [head], f"schema at {now(host)['revision']}, this release's head is {head}"


def test_the_database_was_backed_up_before_the_upgrade(host):
    backup_dir = variables(host).get("skyfleet_app_backup_dir", "/var/backups/skyfleet")
    old_revision = before(host)["revision"][0]
    listing = host.run(f"ls -1 {shlex.quote(backup_dir)}/skyfleet-db-*-{shlex.quote(old_revision)}.sqlite")
    assert listing.rc == 0 and listing.stdout.strip(), (
        f"no backup of the revision-{old_revision} database in {backup_dir}: {listing.stderr}")
    backup = listing.stdout.split()[-1]
    rows = host.check_output(f"python3 -c {shlex.quote(BACKUP_IDS)} {shlex.quote(backup)}")
    in_backup = set(json.loads(rows)["asset_ids"])
    missing = [a["id"] for a in before(host)["assets"] if a["id"] not in in_backup]
    assert not missing, f"{backup} lacks asset rows that existed before the upgrade: {missing}"
    assert json.loads(rows)["revision"] == [old_revision]
    assert host.file(backup).mode == 0o600


BACKUP_IDS = """
import json, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(json.dumps({"asset_ids": [r[0] for r in db.execute("SELECT id FROM asset")],
                  "revision": [r[0] for r in db.execute("SELECT version_num FROM alembic_version")]}))
"""


def test_the_deployed_version_is_recorded_and_the_previous_release_kept(host):
    installed = host.check_output(f"{VENV}/bin/skyfleet --version").split()[-1]
    home = variables(host).get("skyfleet_app_home", "/opt/skyfleet")
    assert host.file(f"{home}/deployed-version").content_string.strip() == installed
    release = (PREVIOUS / "release").read_text().strip()
    assert installed != release.lstrip("v"), f"HEAD and the previous release are both {installed}"
    releases = host.check_output(f"ls -1 {home}/releases").split()
    assert len(releases) == 2, f"{home}/releases holds {releases}: expected this release and the previous one"
    assert host.file(VENV).is_symlink


def test_each_upload_reached_the_remote_exactly_once(host):
    only_on(host, "local")
    remote = first_of_group(host, "remote")
    old_jobs = [j for j in before(host)["upload_jobs"] if j["action"] == "asset"]
    assert old_jobs, "the camera host had queued no upload before the upgrade"

    def all_delivered():
        jobs = {j["id"]: j for j in now(host)["upload_jobs"]}
        return jobs if all(jobs.get(j["id"], {}).get("state") == "done" for j in old_jobs) else None

    jobs = wait_for(all_delivered, DELIVERY_TIMEOUT)
    assert jobs, f"uploads queued before the upgrade still not done after {DELIVERY_TIMEOUT} s: " + str(
        [(j["id"], j["state"]) for j in now(host)["upload_jobs"] if j["state"] != "done"])
    for job in old_jobs:
        if job["state"] == "done":
            assert jobs[job["id"]]["remote_id"] == job["remote_id"], f"job {job['id']} was delivered again"
    delivered = [j for j in jobs.values() if j["action"] == "asset" and j["state"] == "done" and j["remote_id"]]
    remote_ids = [j["remote_id"] for j in delivered]
    assert len(remote_ids) == len(set(remote_ids)), "two uploads share one remote asset"
    local_assets = {a["id"]: a for a in now(host)["assets"]}
    remote_assets = {a["id"]: a for a in now(remote)["assets"]}
    absent = [j["remote_id"] for j in delivered if j["remote_id"] not in remote_assets]
    assert not absent, f"remote ids the camera host recorded that the remote does not have: {absent}"
    different = [j["asset_id"] for j in delivered if j["asset_id"] in local_assets
                 and local_assets[j["asset_id"]]["sha256"] != remote_assets[j["remote_id"]]["sha256"]]
    assert not different, f"assets whose remote copy differs: {different}"


def test_a_frame_captured_after_the_upgrade_reaches_the_remote(host):
    only_on(host, "local")
    remote = first_of_group(host, "remote")
    started = host.check_output(
        "date -u -d \"$(systemctl show -p ActiveEnterTimestamp --value skyfleet-capture)\" '+%Y-%m-%d %H:%M:%S'")
    snapshot_taken = dt.datetime.fromtimestamp((PREVIOUS / f"{name_of(host)}-before.json").stat().st_mtime,
                                               dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    assert started > snapshot_taken, f"skyfleet-capture was not restarted by the upgrade (active since {started})"
    camera = camera_name(host)

    def new_image():
        return [a for a in now(remote)["assets"]
                if a["kind"] == "image" and a["camera"] == camera and a["create_date_utc"] > started]

    images = wait_for(new_image, DELIVERY_TIMEOUT)
    assert images, f"no image from {camera!r} taken after {started} (the restart) reached the remote"


@pytest.fixture(autouse=True)
def _explain_missing_snapshot():
    if not PREVIOUS.is_dir():
        pytest.fail(f"{PREVIOUS} is missing: run this scenario with molecule test -s upgrade (prepare.yml)")

