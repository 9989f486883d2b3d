"""Helpers shared by every molecule scenario's testinfra tests.

Scenarios import this module through their conftest.py; nothing here is a test itself.
Hosts are told apart by their inventory groups (remote = web server, local = camera host).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import time
from typing import Callable, Optional

import pytest

SERVICE_USER = "skyfleet"
CONFIG_FILE = "/etc/skyfleet/skyfleet.toml"
CONFIG_DIR = "/etc/skyfleet"
DATA_DIR = "/var/lib/skyfleet"
VENV = "/opt/skyfleet/venv"
CERT_FILE = "/etc/ssl/skyfleet/skyfleet.crt"
KEY_FILE = "/etc/ssl/skyfleet/skyfleet.key"
BASE_PATH = "/indi-allsky"
JPEG_MAGIC = "ffd8ff"


# --- scenarios -----------------------------------------------------------------------------
def only_in_scenarios(*names: str, why: str):
    """Mark tests (each a costly site.yml run) that run in the named molecule scenarios only: every
    scenario reuses these files, and a check that does not depend on the release need not run in each."""
    scenario = os.environ.get("MOLECULE_SCENARIO_NAME", "")
    return pytest.mark.skipif(scenario not in names, reason=f"{why}: in the {' and '.join(names)} scenario only")


# --- inventory -----------------------------------------------------------------------------
def variables(host) -> dict:
    return host.ansible.get_variables()


def groups_of(host) -> list:
    return variables(host).get("group_names", [])


PROXIES = {  # skyfleet_proxy_server -> unit, configuration test, site file
    "apache": ("apache2.service", "apache2ctl configtest", "/etc/apache2/sites-enabled/skyfleet.conf"),
    "nginx": ("nginx.service", "nginx -t", "/etc/nginx/sites-enabled/skyfleet.conf"),
}


def proxy_of(host) -> str:
    """The web server the inventory gives `host` (skyfleet_proxy_server)."""
    return variables(host).get("skyfleet_proxy_server", "apache")


def is_remote(host) -> bool:
    return "remote" in groups_of(host)


def is_local(host) -> bool:
    return "local" in groups_of(host)


def only_on(host, group: str) -> None:
    """Skip the calling test unless `host` is in `group`."""
    if group not in groups_of(host):
        pytest.skip(f"only on hosts of group {group}")


def first_of_group(host, group: str):
    """testinfra Host of the first inventory host of `group` (e.g. the remote, seen from a camera host)."""
    names = variables(host).get("groups", {}).get(group, [])
    if not names:
        pytest.fail(f"the inventory has no host in group {group}")
    return host.backend.ansible_runner.get_host(names[0])


def first_name_of_group(host, group: str) -> str:
    return variables(host)["groups"][group][0]


# --- services ------------------------------------------------------------------------------
def journal(host, unit: str, lines: int = 50) -> str:
    return host.run(f"journalctl -u {shlex.quote(unit)} -n {lines} --no-pager").stdout


def assert_service_ok(host, unit: str) -> None:
    """The unit is enabled and active; on failure the message carries its journal."""
    svc = host.service(unit)
    running, enabled = svc.is_running, svc.is_enabled
    if not (running and enabled):
        state = host.run(f"systemctl status --no-pager {shlex.quote(unit)}").stdout
        pytest.fail(f"{unit}: running={running} enabled={enabled}\n--- systemctl status ---\n{state}"
                    f"\n--- journalctl -u {unit} -n 50 ---\n{journal(host, unit)}")


def unit_property(host, unit: str, prop: str) -> str:
    return host.check_output(f"systemctl show -p {prop} --value {shlex.quote(unit)}").strip()


# --- files ---------------------------------------------------------------------------------
def assert_file(host, path: str, mode: int, user: str, group: str, kind: str = "file") -> None:
    f = host.file(path)
    assert f.exists, f"{path} is missing"
    if kind == "file":
        assert f.is_file, f"{path} is not a regular file"
    elif kind == "directory":
        assert f.is_directory, f"{path} is not a directory"
    assert (f.user, f.group) == (user, group), f"{path} is owned by {f.user}:{f.group}, expected {user}:{group}"
    assert f.mode == mode, f"{path} has mode {oct(f.mode)}, expected {oct(mode)}"


# --- the skyfleet CLI ----------------------------------------------------------------------
def skyfleet(host, *args: str):
    """Run the skyfleet CLI as the service user with the deployed settings (like the services do)."""
    cmd = " ".join(shlex.quote(a) for a in args)
    return host.run(f"cd {DATA_DIR} && runuser -u {SERVICE_USER} -- env SKYFLEET_CONFIG={CONFIG_FILE} "
                    f"/usr/local/bin/skyfleet {cmd}")


def skyfleet_with_stdin(host, stdin: str, *args: str):
    """`skyfleet` as the service user with one line on standard input (a password, an API key)."""
    cmd = " ".join(shlex.quote(a) for a in args)
    return host.run(f"printf '%s\\n' {shlex.quote(stdin)} | (cd {DATA_DIR} && runuser -u {SERVICE_USER} -- "
                    f"env SKYFLEET_CONFIG={CONFIG_FILE} /usr/local/bin/skyfleet {cmd})")


def account_keys(host) -> dict:
    """`skyfleet user list` on a web server: account -> key fingerprint column ("key:none" without a key)."""
    res = skyfleet(host, "user", "list")
    assert res.rc == 0, res.stderr
    return {fields[0]: fields[2] for fields in (line.split("\t") for line in res.stdout.splitlines())}


def latest_asset(host, kind: str = "image") -> Optional[dict]:
    """`skyfleet asset latest --kind KIND` as a dict, or None while nothing is stored."""
    res = skyfleet(host, "asset", "latest", "--kind", kind)
    if res.rc != 0:
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])



# the service user's view of the database (as the services open it), for a question the CLI has no command for
_IMAGE_TAKEN_AT = """
import datetime as dt, sys
from sqlalchemy import func, select
from skyfleet import settings
from skyfleet.db_setup import session_factory
from skyfleet.models import Asset, Camera
camera, at = sys.argv[1], dt.datetime.fromisoformat(sys.argv[2])
s = settings.load()
with session_factory(s.database_url, s.sqlite_busy_timeout_ms)() as db:
    print(db.scalar(select(func.count()).select_from(Asset).join(Camera).where(
        Asset.kind == "image", Camera.name == camera,
        Asset.create_date_utc.between(at - dt.timedelta(seconds=1), at + dt.timedelta(seconds=1)))))
"""


def has_image_taken_at(host, camera: str, create_date_utc: str) -> bool:
    """Whether `host` stores an image of camera `camera` taken at `create_date_utc` (ISO, to the second)."""
    code = shlex.quote(_IMAGE_TAKEN_AT)
    out = host.check_output(f"cd {DATA_DIR} && runuser -u {SERVICE_USER} -- env SKYFLEET_CONFIG={CONFIG_FILE} "
                            f"{VENV}/bin/python -c {code} {shlex.quote(camera)} {shlex.quote(create_date_utc)}")
    return int(out.strip()) > 0

# --- HTTP from inside a host ---------------------------------------------------------------
def curl(host, url: str, *options: str, output: str = "/dev/null", write: str = "%{http_code}"):
    """curl inside `host`; returns (what `write` asks for, by default the status code; stderr). -k is never
    used: TLS must verify."""
    opts = " ".join(shlex.quote(o) for o in options)
    res = host.run(f"curl -sS --max-time 20 -o {shlex.quote(output)} -w {shlex.quote(write)} {opts} {shlex.quote(url)}")
    return res.stdout.strip(), res.stderr


def browser_login(host, site: str, https: list, username: str, password: str, jar: str) -> str:
    """A login from `host` at https://<site>/login as a browser sends it: CSRF token, cookie, and the
    same-origin Referer that the CSRF check demands over HTTPS; `https` are curl's TLS and connection
    options, `jar` names a new browser session (its cookie jar). Returns the HTTP status."""
    jar_file, page = f"/tmp/skyfleet-jar-{jar}", f"/tmp/skyfleet-login-{jar}.html"
    session = [*https, "-c", jar_file, "-b", jar_file]
    host.run(f"rm -f {jar_file}")  # a logged-in session would be redirected away from /login
    code, err = curl(host, f"https://{site}/login", *session, output=page)
    assert code == "200", (code, err)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', host.file(page).content_string)
    assert token, "no CSRF token on the login page"
    code, err = curl(host, f"https://{site}/login", *session, "--referer", f"https://{site}/login",
                     "--data-urlencode", f"csrf_token={token.group(1)}", "--data-urlencode", f"username={username}",
                     "--data-urlencode", f"password={password}")
    return code


def file_magic(host, path: str, nbytes: int = 3) -> str:
    return host.check_output(f"od -An -tx1 -N{nbytes} {shlex.quote(path)}").replace(" ", "").strip()


# --- waiting -------------------------------------------------------------------------------
def wait_for(probe: Callable[[], Optional[object]], timeout: float, interval: float = 5.0):
    """Call `probe` until it returns something truthy or `timeout` seconds pass; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)
