"""`skyfleet camera owner` hands a camera to another account; `skyfleet camera list` shows the owners."""
from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, update

from skyfleet import cli
from skyfleet.camera_cli import camera_cli
from skyfleet.extensions import db
from skyfleet.models import Camera, User
from tests.conftest import add_api_user
from tests.helpers import media
from tests.helpers import metadata as mdh
from tests.helpers.wire import CAMERA_UUID, EXAMPLE_USER, Sender

SCRIPT = Path(sys.executable).parent / "skyfleet"
NEW_USER, NEW_KEY = "new-host", "ab" * 32


def owner_of(app) -> str | None:
    with app.app_context():
        cam = db.session.scalar(select(Camera).where(Camera.uuid == CAMERA_UUID))
        user = db.session.get(User, cam.registered_by_id) if cam.registered_by_id else None
        return user.username if user else None


def test_handover_moves_the_camera_to_the_new_account(app, client, runner, sender, camera):
    add_api_user(app, NEW_USER, NEW_KEY)
    new = Sender(client, user=NEW_USER, key=NEW_KEY)
    assert new.send("POST", "image", mdh.asset("image"), media.jpeg(2000)).status_code == 403
    result = runner.invoke(camera_cli, ["owner", CAMERA_UUID, NEW_USER])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"camera {CAMERA_UUID} (ZWO ASI462MC): owner {EXAMPLE_USER} -> {NEW_USER}"
    assert owner_of(app) == NEW_USER
    assert new.send("POST", "image", mdh.asset("image"), media.jpeg(2000)).status_code == 200
    old = sender.send("PUT", "camera", mdh.camera("old host"), media=b"", media_name="bogus.ext")
    assert old.status_code == 403 and old.get_json()["error"] == "not_camera_owner"


def test_handover_by_camera_id_and_again_is_unchanged(app, runner, camera):
    add_api_user(app, NEW_USER, NEW_KEY)
    assert runner.invoke(camera_cli, ["owner", str(camera), NEW_USER]).exit_code == 0
    again = runner.invoke(camera_cli, ["owner", str(camera), NEW_USER])
    assert again.exit_code == 0 and again.output.strip().endswith(f"owner {NEW_USER} (unchanged)")
    assert owner_of(app) == NEW_USER


def test_handover_of_a_camera_without_owner(app, runner, camera):
    with app.app_context():
        db.session.execute(update(Camera).values(registered_by_id=None))
        db.session.commit()
    result = runner.invoke(camera_cli, ["owner", CAMERA_UUID, EXAMPLE_USER])
    assert result.exit_code == 0, result.output
    assert f"owner none -> {EXAMPLE_USER}" in result.output
    assert owner_of(app) == EXAMPLE_USER


def test_handover_refuses_unknown_cameras_and_users(app, runner, camera):
    no_user = runner.invoke(camera_cli, ["owner", CAMERA_UUID, "ghost"])
    assert no_user.exit_code == 1 and "no user named 'ghost'" in no_user.output
    for ref in ("0b7c4d2e-1f3a-4b5c-9d6e-7f8091a2b3c4", str(camera + 100), "not-a-camera"):
        no_camera = runner.invoke(camera_cli, ["owner", ref, EXAMPLE_USER])
        assert no_camera.exit_code == 1 and f"no camera with uuid or id {ref!r}" in no_camera.output
        assert "Traceback" not in no_camera.output
    assert owner_of(app) == EXAMPLE_USER


def test_handover_to_an_account_without_key_warns(app, runner, camera):
    runner.invoke(args=["user", "add", "keyless", "--password-stdin"], input="password1\n")
    result = runner.invoke(camera_cli, ["owner", CAMERA_UUID, "keyless"])
    assert result.exit_code == 0, result.output
    assert "keyless has no API key" in result.output
    assert owner_of(app) == "keyless"


def test_list_shows_each_camera_with_its_owner(app, runner, sender, camera):
    other = "0b7c4d2e-1f3a-4b5c-9d6e-7f8091a2b3c4"
    other_id = sender.send("PUT", "camera", mdh.camera("Backyard", other), media=b"",
                           media_name="bogus.ext").get_json()["id"]
    with app.app_context():
        db.session.execute(update(Camera).where(Camera.id == other_id).values(registered_by_id=None))
        db.session.commit()
    result = runner.invoke(camera_cli, ["list"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{camera}\t{CAMERA_UUID}\tZWO ASI462MC\towner:{EXAMPLE_USER}",
        f"{other_id}\t{other}\tBackyard\towner:none",
    ]


def test_list_without_cameras_prints_nothing(runner):
    result = runner.invoke(camera_cli, ["list"])
    assert (result.exit_code, result.output) == (0, "")


def test_camera_group_is_an_operator_command():
    result = CliRunner().invoke(cli.cli_group, ["camera", "--help"])
    assert result.exit_code == 0, result.output
    assert "owner" in result.output and "list" in result.output


def test_console_script_handover(console_script):
    run = console_script
    assert run("db", "upgrade").returncode == 0
    assert run("user", "add", "host-a", "--password-stdin", stdin="password123\n").returncode == 0
    missing = run("camera", "owner", CAMERA_UUID, "host-a")
    assert missing.returncode == 1 and f"no camera with uuid or id {CAMERA_UUID!r}" in missing.stderr
    listed = run("camera", "list")
    assert (listed.returncode, listed.stdout) == (0, "")
