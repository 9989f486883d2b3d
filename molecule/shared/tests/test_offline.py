"""The offline install (skyfleet_app_offline, skyfleet_base_apt_proxy): hosts that have it only (bullseye).

The scenario's prepare cuts the host off (no default route, pip's index unreachable) and runs an
apt-cacher-ng on the controller; the venv comes from the wheelhouse the controller built for the host.
"""
import os
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from skyfleet_testinfra import VENV, is_local, variables

REPO = Path(__file__).resolve().parents[3]
REQUIREMENTS = Path(os.environ.get("SKYFLEET_TEST_REQUIREMENTS_DIR") or REPO / "requirements")
ACNG_LOG_DIR = Path("/var/tmp/skyfleet-mol-acng/log")   # molecule/bullseye/prepare.yml
WHEELHOUSE_ROOT = "/opt/skyfleet/wheelhouse"
APT_PROXY_FILE = "/etc/apt/apt.conf.d/01skyfleet-proxy"


@pytest.fixture(autouse=True)
def _only_offline(host):
    if not variables(host).get("skyfleet_app_offline"):
        pytest.skip("only on hosts with skyfleet_app_offline: true")


def _pins_for(python_full: str, files: list) -> dict:
    major, minor = python_full.split(".")[:2]
    env = {"python_version": f"{major}.{minor}", "python_full_version": python_full, "platform_machine": "x86_64",
           "sys_platform": "linux", "platform_system": "Linux", "implementation_name": "cpython", "os_name": "posix"}
    pins = {}
    for name in files:
        for raw in (REQUIREMENTS / name).read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            req = Requirement(line)
            if req.marker is None or Marker(str(req.marker)).evaluate(env):
                pins[canonicalize_name(req.name)] = next(iter(req.specifier)).version
    return pins


def test_host_has_no_default_route_and_no_package_index(host):
    assert host.run("ip route show default").stdout.strip() == ""
    probe = host.run("python3 -m pip download --no-deps -d /tmp/offline-probe requests==2.32.5")
    assert probe.rc != 0, probe.stdout


def test_venv_holds_exactly_the_pins_for_the_hosts_python(host):
    python_full = host.check_output(f"{VENV}/bin/python -c 'import platform; print(platform.python_version())'")
    files = ["app.txt"] + (["camera.txt"] if is_local(host) else [])
    want = _pins_for(python_full, files)
    freeze = host.check_output(f"{VENV}/bin/python -m pip freeze --disable-pip-version-check")
    got = {}
    for line in freeze.splitlines():
        name, _, version = line.partition("==")
        name = name.split(" @ ")[0]   # skyfleet itself: "skyfleet @ file:///opt/skyfleet/dist/..."
        if canonicalize_name(name) not in ("skyfleet", "pkg-resources"):
            got[canonicalize_name(name)] = version
    assert got == want


def test_wheelhouse_is_on_the_host(host):
    listing = host.check_output(f"ls {WHEELHOUSE_ROOT}").split()
    assert len(listing) == 1, listing
    wheelhouse = f"{WHEELHOUSE_ROOT}/{listing[0]}"
    assert listing[0].startswith(host.check_output("python3 -c 'import platform; print(platform.python_version())'"))
    assert host.file(wheelhouse).is_directory
    assert host.file(f"{wheelhouse}/.skyfleet-wheelhouse").exists
    # written after the whole copy, naming its key: later runs skip the copy
    assert host.file(f"{wheelhouse}/.skyfleet-copied").content_string.strip() == listing[0]
    wheels = host.check_output(f"ls {wheelhouse}").split()
    assert any(name.startswith("Flask-") or name.startswith("flask-") for name in wheels)


def test_apt_goes_through_the_controllers_apt_cacher_ng(host):
    proxy = host.file(APT_PROXY_FILE)
    assert proxy.exists and proxy.mode == 0o644
    assert 'Acquire::http::Proxy "http://' in proxy.content_string
    address = host.interface("eth0").addresses[0]
    log = "".join(path.read_text(errors="replace") for path in ACNG_LOG_DIR.glob("apt-cacher*.log"))
    assert f"|{address}|" in log
