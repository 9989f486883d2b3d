"""`skyfleet backup create/restore`: a remote's archive restored into a fresh data folder and database
gives the same rows, a working login, working API keys (the server secret came along) and, with --media,
the same images; restore refuses a database with data without --yes, a schema newer than it knows and a
corrupt or truncated archive, and then writes nothing."""
from __future__ import annotations

import io
import json
import re
import stat
import tarfile

from flask_migrate import downgrade

from skyfleet import accounts
from skyfleet.backup import archive, schema
from skyfleet.extensions import db
from tests.conftest import add_api_user
from tests.helpers import metadata as mdh
from tests.helpers.wire import Sender
from tests.web.conftest import JPEG, login

from .conftest import snapshot

PASSWORD = "correct horse battery"
BACKUP_LINE = re.compile(r"^backup: (/\S+\.tar) \(\d+(\.\d)? (B|KiB|MiB)\)$")


def remote_with_data(host_factory, name: str = "old"):
    """A remote with an admin, an API user, a camera and one image; (host, app, image url)."""
    host = host_factory(name)
    app = host.app()
    with app.app_context():
        accounts.add(db.session, "alice", PASSWORD, admin=True)
        db.session.commit()
    add_api_user(app)
    sender = Sender(app.test_client())
    assert sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 200
    resp = sender.send("POST", "image", mdh.asset("image"), media=JPEG + b"old")
    assert resp.status_code == 200, resp.get_json()
    return host, app, "/indi-allsky/" + resp.get_json()["url"]


def create(host, *args) -> str:
    res = host.backup("create", *args)
    assert res.exit_code == 0, res.output + res.stderr
    found = BACKUP_LINE.match(res.stdout.strip())
    assert found, res.stdout
    return found.group(1)


def members(path) -> list:
    with tarfile.open(path) as tar:
        return tar.getnames()


def manifest_of(path) -> dict:
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile("manifest.json"))


def test_round_trip_into_a_fresh_host_keeps_rows_accounts_keys_and_images(host_factory, tmp_path):
    old, old_app, image_url = remote_with_data(host_factory)
    rows = snapshot(old.database_url)
    path = create(old, "--media", "--output", str(tmp_path / "out" / "remote.tar"))
    assert path == str(tmp_path / "out" / "remote.tar")
    assert stat.S_IMODE((tmp_path / "out" / "remote.tar").stat().st_mode) == 0o600
    manifest = manifest_of(path)
    assert manifest["schema_revision"] == schema.head(schema.scripts()) == "0007"
    assert manifest["contents"]["media_files"] == 1 and manifest["host"]
    assert {"manifest.json", "settings.toml", "secret.key", manifest["contents"]["database"]} <= set(members(path))

    new = host_factory("new")
    new_settings = new.settings  # the restore puts the old host's settings file in place of this one
    res = new.backup("restore", path)
    assert res.exit_code == 0, res.output + res.stderr
    assert "run `skyfleet db upgrade`" not in res.stdout
    assert new.config.read_text() == old.config.read_text()
    assert new_settings.secret_key_file.read_bytes() == old.settings.secret_key_file.read_bytes()
    assert snapshot(new.database_url) == rows

    app = new.app(settings=new_settings)
    client = app.test_client()
    assert client.get(image_url).data == JPEG + b"old"
    assert login(client, "alice", PASSWORD).status_code == 302
    sender = Sender(app.test_client())  # the API key was encrypted with the restored secret
    resp = sender.send("POST", "image", mdh.asset("image", when=mdh.NIGHT_START + 60), media=JPEG + b"new")
    assert resp.status_code == 200, resp.get_json()


def test_without_media_the_archive_holds_no_images_and_restore_leaves_storage_alone(host_factory):
    old, _, image_url = remote_with_data(host_factory)
    path = create(old)
    assert not [name for name in members(path) if name.startswith("media")]
    assert manifest_of(path)["contents"]["media"] is None
    new = host_factory("new")
    new_settings = new.settings
    assert new.backup("restore", path).exit_code == 0
    assert not new_settings.storage_dir.exists() or not any(new_settings.storage_dir.rglob("*.jpg"))


def test_restore_refuses_a_database_with_data_without_yes(host_factory):
    old, _, _ = remote_with_data(host_factory)
    path = create(old)
    target, _, _ = remote_with_data(host_factory, "target")
    before, secret = snapshot(target.database_url), target.settings.secret_key_file.read_bytes()
    res = target.backup("restore", path)
    assert res.exit_code == 3
    assert "already has data" in res.stderr and "--yes" in res.stderr and "nothing was restored" in res.stderr
    assert snapshot(target.database_url) == before and target.settings.secret_key_file.read_bytes() == secret
    assert target.backup("restore", path, "--yes").exit_code == 0
    assert snapshot(target.database_url) == snapshot(old.database_url)


def rewrite(path, out, change) -> str:
    """A copy of the archive at `path` with `change(name, data) -> data` applied to each file (None: left out)."""
    with tarfile.open(path) as src, tarfile.open(out, "w") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else None
            if data is not None:
                data = change(info.name, data)
                if data is None:
                    continue
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    return str(out)


def unchanged_target(host_factory):
    target = host_factory("target")
    target.app()
    return target, snapshot(target.database_url), target.settings.secret_key_file.read_bytes()


def test_restore_refuses_a_schema_newer_than_it_knows(host_factory, tmp_path):
    old, _, _ = remote_with_data(host_factory)
    newer = rewrite(create(old), tmp_path / "newer.tar", lambda name, data: data if name != "manifest.json" else
                    json.dumps({**json.loads(data), "schema_revision": "0099"}).encode())
    target, before, secret = unchanged_target(host_factory)
    res = target.backup("restore", newer, "--yes")
    assert res.exit_code == 3
    assert "0099 is newer than this skyfleet knows (its newest: 0007)" in res.stderr
    assert snapshot(target.database_url) == before and target.settings.secret_key_file.read_bytes() == secret


def test_corrupt_or_truncated_archive_is_refused_and_nothing_is_written(host_factory, tmp_path):
    old, _, _ = remote_with_data(host_factory)
    good = create(old, "--media")
    data = open(good, "rb").read()
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(data[:len(data) // 2])
    flipped = rewrite(good, tmp_path / "flipped.tar",
                      lambda name, d: d if not name.startswith("database") else d[:-1] + bytes([d[-1] ^ 1]))
    lost_image = rewrite(good, tmp_path / "lost.tar", lambda name, d: d if not name.endswith(".jpg") else None)
    empty_image = rewrite(good, tmp_path / "empty.tar", lambda name, d: d if not name.endswith(".jpg") else b"")
    unlisted = rewrite(good, tmp_path / "unlisted.tar", lambda name, d: d if name != "manifest.json" else
                       json.dumps({**json.loads(d), "sha256": {}}).encode())
    target, before, secret = unchanged_target(host_factory)
    for bad in (truncated, flipped, lost_image, empty_image, unlisted):
        res = target.backup("restore", str(bad), "--yes")
        assert res.exit_code == 1, (bad, res.stderr)
        assert "is not a complete skyfleet backup archive" in res.stderr and "nothing was restored" in res.stderr
        assert snapshot(target.database_url) == before and target.settings.secret_key_file.read_bytes() == secret
        assert target.config.read_text() != old.config.read_text()


def test_an_archive_of_an_older_schema_asks_for_db_upgrade(host_factory):
    old, old_app, _ = remote_with_data(host_factory)
    with old_app.app_context():
        downgrade(revision="0005")
        db.engine.dispose()
    path = create(old)
    assert manifest_of(path)["schema_revision"] == "0005"
    new = host_factory("new")
    res = new.backup("restore", path)
    assert res.exit_code == 0, res.stderr
    assert "the archive's schema is 0005, this skyfleet's is 0007: run `skyfleet db upgrade`" in res.stdout
    assert schema.revision_of(new.database_url) == "0005"


def test_a_settings_file_the_user_may_not_replace_is_restored_beside_the_data(host_factory, monkeypatch):
    old, _, _ = remote_with_data(host_factory)
    path = create(old)
    new = host_factory("new")
    new_settings, own_settings = new.settings, new.config.read_text()
    replace = archive._replace_keeping_owner

    def no_write_in_etc(target, data):
        if target == new.config.resolve():
            raise PermissionError(13, "Permission denied", str(target))
        replace(target, data)

    monkeypatch.setattr(archive, "_replace_keeping_owner", no_write_in_etc)
    res = new.backup("restore", path)
    assert res.exit_code == 0, res.stderr
    aside = new_settings.data_dir / archive.RESTORED_SETTINGS
    assert f"is not writable here (managed by Ansible?): the archive's copy is {aside}" in res.stdout
    assert aside.read_text() == old.config.read_text() and new.config.read_text() == own_settings
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600


def test_an_archive_of_another_database_kind_is_refused(host_factory, tmp_path):
    old, _, _ = remote_with_data(host_factory)
    good = create(old)
    other = "postgresql" if manifest_of(good)["database_dialect"] == "sqlite" else "sqlite"
    foreign = rewrite(good, tmp_path / "foreign.tar", lambda name, data: data if name != "manifest.json" else
                      json.dumps({**json.loads(data), "database_dialect": other}).encode())
    target, before, secret = unchanged_target(host_factory)
    res = target.backup("restore", foreign, "--yes")
    assert res.exit_code == 3 and f"the archive holds a {other} database" in res.stderr
    assert snapshot(target.database_url) == before and target.settings.secret_key_file.read_bytes() == secret


def test_create_refuses_a_database_without_a_schema(host_factory, tmp_path):
    host = host_factory("new")
    host.app(migrate=False)
    res = host.backup("create", "--output", str(tmp_path / "empty.tar"))
    assert res.exit_code == 1 and "has no schema yet: nothing to back up" in res.stderr
    assert not (tmp_path / "empty.tar").exists()
