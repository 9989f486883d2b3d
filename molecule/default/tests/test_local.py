"""The camera host (group local): INDI simulators, capture and upload services, SyncAPI wiring."""
import re

import pytest
from skyfleet_testinfra import (
    CONFIG_DIR,
    CONFIG_FILE,
    SERVICE_USER,
    assert_file,
    assert_service_ok,
    curl,
    first_name_of_group,
    only_on,
    unit_property,
)

REMOTE_KEY = f"{CONFIG_DIR}/remote-remote.key"
REMOTE_CA = f"{CONFIG_DIR}/remote-remote-ca.pem"


@pytest.fixture(autouse=True)
def _local_only(host):
    only_on(host, "local")


@pytest.mark.parametrize("unit", ["indiserver.service", "skyfleet-capture.service",
                                  "skyfleet-upload@1.service", "skyfleet-upload@2.service"])
def test_camera_services_active_and_enabled(host, unit):
    assert_service_ok(host, unit)


def test_indiserver_runs_the_simulators_as_its_own_user(host):
    procs = host.process.filter(comm="indiserver")
    assert procs and {p.user for p in procs} == {"indi"}
    assert host.socket("tcp://0.0.0.0:7624").is_listening
    assert host.run("pgrep -f indi_simulator_ccd").rc == 0, "indi_simulator_ccd is not running"


def test_indiserver_answers_with_the_ccd_simulator(host):
    res = host.run("timeout 20 indi_getprop -t 5 -p 7624 'CCD Simulator.CONNECTION.*'")
    assert res.rc == 0 and "CCD Simulator.CONNECTION" in res.stdout, res.stdout + res.stderr


def test_star_catalogue_stand_in_first_on_indiserver_path(host):
    path = unit_property(host, "indiserver.service", "Environment")
    assert re.search(r"PATH=/usr/local/lib/skyfleet-indi/bin:", path), path
    out = host.check_output("/usr/local/lib/skyfleet-indi/bin/gsc -c 10 20 -r 30 -m 0 14 -n 5")
    assert len(out.splitlines()) == 5


def test_api_key_file_readable_only_by_root_and_the_service(host):
    assert_file(host, REMOTE_KEY, 0o640, "root", SERVICE_USER)
    assert re.fullmatch(r"[0-9a-f]{64}", host.file(REMOTE_KEY).content_string)


def test_remote_certificate_installed_as_ca_file(host):
    assert_file(host, REMOTE_CA, 0o644, "root", SERVICE_USER)
    assert "BEGIN CERTIFICATE" in host.file(REMOTE_CA).content_string


def test_upload_settings_point_at_the_remote(host):
    remote = first_name_of_group(host, "remote")
    text = host.file(CONFIG_FILE).content_string
    assert f'url = "https://{remote}/indi-allsky"' in text
    assert f'api_key_file = "{REMOTE_KEY}"' in text
    assert f'ca_file = "{REMOTE_CA}"' in text
    assert re.search(r"^workers = 2$", text, re.M)


def test_remote_reachable_over_verified_https(host):
    remote = first_name_of_group(host, "remote")
    code, err = curl(host, f"https://{remote}/", "--cacert", REMOTE_CA)
    assert code == "200", err


def test_sync_check_round_trip(host):
    res = host.run(f"runuser -u {SERVICE_USER} -- env SKYFLEET_CONFIG={CONFIG_FILE} /usr/local/bin/skyfleet sync check")
    assert res.rc == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ok "), res.stdout
