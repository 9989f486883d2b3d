"""`skyfleet storage clean-staging`: leftovers of killed workers go, whatever is still being written stays."""
import os
import time

import pytest
from click.testing import CliRunner

from skyfleet.cli import cli_group

HOUR = 3600


@pytest.fixture
def staging(tmp_path, monkeypatch):
    config = tmp_path / "skyfleet.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    monkeypatch.setenv("SKYFLEET_CONFIG", str(config))
    folder = tmp_path / "data" / "images" / ".staging"
    folder.mkdir(parents=True)
    return folder


def plant(path, age_seconds, content=b"x" * 100):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def clean(*args):
    return CliRunner().invoke(cli_group, ["storage", "clean-staging", *args])


def test_old_leftovers_are_removed_and_a_fresh_upload_is_kept(staging):
    old_upload = plant(staging / "upload-killed.part", 2 * HOUR)
    old_build = plant(staging / "night-dead" / "frame.jpg", 3 * HOUR)
    os.utime(staging / "night-dead", (time.time() - 3 * HOUR,) * 2)
    fresh = plant(staging / "upload-running.part", 10)
    result = clean("--older-than", str(HOUR))
    assert result.exit_code == 0, result.output
    assert not old_upload.exists() and not old_build.parent.exists()
    assert fresh.exists()
    assert f"removed file {old_upload} (100 bytes" in result.output
    assert f"removed folder {old_build.parent} (100 bytes" in result.output
    assert "upload-running" not in result.output
    assert result.output.splitlines()[-1] == f"removed 2 leftover(s) older than {HOUR} s from {staging} (200 bytes)"


def test_a_folder_with_a_fresh_file_is_kept(staging):
    plant(staging / "night-busy" / "old.jpg", 3 * HOUR)
    fresh = plant(staging / "night-busy" / "new.jpg", 5)
    result = clean("--older-than", str(HOUR))
    assert result.exit_code == 0, result.output
    assert fresh.exists()
    assert "removed 0 leftover(s)" in result.output


def test_default_age_keeps_leftovers_younger_than_six_hours(staging):
    recent = plant(staging / "upload-a.part", 5 * HOUR)
    old = plant(staging / "upload-b.part", 7 * HOUR)
    result = clean()
    assert result.exit_code == 0, result.output
    assert recent.exists() and not old.exists()


def test_dry_run_removes_nothing(staging):
    old = plant(staging / "upload-killed.part", 2 * HOUR)
    result = clean("--older-than", "60", "--dry-run")
    assert result.exit_code == 0, result.output
    assert old.exists()
    assert f"would remove file {old}" in result.output


def test_missing_staging_folder_is_not_an_error(staging):
    staging.rmdir()
    result = clean()
    assert result.exit_code == 0, result.output
    assert "removed 0 leftover(s)" in result.output


def test_a_leftover_that_cannot_be_removed_exits_1(staging, monkeypatch):
    old = plant(staging / "upload-stuck.part", 2 * HOUR)

    def refuse(self, missing_ok=False):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(old), "unlink", refuse)
    result = clean("--older-than", "60")
    assert result.exit_code == 1
    assert f"cannot remove {old}: Permission denied" in result.output
    assert "1 could not be removed" in result.output


def test_negative_age_is_a_usage_error(staging):
    result = clean("--older-than", "-5")
    assert result.exit_code == 2
