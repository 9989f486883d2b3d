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
KEY_GROUP = "skyfleet-upload"  # skyfleet_syncapi_key_group: only the upload workers have it
# the upload workers' identity: the service user with the key group (as playbooks/check.yml runs)
AS_UPLOADER = f"runuser -u {SERVICE_USER} -g {SERVICE_USER} -G {KEY_GROUP} --"


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


def test_api_key_file_readable_only_by_root_and_the_upload_workers(host):
    assert_file(host, REMOTE_KEY, 0o640, "root", KEY_GROUP)
    assert re.fullmatch(r"[0-9a-f]{64}", host.file(REMOTE_KEY).content_string)
    assert host.run(f"{AS_UPLOADER} cat {REMOTE_KEY}").rc == 0


# The web app runs as the service user without the key group (skyfleet-web.service has no
# SupplementaryGroups and the user is no member of the group): on a host that is web server and camera
# host at once (molecule/bullseye), that is the web process itself.
def test_service_user_without_the_key_group_cannot_read_the_api_key(host):
    assert KEY_GROUP not in host.user(SERVICE_USER).groups
    res = host.run(f"runuser -u {SERVICE_USER} -- cat {REMOTE_KEY}")
    assert res.rc != 0 and "Permission denied" in res.stderr, (res.rc, res.stderr)


def test_only_the_upload_workers_get_the_key_group(host):
    assert unit_property(host, "skyfleet-upload@1.service", "SupplementaryGroups") == KEY_GROUP
    for unit in ("skyfleet-capture.service", "skyfleet-web.service"):
        if host.run(f"systemctl cat {unit}").rc == 0:
            assert unit_property(host, unit, "SupplementaryGroups") == "", unit
    gid = host.group(KEY_GROUP).gid
    units = ("skyfleet-upload@1.service", "skyfleet-web.service")
    main = {unit: unit_property(host, unit, "MainPID") for unit in units}
    groups = {unit: host.check_output(f"grep ^Groups: /proc/{pid}/status").split()[1:]
              for unit, pid in main.items() if pid not in ("", "0")}
    assert str(gid) in groups["skyfleet-upload@1.service"], groups
    if "skyfleet-web.service" in groups:  # a host in both groups: the running web process lacks it
        assert str(gid) not in groups["skyfleet-web.service"], groups


@pytest.mark.parametrize("unit", ["skyfleet-capture.service", "skyfleet-upload@1.service"])
def test_capture_and_upload_units_are_sandboxed(host, unit):
    expected = {"PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
                "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "RestrictNamespaces": "yes",
                "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "NoNewPrivileges": "yes",
                "CapabilityBoundingSet": ""}
    seen = {prop: unit_property(host, unit, prop) for prop in expected}
    assert seen == expected
    families = unit_property(host, unit, "RestrictAddressFamilies").split()
    assert sorted(families) == ["AF_INET", "AF_INET6", "AF_UNIX"], families
    assert unit_property(host, unit, "SystemCallFilter"), "no system call filter"
    # ... and it still runs under all of it
    assert_service_ok(host, unit)


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
    res = host.run(f"{AS_UPLOADER} env SKYFLEET_CONFIG={CONFIG_FILE} /usr/local/bin/skyfleet sync check")
    assert res.rc == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ok "), res.stdout
