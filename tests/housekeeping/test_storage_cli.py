"""`skyfleet storage status` and `skyfleet storage prune [--dry-run]` on a filled site, and [retention]
settings errors that name the key."""
from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from skyfleet.cli import cli_group
from skyfleet.housekeeping import policy as p
from tests.housekeeping.conftest import days_before

# The CLI's clock is the real one: nights are placed relative to today, never on fixed dates.
TODAY = dt.datetime.now(dt.timezone.utc).date()
RETENTION = {"images_days": 10, "fits_days": 3, "products_days": 0, "floor_percent": 0, "floor_mb": 0,
             "emergency_floor_percent": 0, "emergency_floor_mb": 0}


def settings_file(site, retention: dict) -> str:
    rows = "".join(f"{k} = {v}\n" for k, v in retention.items())
    path = site.root / "skyfleet.toml"
    path.write_text(f'data_dir = "{site.root / "data"}"\ndatabase_url = "{site.database_url}"\n'
                    f"\n[retention]\n{rows}")
    return str(path)


def run(config: str, *args):
    return CliRunner().invoke(cli_group, ["storage", *args], env={"SKYFLEET_CONFIG": config})


@pytest.fixture
def filled(site):
    for n in (14, 12, 2):
        site.add_night(days_before(TODAY, n))
    site.add_night(days_before(TODAY, 13), delivered=False)
    return site


def test_status_shows_usage_free_space_retention_and_the_next_prune(filled):
    config = settings_file(filled, RETENTION)
    before = filled.files()
    result = run(config, "status")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"storage {filled.storage.root}: " in out and "above the floor" in out
    assert "retention: images 10 days, thumbnails with their frames, FITS/raw 3 days, night products forever" in out
    month = f"{days_before(TODAY, 2):%Y-%m}"
    assert "cam" in out and month in out and "keogram" in out
    assert "not yet delivered to every remote (kept above the emergency floor): 12 asset(s)" in out
    night = days_before(TODAY, 14)
    assert f"would remove night frames of cam, night {night:%Y-%m-%d} (retention): 4 asset(s)" in out
    assert f"night {days_before(TODAY, 13):%Y-%m-%d}" not in out  # undelivered: held, not listed
    assert filled.files() == before


def test_dry_run_then_prune(filled):
    config = settings_file(filled, RETENTION)
    dry = run(config, "prune", "--dry-run")
    assert dry.exit_code == 0, dry.output
    summary = [line for line in dry.output.splitlines() if line.startswith("would remove ") and "asset(s), " in line
               and "night" not in line]
    assert summary, dry.output
    before = filled.count()
    real = run(config, "prune")
    assert real.exit_code == 0, real.output
    removed = before - filled.count()
    assert f"removed {removed} asset(s)" in real.output and removed > 0
    assert summary[0].startswith(f"would remove {removed} asset(s)")
    # night 13 is not delivered: its 2 frames, 2 thumbnails, day frame and FITS wait
    assert "kept 6 asset(s) past retention that some remote still lacks" in real.output
    assert filled.files() == filled.filenames()
    again = run(config, "prune")
    assert again.exit_code == 0 and "removed 0 asset(s)" in again.output


def test_prune_exits_1_when_the_floor_cannot_be_met(filled):
    config = settings_file(filled, dict(RETENTION, floor_mb=10**9, emergency_floor_mb=0))
    result = run(config, "prune")
    assert result.exit_code == 1, result.output
    assert "below the floor" in result.output.splitlines()[-1]


@pytest.mark.parametrize("table, message", [
    ({"images_days": -1}, "retention.images_days must be a whole number from 0 to 100000, got -1"),
    ({"fits_days": 1.5}, "retention.fits_days must be a whole number"),
    ({"floor_percent": 100}, "retention.floor_percent must be a number from 0 to below 100, got 100"),
    ({"image_days": 3}, "retention.image_days: unknown setting"),
    ({"floor_mb": 100, "emergency_floor_mb": 200}, "must not be above floor_percent/floor_mb"),
    ({"cameras": {"east": {"products_dayz": 1}}}, "retention.cameras.'east'.products_dayz: unknown setting"),
    ({"cameras": {"east": 5}}, "retention.cameras.'east' must be a table"),
])
def test_bad_retention_settings_name_the_key_and_exit_2(site, table, message):
    config = settings_file(site, {k: v for k, v in table.items() if k != "cameras"})
    if "cameras" in table:
        with open(config, "a") as fh:
            for name, sub in table["cameras"].items():
                if isinstance(sub, dict):
                    fh.write(f'\n[retention.cameras."{name}"]\n' + "".join(f"{k} = {v}\n" for k, v in sub.items()))
                else:
                    fh.write(f'\n[retention.cameras]\n"{name}" = {sub}\n')
    result = run(config, "status")
    assert result.exit_code == 2
    assert message in result.output
    with pytest.raises(p.RetentionConfigError, match="retention"):
        p.from_table(table)
