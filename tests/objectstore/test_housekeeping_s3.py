"""Housekeeping on an object store: the retention prune deletes the objects of pruned nights (no
free-space floor applies), and the orphan sweep removes objects that no row names, as a worker killed
between placing and committing leaves them, through `skyfleet storage sweep-orphans` and clean-staging."""
from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from skyfleet.cli import cli_group
from skyfleet.housekeeping import policy as p
from skyfleet.housekeeping.orphans import sweep
from skyfleet.housekeeping.prune import LOCK_NAME, Pruner
from skyfleet.models import Asset
from tests.housekeeping.conftest import Site, days_before
from tests.objectstore.conftest import object_keys, s3_table

TODAY = dt.date(2026, 6, 30)
UNREACHABLE = 10**9  # MiB: a floor no disk meets


@pytest.fixture
def s3_site(tmp_path, s3_storage):
    site = Site(tmp_path)
    site.storage = s3_storage  # the site's assets are recorded into the bucket
    yield site
    site.close()


def pruner(site, **days) -> Pruner:
    policy = p.RetentionPolicy(days=p.Days(**days), floor=p.Floor(0.0, UNREACHABLE),
                               emergency=p.Floor(0.0, UNREACHABLE), cameras={})
    return Pruner(site.sessions, site.storage, policy, clock=lambda: site.now, lock_dir=site.root / "data")


def test_retention_deletes_the_objects_of_pruned_nights_and_no_floor_applies(s3_site, seaweed, bucket, prefix):
    days = [days_before(TODAY, n) for n in (40, 35, 5)]
    for day in days:
        s3_site.add_night(day)
    assert set(object_keys(seaweed, bucket, prefix)) == s3_site.filenames()
    report = pruner(s3_site, images_days=30, fits_days=30, products_days=0).run()
    assert s3_site.nights("image") == [days[2]] and s3_site.nights("keogram") == days
    assert set(object_keys(seaweed, bucket, prefix)) == s3_site.filenames()  # each pruned row took its object
    assert {n.reason for n in report.nights} == {"retention"}  # the unreachable floors never ran
    assert report.disk_before is None and report.disk_after is None
    assert (s3_site.root / "data" / LOCK_NAME).exists()
    assert not pruner(s3_site).due()


def test_a_pruner_on_an_object_store_needs_a_lock_folder(s3_site):
    policy = p.RetentionPolicy(days=p.Days(), floor=p.Floor(0.0, 0), emergency=p.Floor(0.0, 0), cameras={})
    with pytest.raises(ValueError, match="lock"):
        Pruner(s3_site.sessions, s3_site.storage, policy)


def killed_upload(storage, rel: str, content: bytes = b"\xff\xd8\xff orphan") -> None:
    """What a worker killed between placing and committing leaves: the object, no row."""
    source = storage.staging / "upload-killed.part"
    storage.staging.mkdir(parents=True, exist_ok=True)
    source.write_bytes(content)
    storage.place(source, rel)


def test_the_sweep_removes_orphans_and_keeps_objects_with_rows(s3_site, seaweed, bucket, prefix):
    s3_site.add_night(days_before(TODAY, 3), products=False)
    with_rows = s3_site.filenames()
    killed_upload(s3_site.storage, "ccd_x/exposures/20260627/night/orphan.jpg")
    now = dt.datetime.now(dt.timezone.utc)
    young = sweep(s3_site.sessions, s3_site.storage, older_than=dt.timedelta(hours=1), now=now)
    assert young.removed == [] and young.kept_young == 1  # it may be an upload whose commit is coming
    dry = sweep(s3_site.sessions, s3_site.storage, older_than=dt.timedelta(0), now=now, dry_run=True)
    assert [o.rel for o in dry.removed] == ["ccd_x/exposures/20260627/night/orphan.jpg"]
    assert "ccd_x/exposures/20260627/night/orphan.jpg" in object_keys(seaweed, bucket, prefix)
    report = sweep(s3_site.sessions, s3_site.storage, older_than=dt.timedelta(0), now=now)
    assert [o.rel for o in report.removed] == ["ccd_x/exposures/20260627/night/orphan.jpg"]
    assert set(object_keys(seaweed, bucket, prefix)) == with_rows


def test_the_sweep_leaves_set_aside_objects_of_live_requests_alone_unless_old(s3_site, seaweed, bucket, prefix):
    killed_upload(s3_site.storage, "ccd_x/exposures/20260627/night/replaced.jpg")
    backup = s3_site.storage.set_aside("ccd_x/exposures/20260627/night/replaced.jpg")
    now = dt.datetime.now(dt.timezone.utc)
    assert sweep(s3_site.sessions, s3_site.storage, older_than=dt.timedelta(0), now=now).removed == []
    later = now + dt.timedelta(hours=7)  # past staging.STALE_SECONDS: no request lives that long
    report = sweep(s3_site.sessions, s3_site.storage, older_than=dt.timedelta(0), now=later)
    assert [o.key for o in report.removed] == [backup] and object_keys(seaweed, bucket, prefix) == []


def _config(site, seaweed, bucket, prefix) -> str:
    table = s3_table(seaweed, bucket, prefix, site.root)
    rows = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in table.items())
    path = site.root / "skyfleet.toml"
    path.write_text(f'data_dir = "{site.root / "data"}"\ndatabase_url = "{site.database_url}"\n\n[storage]\n{rows}')
    return str(path)


def test_sweep_orphans_command_lists_and_removes_them(s3_site, seaweed, bucket, prefix):
    s3_site.add("image", days_before(TODAY, 3))
    killed_upload(s3_site.storage, "ccd_x/exposures/20260627/night/orphan.jpg")
    config = _config(s3_site, seaweed, bucket, prefix)
    run = CliRunner().invoke
    kept = run(cli_group, ["storage", "sweep-orphans"], env={"SKYFLEET_CONFIG": config})
    assert kept.exit_code == 0, kept.output
    assert "removed 0 orphan(s) older than 24 h" in kept.output and "1 younger one(s) kept" in kept.output
    result = run(cli_group, ["storage", "sweep-orphans", "--older-than-hours", "0"], env={"SKYFLEET_CONFIG": config})
    assert result.exit_code == 0, result.output
    assert f"removed orphan {prefix}/ccd_x/exposures/20260627/night/orphan.jpg" in result.output
    assert set(object_keys(seaweed, bucket, prefix)) == s3_site.filenames()


def test_clean_staging_sweeps_old_orphans_on_an_object_store(s3_site, seaweed, bucket, prefix):
    config = _config(s3_site, seaweed, bucket, prefix)
    result = CliRunner().invoke(cli_group, ["storage", "clean-staging", "--dry-run"], env={"SKYFLEET_CONFIG": config})
    assert result.exit_code == 0, result.output
    assert "would remove 0 orphan(s) older than 24 h from bucket" in result.output


def test_sweep_orphans_refuses_the_storage_folder(tmp_path):
    path = tmp_path / "skyfleet.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    result = CliRunner().invoke(cli_group, ["storage", "sweep-orphans"], env={"SKYFLEET_CONFIG": str(path)})
    assert result.exit_code == 2 and "is for an object store" in result.output


def test_rows_are_what_the_sweep_checks_not_names_alone(s3_site, seaweed, bucket, prefix):
    asset = s3_site.add("image", days_before(TODAY, 3))
    with s3_site.sessions() as s:
        s.delete(s.get(Asset, asset.id))
        s.commit()  # the row went, the object stayed (as a failed delete after the commit leaves it)
        assert s.scalar(select(Asset.id)) is None
    report = sweep(s3_site.sessions, s3_site.storage, older_than=dt.timedelta(0), now=dt.datetime.now(dt.timezone.utc))
    assert [o.rel for o in report.removed] == [asset.filename] and object_keys(seaweed, bucket, prefix) == []


def test_status_and_prune_commands_name_the_bucket_and_no_floor(s3_site, seaweed, bucket, prefix):
    s3_site.add_night(days_before(dt.datetime.now(dt.timezone.utc).date(), 3), products=False)
    config = _config(s3_site, seaweed, bucket, prefix)
    for args in (["status"], ["prune", "--dry-run"], ["prune"]):
        result = CliRunner().invoke(cli_group, ["storage", *args], env={"SKYFLEET_CONFIG": config})
        assert result.exit_code == 0, result.output
        assert f"storage: object store, bucket {bucket}, prefix {prefix}" in result.output
        assert "no free-space floor" in result.output
    assert set(object_keys(seaweed, bucket, prefix)) == s3_site.filenames() != set()
