"""The web server (group remote): gunicorn behind Apache or nginx with TLS, SyncAPI account."""

import pytest
from skyfleet_testinfra import (
    BASE_PATH,
    CERT_FILE,
    KEY_FILE,
    PROXIES,
    SERVICE_USER,
    assert_file,
    assert_service_ok,
    browser_login,
    curl,
    only_on,
    proxy_of,
    skyfleet,
    unit_property,
    variables,
)


@pytest.fixture(autouse=True)
def _remote_only(host):
    only_on(host, "remote")


@pytest.mark.parametrize("unit", ["proxy", "skyfleet-web.socket", "skyfleet-web.service"])
def test_web_services_active_and_enabled(host, unit):
    assert_service_ok(host, PROXIES[proxy_of(host)][0] if unit == "proxy" else unit)


def test_only_the_chosen_proxy_runs(host):
    for name, (unit, _, _) in PROXIES.items():
        if name != proxy_of(host):
            assert not host.service(unit).is_running, f"{unit} runs next to {proxy_of(host)}"


def test_proxy_configuration_is_valid(host):
    res = host.run(PROXIES[proxy_of(host)][1])
    assert res.rc == 0, res.stdout + res.stderr


def test_proxy_refuses_bodies_over_the_limit_before_reading_them(host):
    """The SyncAPI takes up to the app's upload limit (about 2 GB): a request announcing 3 GB is refused
    from its headers with 413."""
    name = variables(host)["inventory_hostname"]
    code, err = curl(host, f"https://{name}{BASE_PATH}/sync/v1/image", "--cacert", CERT_FILE,
                     "--resolve", f"{name}:443:127.0.0.1", "-X", "POST", "-H", "Content-Length: 3221225472",
                     "-H", "Content-Type: application/octet-stream")
    assert code == "413", (code, err)


def test_proxy_waits_long_enough_for_slow_links(host):
    site = host.file(PROXIES[proxy_of(host)][2]).content_string
    wanted = {"apache": ["ProxyTimeout 600", "Timeout 600"],
              "nginx": ["proxy_read_timeout 600s", "proxy_request_buffering on"]}
    missing = [line for line in wanted[proxy_of(host)] if line not in site]
    assert not missing, f"{PROXIES[proxy_of(host)][2]} lacks {missing}"


def test_gunicorn_socket_only_for_the_proxy(host):
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


def tls_options(host, address: str) -> list:
    """curl's options for https://<the host's name>/ verified with its certificate, connecting to `address`."""
    name = variables(host)["inventory_hostname"]
    return ["--cacert", CERT_FILE, "--resolve", f"{name}:443:{address}"]


def https_options(host, address: str, jar: str) -> list:
    return [*tls_options(host, address), "-c", jar, "-b", jar]


def login(host, address: str, username: str, password: str) -> str:
    """A login through the proxy from `address` (its cookie jar /tmp/skyfleet-jar-<address>)."""
    return browser_login(host, variables(host)["inventory_hostname"], tls_options(host, address), username,
                         password, jar=address)


def test_admin_logs_in_through_the_proxy(host):
    name, address = variables(host)["inventory_hostname"], "127.0.0.1"
    admin = variables(host).get("skyfleet_web_admin_username", "admin")
    password = variables(host)["vault_skyfleet_web_admin_password"]  # inventory values are not templated here
    assert login(host, address, admin, password) == "302"
    code, err = curl(host, f"https://{name}/admin/users", *https_options(host, address, f"/tmp/skyfleet-jar-{address}"))
    assert code == "200", (code, err)


def test_session_cookie_is_https_only(host):
    name = variables(host)["inventory_hostname"]
    code, err = curl(host, f"https://{name}/login", *https_options(host, "127.0.0.1", "/tmp/skyfleet-jar-secure"),
                     "-D", "/tmp/skyfleet-login-headers")
    assert code == "200", err
    cookies = [line for line in host.file("/tmp/skyfleet-login-headers").content_string.splitlines()
               if line.lower().startswith("set-cookie:")]
    assert cookies and all("; secure" in c.lower() for c in cookies), cookies


def test_login_throttle_counts_client_addresses_behind_the_proxy(host):
    """The app sees each client's own address through the proxy (X-Forwarded-For): five failures from
    one address are throttled there, not for a client at another address."""
    other = host.check_output("hostname -I").split()[0]
    user = "throttle-test-" + host.check_output("date +%s%N")
    assert [login(host, "127.0.0.1", user, "wrong") for _ in range(5)] == ["401"] * 5
    assert login(host, "127.0.0.1", user, "wrong") == "429"
    assert login(host, other, user, "wrong") == "401"


def test_http_redirects_to_https(host):
    code, err = curl(host, "http://127.0.0.1/")
    assert code == "301", err


def test_syncapi_account_has_a_key_and_admin_exists(host):
    res = skyfleet(host, "user", "list")
    assert res.rc == 0, res.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in res.stdout.splitlines()}
    for camera in variables(host)["groups"].get("local", []):  # each camera host its own account (by default its name)
        assert camera in rows and rows[camera][2] != "key:none", res.stdout
    admin = variables(host).get("skyfleet_web_admin_username", "admin")
    assert admin in rows and "admin" in rows[admin][1], res.stdout
