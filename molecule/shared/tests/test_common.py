"""Every skyfleet host: base system, application, settings."""
import re

from skyfleet_testinfra import CONFIG_DIR, CONFIG_FILE, DATA_DIR, SERVICE_USER, VENV, assert_file, is_local, skyfleet


def test_service_user_is_a_system_account(host):
    user = host.user(SERVICE_USER)
    assert user.exists
    assert user.uid < 1000
    assert user.shell == "/usr/sbin/nologin"
    assert user.home == DATA_DIR


def test_time_sync_daemon_installed_and_enabled(host):
    # in a container the host owns the clock and the unit's ConditionVirtualization skips it
    assert host.package("systemd-timesyncd").is_installed
    assert host.service("systemd-timesyncd").is_enabled


def test_settings_file_and_directory_permissions(host):
    assert_file(host, CONFIG_DIR, 0o750, "root", SERVICE_USER, kind="directory")
    assert_file(host, CONFIG_FILE, 0o640, "root", SERVICE_USER)
    assert_file(host, DATA_DIR, 0o750, SERVICE_USER, SERVICE_USER, kind="directory")


def test_settings_have_the_expected_tables(host):
    text = host.file(CONFIG_FILE).content_string
    assert 'data_dir = "/var/lib/skyfleet"' in text
    assert "[syncapi]" in text and "[web]" in text
    assert ("[capture]" in text) == is_local(host)
    assert ("[[upload.remotes]]" in text) == is_local(host)


def test_secret_key_file_is_private_to_the_service_user(host):
    assert_file(host, f"{DATA_DIR}/secret.key", 0o600, SERVICE_USER, SERVICE_USER)


def test_cli_on_path_without_a_venv(host):
    # through the venv symlink (linked_to would resolve it to the current release)
    assert host.check_output("readlink /usr/local/bin/skyfleet") == f"{VENV}/bin/skyfleet"
    res = skyfleet(host, "--help")
    assert res.rc == 0, res.stderr
    assert "user" in res.stdout and "sync" in res.stdout


def test_database_is_migrated(host):
    res = skyfleet(host, "db", "current")
    assert res.rc == 0, res.stderr
    assert re.search(r"\(head\)", res.stdout + res.stderr), res.stdout + res.stderr


def test_the_venv_links_to_a_release_of_the_deployed_version(host):
    venv = host.file(VENV)
    assert venv.is_symlink, f"{VENV} is not a symlink to a release"
    release = host.check_output(f"readlink {VENV}")
    assert release.startswith("/opt/skyfleet/releases/"), release
    assert host.file(f"{release}/.skyfleet-release").exists, f"{release} was not completely built"
    installed = skyfleet(host, "--version").stdout.split()[-1]
    assert host.file("/opt/skyfleet/deployed-version").content_string == f"{installed}\n"
    assert release.rsplit("/", 1)[-1].startswith(f"{installed}-"), f"{release} is not a release of {installed}"
