"""Both tiers (issue 14): the prune and health timers, the [health] secrets, /healthz and /metrics
through the proxy, and skyfleet health show on the camera host."""
import json

import pytest
from skyfleet_testinfra import (
    CERT_FILE,
    CONFIG_DIR,
    CONFIG_FILE,
    SERVICE_USER,
    assert_file,
    assert_service_ok,
    curl,
    journal,
    only_on,
    skyfleet,
    unit_property,
    variables,
)

TIMERS = ["skyfleet-prune.timer", "skyfleet-health.timer"]
METRICS_TOKEN_FILE = f"{CONFIG_DIR}/health-metrics.token"


@pytest.mark.parametrize("timer", TIMERS)
def test_housekeeping_timers_active_and_enabled(host, timer):
    assert_service_ok(host, timer)


@pytest.mark.parametrize("unit", ["skyfleet-prune.service", "skyfleet-health.service"])
def test_housekeeping_services_run_as_the_service_user_sandboxed(host, unit):
    assert unit_property(host, unit, "User") == SERVICE_USER
    assert unit_property(host, unit, "NoNewPrivileges") == "yes"
    assert unit_property(host, unit, "ProtectSystem") == "strict"


def started_result(host, unit: str) -> None:
    """Start a oneshot unit (systemctl waits until it finished) and assert it succeeded."""
    res = host.run(f"systemctl start {unit}")
    result = unit_property(host, unit, "Result")
    status = unit_property(host, unit, "ExecMainStatus")
    assert res.rc == 0 and result == "success", (
        f"{unit}: start rc={res.rc} Result={result} ExecMainStatus={status}\n{res.stderr}"
        f"\n--- journalctl -u {unit} -n 50 ---\n{journal(host, unit)}")


def test_prune_service_succeeds_when_started(host):
    started_result(host, "skyfleet-prune.service")


def test_health_service_succeeds_when_started(host):
    """No alert channel is configured in the scenarios, so no notification can fail: exit 0."""
    started_result(host, "skyfleet-health.service")


def test_settings_have_retention_health_and_alerts(host):
    text = host.file(CONFIG_FILE).content_string
    assert "[retention]" in text and "[health]" in text and "[alerts]" in text
    assert f'metrics_token_file = "{METRICS_TOKEN_FILE}"' in text


def test_metrics_token_file_readable_only_by_root_and_the_service_group(host):
    assert_file(host, METRICS_TOKEN_FILE, 0o640, "root", SERVICE_USER)
    assert host.file(METRICS_TOKEN_FILE).content_string == variables(host)["vault_skyfleet_app_health_metrics_token"]


def proxied(host, path: str, address: str, *options: str, output: str):
    name = variables(host)["inventory_hostname"]
    return curl(host, f"https://{name}{path}", "--cacert", CERT_FILE, "--resolve", f"{name}:443:{address}",
                *options, output=output)


def test_healthz_answers_json_with_a_status_through_the_proxy(host):
    only_on(host, "remote")
    out = "/tmp/skyfleet-healthz.json"
    code, err = proxied(host, "/healthz", "127.0.0.1", output=out)
    assert code in ("200", "503"), (code, err)
    body = json.loads(host.file(out).content_string)
    assert "status" in body, body


def non_loopback_address(host) -> str:
    return host.check_output("hostname -I").split()[0]


def test_metrics_through_the_proxy_without_token_are_refused(host):
    """A client at another address than loopback (the proxy passes it on in X-Forwarded-For); a client on
    the web server itself (127.0.0.1 through the proxy) counts as loopback for the app and is let in."""
    only_on(host, "remote")
    code, err = proxied(host, "/metrics", non_loopback_address(host), output="/tmp/skyfleet-metrics-refused.txt")
    assert code in ("401", "403"), (code, err)


def test_metrics_through_the_proxy_with_the_token(host):
    only_on(host, "remote")
    token = variables(host)["vault_skyfleet_app_health_metrics_token"]  # inventory values are not templated here
    out = "/tmp/skyfleet-metrics.txt"
    code, err = proxied(host, "/metrics", non_loopback_address(host), "-H", f"Authorization: Bearer {token}",
                        output=out)
    assert code == "200", (code, err)
    assert "skyfleet_disk_free_bytes" in host.file(out).content_string


def test_metrics_with_a_wrong_token_are_refused(host):
    only_on(host, "remote")
    code, err = proxied(host, "/metrics", non_loopback_address(host), "-H", "Authorization: Bearer wrong-token",
                        output="/tmp/skyfleet-metrics-wrong.txt")
    assert code in ("401", "403"), (code, err)


def test_health_show_prints_the_disk_numbers_on_the_camera_host(host):
    only_on(host, "local")
    res = skyfleet(host, "health", "show", "--json")
    assert res.rc in (0, 1), (res.rc, res.stdout, res.stderr)  # 1: an alert condition holds (that is no failure here)
    disk = json.loads(res.stdout)["disk"]
    assert disk["free_bytes"] > 0 and disk["total_bytes"] >= disk["free_bytes"], disk
    assert "floor_bytes" in disk and "below_floor" in disk, disk
