"""The web server (group remote): gunicorn behind Apache with TLS, SyncAPI account."""
import pytest
from skyfleet_testinfra import (
    BASE_PATH,
    CERT_FILE,
    KEY_FILE,
    SERVICE_USER,
    assert_file,
    assert_service_ok,
    curl,
    only_on,
    skyfleet,
    unit_property,
    variables,
)


@pytest.fixture(autouse=True)
def _remote_only(host):
    only_on(host, "remote")


@pytest.mark.parametrize("unit", ["apache2.service", "skyfleet-web.socket", "skyfleet-web.service"])
def test_web_services_active_and_enabled(host, unit):
    assert_service_ok(host, unit)


def test_apache_configuration_is_valid(host):
    res = host.run("apache2ctl configtest")
    assert res.rc == 0, res.stderr
    assert "Syntax OK" in res.stderr + res.stdout


def test_apache_allows_large_uploads_and_slow_links(host):
    site = host.file("/etc/apache2/sites-enabled/skyfleet.conf").content_string
    assert "LimitRequestBody 2146435072" in site
    assert "ProxyTimeout 600" in site


def test_gunicorn_socket_only_for_apache(host):
    assert_file(host, "/run/skyfleet-web.sock", 0o660, "root", "www-data", kind="socket")


def test_gunicorn_runs_as_the_service_user_hardened(host):
    assert unit_property(host, "skyfleet-web.service", "User") == SERVICE_USER
    assert unit_property(host, "skyfleet-web.service", "NoNewPrivileges") == "yes"
    assert unit_property(host, "skyfleet-web.service", "ProtectSystem") == "strict"
    assert unit_property(host, "skyfleet-web.service", "PrivateTmp") == "yes"
    assert "/var/lib/skyfleet" in unit_property(host, "skyfleet-web.service", "ReadWritePaths")
    users = {p.user for p in host.process.filter(comm="gunicorn")}
    assert users == {SERVICE_USER}, users


def test_tls_key_is_private_and_certificate_names_the_server(host):
    assert_file(host, KEY_FILE, 0o600, "root", "root")
    name = variables(host)["inventory_hostname"]
    san = host.check_output(f"openssl x509 -in {CERT_FILE} -noout -ext subjectAltName")
    assert f"DNS:{name}" in san


def test_https_serves_the_app(host):
    name = variables(host)["inventory_hostname"]
    out = "/tmp/skyfleet-index.html"
    code, err = curl(host, f"https://{name}/", "--cacert", CERT_FILE, "--resolve", f"{name}:443:127.0.0.1",
                     output=out)
    assert code == "200", err
    assert "<html" in host.file(out).content_string.lower()


def test_syncapi_answers_json_behind_the_proxy(host):
    name = variables(host)["inventory_hostname"]
    out = "/tmp/skyfleet-sync.json"
    code, err = curl(host, f"https://{name}{BASE_PATH}/sync/v1/no-such-thing", "--cacert", CERT_FILE,
                     "--resolve", f"{name}:443:127.0.0.1", output=out)
    assert code == "404", err
    assert host.file(out).content_string.lstrip().startswith("{")


def test_http_redirects_to_https(host):
    code, err = curl(host, "http://127.0.0.1/")
    assert code == "301", err


def test_syncapi_account_has_a_key_and_admin_exists(host):
    res = skyfleet(host, "user", "list")
    assert res.rc == 0, res.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in res.stdout.splitlines()}
    sync_user = variables(host).get("skyfleet_syncapi_username", "skyfleet-sync")
    assert sync_user in rows and rows[sync_user][2] != "key:none", res.stdout
    admin = variables(host).get("skyfleet_web_admin_username", "admin")
    assert admin in rows and "admin" in rows[admin][1], res.stdout
