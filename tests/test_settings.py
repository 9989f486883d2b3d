"""Settings: defaults that work, derived paths, and errors that name the key."""
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
