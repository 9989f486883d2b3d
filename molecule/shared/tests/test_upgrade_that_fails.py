"""A release whose migration fails, deployed over the upgraded hosts (upgrade scenario; the file runs last:
its name sorts after every other test file): each host fails naming the error and the backup, the database
and the settings stay as they were, the web keeps serving on the release it had, and capture and uploads
(stopped for the migration) run again on it.

The failing release is this tree's app with one migration more, which creates a table and then raises.
"""
import datetime as dt
import re
import shlex
import shutil
from pathlib import Path

import pytest
from playbook_runs import WATCHED_DIRS, deployed_sources, molecule_env, run_site, state_of
from skyfleet_testinfra import (
    CONFIG_FILE,
    VENV,
    has_image_taken_at,
    latest_asset,
    only_in_scenarios,
    skyfleet,
    wait_for,
)

pytestmark = only_in_scenarios("upgrade", why="a failing release over the upgraded pair (two site.yml runs)")

FAILURE = "this migration fails on purpose"
STEADY_UNITS = ["apache2.service", "nginx.service", "skyfleet-web.service", "skyfleet-syncapi.service",
                "indiserver.service"]
WORKERS = ["skyfleet-capture.service", "skyfleet-upload@1.service"]
DELIVERY_TIMEOUT = 180  # seconds: capture period 15 s, the upload queue


def failing_release(dest: Path) -> Path:
    """A copy of the deployed app tree with a migration after the head that fails halfway."""
    options = dict(option.split("=", 1) for option in deployed_sources()[1::2])
    source = Path(options.get("skyfleet_app_source_dir", Path(molecule_env("MOLECULE_PROJECT_DIRECTORY")) / "app"))
    tree = dest / "app"
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    versions = tree / "skyfleet" / "migrations" / "versions"
    revisions = {re.search(r"^revision = ['\"](\w+)['\"]", p.read_text(), re.M).group(1): p
                 for p in versions.glob("*.py")}
    parents = {re.search(r"^down_revision = (.+)$", p.read_text(), re.M).group(1).strip("\"'")
               for p in revisions.values()}
    (head,) = [r for r in revisions if r not in parents]
    (versions / "9999_fails_on_purpose.py").write_text(
        '"""A migration that fails after doing some work (molecule/upgrade)."""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "9999"\ndown_revision = "{head}"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade():\n"
        '    op.create_table("fails_on_purpose", sa.Column("id", sa.Integer, primary_key=True))\n'
        f'    raise RuntimeError("{FAILURE}")\n\n\n'
        "def downgrade():\n    pass\n")
    return tree


@pytest.fixture(scope="module")
def failed_runs(hosts, tmp_path_factory):
    """site.yml with the failing release (the remote fails, and with every host of its play failed the run
    ends before the camera hosts), then the same limited to the camera host (which fails in turn)."""
    groups, handles = hosts
    tree = failing_release(tmp_path_factory.mktemp("failing"))
    before = {name: {"units": state_of(h, STEADY_UNITS, WATCHED_DIRS), "venv": h.file(VENV).linked_to,
                     "revision": skyfleet(h, "db", "current").stdout.split()[:1]}
              for name, h in handles.items()}
    inventory = Path(molecule_env("MOLECULE_EPHEMERAL_DIRECTORY")) / "inventory"
    source = ("-e", f"skyfleet_app_source_dir={tree}")
    whole = run_site(inventory, *source)
    cameras = run_site(inventory, *source, "--limit", ",".join(groups["local"]))
    ended = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return {"site": whole, "cameras": cameras}, before, ended


def assert_failed_naming_error_and_backup(run, name, handle):
    assert run.rc != 0, run.explain()
    assert run.recap().get(name, {}).get("failed"), f"{name} did not fail: {run.recap()}\n{run.explain()}"
    assert f"skyfleet db upgrade failed: {FAILURE}" in run.output, run.explain()
    assert "keeps serving" in run.output, run.explain()
    backups = re.findall(r"Database\s+backup: (/\S+?\.sqlite)", run.output)
    assert backups and all(handle.file(b).is_file for b in backups), f"{name}: backups named {backups}"


def test_the_remote_fails_naming_the_error_and_the_backup_before_any_camera_host_is_touched(failed_runs, hosts):
    runs, _, _ = failed_runs
    groups, handles = hosts
    remote = groups["remote"][0]
    assert_failed_naming_error_and_backup(runs["site"], remote, handles[remote])
    touched = [name for name in groups["local"] if name in runs["site"].recap()]
    assert not touched, f"the run went on to camera hosts after the remote failed: {touched}"


def test_a_camera_host_fails_the_same_way(failed_runs, hosts):
    runs, _, _ = failed_runs
    groups, handles = hosts
    camera = groups["local"][0]
    assert_failed_naming_error_and_backup(runs["cameras"], camera, handles[camera])


def test_database_settings_and_release_stay_as_they_were(failed_runs, hosts):
    _, before, _ = failed_runs
    _, handles = hosts
    for name, handle in handles.items():
        assert skyfleet(handle, "db", "current").stdout.split()[:1] == before[name]["revision"], name
        tables = handle.run(f"runuser -u skyfleet -- python3 -c {shlex.quote(TABLES)}").stdout
        assert "fails_on_purpose" not in tables.split(), f"{name}: the failed migration left its table"
        assert handle.file(VENV).linked_to == before[name]["venv"], f"{name}: the venv link moved"
        assert not handle.file(CONFIG_FILE + ".next").exists, f"{name}: the staged settings file was left"
        now = state_of(handle, STEADY_UNITS, WATCHED_DIRS)
        changed = sorted(k for k in before[name]["units"] if before[name]["units"][k] != now.get(k))
        assert not changed, f"{name}: the failed upgrade changed {changed}"


TABLES = """
import sqlite3
db = sqlite3.connect("file:/var/lib/skyfleet/skyfleet.db?mode=ro", uri=True)
print("\\n".join(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")))
"""


def test_capture_and_uploads_run_again_on_the_old_release(failed_runs, hosts):
    _, _, ended = failed_runs
    groups, handles = hosts
    camera, remote = handles[groups["local"][0]], handles[groups["remote"][0]]
    for unit in WORKERS:
        assert camera.service(unit).is_running, f"{unit} is not running after the failed upgrade"

    def delivered_after():
        asset = latest_asset(camera)
        if asset and dt.datetime.fromisoformat(asset["create_date_utc"]) > ended:
            return asset if has_image_taken_at(remote, asset["camera"], asset["create_date_utc"]) else None
        return None

    assert wait_for(delivered_after, DELIVERY_TIMEOUT), (
        f"no frame taken after the failed upgrade ({ended} UTC) reached the remote within {DELIVERY_TIMEOUT} s")
