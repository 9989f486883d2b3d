"""Settings: defaults that work, derived paths, and errors that name the key."""
import re
from pathlib import Path

import pytest

from skyfleet import settings
from skyfleet.settings import SettingsError


def test_defaults_derive_everything_from_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SKYFLEET_DATA_DIR", str(tmp_path))
    s = settings.from_mapping({})
    assert s.database_url == f"sqlite:///{tmp_path / 'skyfleet.db'}"
    assert s.storage_dir == tmp_path / "images" and s.staging_dir == tmp_path / "images" / ".staging"
    assert s.secret_key_file == tmp_path / "secret.key"
    assert s.backup.dir == tmp_path / "backups" and s.backup.keep == 5
    assert s.syncapi.accept_v1_signature is True and s.syncapi.clock_skew_seconds == 300


def test_load_reads_the_file_named_by_the_environment(tmp_path, monkeypatch):
    f = tmp_path / "s.toml"
    f.write_text('data_dir = "/srv/sky"\ndatabase_url = "postgresql+psycopg://u@h/db"\n'
                 '[syncapi]\nmax_upload_mb = 10\n[web]\npublic = false\n[capture]\nlatitude = 1.5\n')
    monkeypatch.setenv("SKYFLEET_CONFIG", str(f))
    s = settings.load()
    assert s.data_dir == Path("/srv/sky") and s.database_url.startswith("postgresql")
    assert s.max_upload_bytes == 10 * 1024 * 1024 and s.web.public is False
    assert s.table("capture") == {"latitude": 1.5} and s.table("upload") == {}


@pytest.mark.parametrize("raw,needle", [
    ({"data_dri": "/x"}, "'data_dri'"),
    ({"syncapi": {"clock_skew": 3}}, "'syncapi.clock_skew'"),
    ({"syncapi": {"clock_skew_seconds": "300"}}, "'syncapi.clock_skew_seconds' must be a positive integer"),
    ({"syncapi": {"accept_v1_signature": "yes"}}, "'syncapi.accept_v1_signature' must be true or false"),
    ({"log_level": "LOUD"}, "'log_level'"),
    ({"capture": 3}, "'capture' must be a table"),
    ({"web": {"login_failures_per_account": 0}}, "'web.login_failures_per_account' must be a positive integer"),
    ({"web": {"login_throttle_minute": 5}}, "'web.login_throttle_minute'"),
    ({"backup": {"kept": 3}}, "'backup.kept'"),
    ({"backup": {"keep": 0}}, "'backup.keep' must be a positive integer"),
    ({"backup": {"dir": ""}}, "'backup.dir' must be a non-empty path string"),
    ({"backup": "x"}, "'backup' must be a table"),
])
def test_bad_values_name_the_key(raw, needle):
    with pytest.raises(SettingsError) as err:
        settings.from_mapping(raw)
    assert needle in str(err.value)


def test_backup_table_sets_the_folder_and_how_many_are_kept(tmp_path):
    s = settings.from_mapping({"data_dir": str(tmp_path), "backup": {"dir": "/srv/backups", "keep": 2}})
    assert s.backup.dir == Path("/srv/backups") and s.backup.keep == 2


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        settings.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("data_dir = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        settings.load(bad)


def test_behind_the_proxy_cookies_are_secure_and_forwarded_scheme_is_trusted(tmp_path):
    from skyfleet.factory import create_app
    app = create_app({"data_dir": str(tmp_path), "web": {"trust_proxy_headers": True, "secure_cookies": True}})
    assert app.config["SESSION_COOKIE_SECURE"] is True

    @app.route("/_scheme")
    def scheme():
        from flask import request
        return request.scheme

    resp = app.test_client().get("/_scheme", headers={"X-Forwarded-Proto": "https"})
    assert resp.get_data(as_text=True) == "https"
    plain = create_app({"data_dir": str(tmp_path / "p")})
    plain.add_url_rule("/_scheme", view_func=scheme)
    assert plain.test_client().get("/_scheme", headers={"X-Forwarded-Proto": "https"}).get_data(as_text=True) == "http"


S3 = {"backend": "s3", "bucket": "sky", "endpoint_url": "https://s3.example.org"}


def test_storage_defaults_to_the_storage_folder_and_s3_settings_are_read(tmp_path):
    assert settings.from_mapping({}).storage.backend == "local"
    s = settings.from_mapping({"storage": dict(S3, prefix="/fleet/media/", serve="stream", presign_seconds=60,
                                               multipart_threshold_mb=16)})
    st = s.storage
    assert st.is_s3 and st.bucket == "sky" and st.serve == "stream" and st.presign_seconds == 60
    assert st.multipart_threshold_mb == 16 and st.region == "us-east-1"


@pytest.mark.parametrize("table,needle", [
    ({"backend": "ftp"}, "'storage.backend' must be one of local, s3"),
    ({"backend": "s3"}, "'storage.bucket' is required"),
    (dict(S3, serve="proxy"), "'storage.serve' must be one of redirect, stream"),
    (dict(S3, endpoint_url="s3.example.org"), "'storage.endpoint_url' must start with https://"),
    (dict(S3, access_key_id="AK"), "'storage.access_key_id' and 'storage.secret_access_key_file' go together"),
    (dict(S3, presign_seconds=0), "'storage.presign_seconds' must be a positive integer"),
    (dict(S3, presign_seconds=8 * 24 * 3600), "'storage.presign_seconds' must be at most"),
    (dict(S3, multipart_threshold_mb=4), "'storage.multipart_threshold_mb' must be at least 5"),
    (dict(S3, prefix="a/../b"), "'storage.prefix'"),
    (dict(S3, secret_access_key="x"), "unknown setting 'storage.secret_access_key'"),  # never in the file
])
def test_bad_storage_values_name_the_key(table, needle):
    with pytest.raises(SettingsError, match=re.escape(needle)):
        settings.from_mapping({"storage": table})


def test_an_unreadable_or_empty_secret_file_names_the_key(tmp_path):
    from skyfleet.storage_setup import storage_from_settings

    def build(path):
        return storage_from_settings(settings.from_mapping({"data_dir": str(tmp_path), "storage": dict(
            S3, access_key_id="AK", secret_access_key_file=str(path))}))

    with pytest.raises(SettingsError, match="'storage.secret_access_key_file': cannot read .*missing"):
        build(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match="'storage.secret_access_key_file': .* is empty"):
        build(empty)
    good = tmp_path / "secret"
    good.write_text("s3cr3t\n")
    good.chmod(0o600)
    storage = build(good)
    assert storage.bucket == "sky" and storage.root is None
    assert "s3cr3t" not in repr(settings.from_mapping({"storage": dict(S3, access_key_id="AK",
                                                                       secret_access_key_file=str(good))}))
