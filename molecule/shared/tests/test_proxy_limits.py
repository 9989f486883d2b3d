"""The web server under hostile clients, through the real proxy (Apache in the default scenario, nginx in
bullseye): body limits per path, slow uploads that cannot starve the web UI, HSTS, the SyncAPI's own
gunicorn pool, the hardened units, and the periodic clean-up of the staging folder."""
import base64
import json
import re
import secrets
import shlex
import time
import warnings
from pathlib import Path

import pytest
from skyfleet_testinfra import (
    BASE_PATH,
    CERT_FILE,
    DATA_DIR,
    SERVICE_USER,
    VENV,
    assert_file,
    assert_service_ok,
    journal,
    only_on,
    proxy_of,
    unit_property,
    variables,
)

SYNC = f"{BASE_PATH}/sync/v1"
SMALL_LIMIT = 64 * 1024  # skyfleet_proxy_max_body_kb's default
SLOW_SCRIPT = Path(__file__).with_name("slow_uploads.py")
POOLS = ["skyfleet-web.service", "skyfleet-syncapi.service"]
# what the units must report (systemctl show), as set in roles/skyfleet_web/templates/hardening.conf.j2
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "CapabilityBoundingSet": "", "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "ProtectClock": "yes", "ProtectHostname": "yes", "RestrictNamespaces": "yes",
    "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
}


@pytest.fixture(autouse=True)
def _remote_only(host):
    only_on(host, "remote")


def name_of(host) -> str:
    return variables(host)["inventory_hostname"]


def request(host, path: str, *options: str, method: str = "GET", scheme: str = "https"):
    """(status, seconds, response headers lower-cased) of one request through the proxy on 127.0.0.1."""
    name = name_of(host)
    tag = secrets.token_hex(4)
    headers = f"/tmp/skyfleet-limits-{tag}.headers"
    opts = " ".join(shlex.quote(o) for o in options)
    res = host.run(f"curl -sS --max-time 20 -o /dev/null -D {headers} -w '%{{http_code}} %{{time_total}}' "
                   f"--cacert {CERT_FILE} --resolve {name}:443:127.0.0.1 --resolve {name}:80:127.0.0.1 "
                   f"-X {method} {opts} {shlex.quote(f'{scheme}://{name}{path}')}; "
                   f"echo; cat {headers}; rm -f {headers}")
    first, _, rest = res.stdout.partition("\n")
    code, seconds = first.split()
    return code, float(seconds), rest.lower()


# --- body limits -------------------------------------------------------------------------------
def test_too_large_body_on_login_is_refused_by_the_proxy_from_its_headers(host):
    code, seconds, headers = request(host, "/login", "-H", "Content-Length: 1048576",
                                     "-H", "Content-Type: application/x-www-form-urlencoded", method="POST")
    assert code == "413", (code, headers)
    assert seconds < 5, f"the 413 took {seconds} s: the proxy waited for the body"
    # the app adds its Content-Security-Policy to every answer: this one never reached it
    assert "content-security-policy" not in headers, headers


def test_body_just_over_the_small_limit_is_refused_on_every_path_but_the_syncapi(host):
    host.run(f"head -c {SMALL_LIMIT + 4096} /dev/zero > /tmp/skyfleet-over-limit.bin")
    for path in ["/login", "/logout", "/admin/users", f"{BASE_PATH}/images/x.jpg"]:
        code, _, headers = request(host, path, "--data-binary", "@/tmp/skyfleet-over-limit.bin", method="POST")
        assert code == "413" and "content-security-policy" not in headers, (path, code, headers)
    # the same body is nothing for the SyncAPI: the app answers it (JSON error, not the proxy's 413)
    code, _, headers = request(host, f"{SYNC}/image", "--data-binary", "@/tmp/skyfleet-over-limit.bin",
                               "-H", "Content-Type: application/octet-stream", method="POST")
    assert code != "413" and "content-security-policy" in headers, (code, headers)


def test_small_form_body_still_reaches_the_app(host):
    host.run("head -c 30000 /dev/zero | tr '\\0' a | sed 's/^/a=/' > /tmp/skyfleet-small-form.txt")
    code, _, headers = request(host, "/login", "--data-binary", "@/tmp/skyfleet-small-form.txt", method="POST")
    assert code != "413" and "content-security-policy" in headers, (code, headers)


# --- slow uploads ------------------------------------------------------------------------------
def start_slow_uploads(host, seconds: float, out: str, *specs: str) -> None:
    script = "/tmp/skyfleet-slow-uploads.py"
    encoded = base64.b64encode(SLOW_SCRIPT.read_bytes()).decode()
    host.check_output(f"echo {encoded} | base64 -d > {script}")
    host.check_output(f"rm -f {out}")
    args = " ".join(shlex.quote(s) for s in specs)
    host.check_output(f"setsid nohup python3 {script} --name {shlex.quote(name_of(host))} --cafile {CERT_FILE} "
                      f"--seconds {seconds} --out {out} {args} >{out}.log 2>&1 </dev/null &")


def slow_results(host, out: str, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.file(out).exists:
            return json.loads(host.file(out).content_string)
        time.sleep(2)
    pytest.fail(f"the slow uploads did not finish within {timeout} s: {host.run(f'cat {out}.log').stdout}")


def test_sixteen_slow_uploads_do_not_starve_the_web_ui(host):
    """8 slow SyncAPI uploads and 8 slow form posts at once (more than the web pool's 2 x 4 threads):
    the pages and the SyncAPI still answer within 1 s, and every slow upload was still running then."""
    out, seconds = "/tmp/skyfleet-slow-uploads.json", 50
    start_slow_uploads(host, seconds, out, f"{SYNC}/image:8:1000000:20000:multipart", "/login:8:60000:20000")
    time.sleep(4)  # connections open, bursts sent, the proxy streaming or buffering them
    started = time.monotonic()
    timings = []
    for _ in range(3):
        for path, wanted in [("/", "200"), ("/login", "200"), (f"{SYNC}/no-such-thing", "404")]:
            code, took, _ = request(host, path)
            timings.append((path, code, took))
            assert code == wanted, timings
    measured = time.monotonic() - started + 4
    slowest = max(t for _, _, t in timings)
    warnings.warn(f"{proxy_of(host)}: slowest of {len(timings)} requests under 16 slow uploads: {slowest:.3f} s",
                  stacklevel=1)
    assert slowest < 1.0, f"pages slowed down under slow uploads: {timings}"

    results = slow_results(host, out, seconds + 30)
    assert len(results) == 16 and all(r["opened"] is not None for r in results), results
    # the form posts are what the web pool would have had to hold: they were all still sending
    early = [r for r in results if r["path"] == "/login" and r["ended"] < measured]
    assert not early, f"slow form posts ended before the pages were measured ({measured:.1f} s): {early}"
    # (a SyncAPI upload may be answered by the app as soon as it has seen enough of it)
    assert not [r for r in results if r["reason"] == "closed" and r["ended"] < measured], results
    if proxy_of(host) == "apache":
        # mod_reqtimeout: after the first 30 s a body must average 10000 B/s, so every one is cut off
        alive = [r for r in results if r["reason"] == "deadline"]
        assert not alive, f"Apache kept uploads far below the minimum rate: {alive}"


def test_nginx_limits_syncapi_requests_per_address(host):
    if proxy_of(host) != "nginx":
        pytest.skip("limit_conn is nginx's; Apache has no per-address limit (it cuts slow bodies instead)")
    limit = int(variables(host).get("skyfleet_proxy_syncapi_connections_per_address", 16))
    out = "/tmp/skyfleet-slow-limit.json"
    start_slow_uploads(host, 8, out, f"{SYNC}/image:{limit + 2}:1000000:20000:multipart")
    results = slow_results(host, out, 40)
    refused = [r for r in results if r["status"] and " 429 " in f"{r['status']} "]
    assert len(refused) == 2, results
    assert sum(r["reason"] == "deadline" for r in results) == limit, results


# --- HSTS ------------------------------------------------------------------------------------
def test_hsts_on_https_only_when_configured(host):
    max_age = int(variables(host).get("skyfleet_proxy_hsts_max_age_seconds", 31536000))
    for path in ["/", "/login", f"{SYNC}/no-such-thing"]:
        _, _, headers = request(host, path)
        found = re.findall(r"^strict-transport-security: *(.*?)\s*$", headers, flags=re.M)
        assert found == ([f"max-age={max_age}"] if max_age else []), (path, headers)
    _, _, headers = request(host, "/", scheme="http")
    assert "strict-transport-security" not in headers, headers


# --- the two gunicorn pools ----------------------------------------------------------------
@pytest.mark.parametrize("unit", ["skyfleet-syncapi.socket", "skyfleet-syncapi.service"])
def test_syncapi_pool_active_and_enabled(host, unit):
    assert_service_ok(host, unit)


def test_syncapi_socket_only_for_the_proxy(host):
    assert_file(host, "/run/skyfleet-syncapi.sock", 0o660, "root", "www-data", kind="socket")


def test_proxy_sends_the_syncapi_to_its_own_pool_and_pages_to_the_other(host):
    probe = secrets.token_hex(6)
    request(host, f"{SYNC}/probe-{probe}")
    request(host, f"/probe-{probe}")
    time.sleep(1)
    sync_log, web_log = journal(host, "skyfleet-syncapi.service", 200), journal(host, "skyfleet-web.service", 200)
    assert f"/sync/v1/probe-{probe}" in sync_log and f"/sync/v1/probe-{probe}" not in web_log
    assert f"GET /probe-{probe}" in web_log and f"GET /probe-{probe}" not in sync_log


# --- hardened units --------------------------------------------------------------------------
@pytest.mark.parametrize("unit", [*POOLS, "skyfleet-clean-staging.service"])
def test_units_are_hardened(host, unit):
    wrong = {prop: unit_property(host, unit, prop) for prop in HARDENING
             if unit_property(host, unit, prop) != HARDENING[prop]}
    assert not wrong, f"{unit}: {wrong}"
    families = set(unit_property(host, unit, "RestrictAddressFamilies").split())
    assert families == {"AF_UNIX", "AF_INET", "AF_INET6"}, families
    syscalls = set(unit_property(host, unit, "SystemCallFilter").split())
    assert {"read", "openat", "socket"} <= syscalls and not {"reboot", "kexec_load", "init_module"} & syscalls


@pytest.mark.parametrize("unit", POOLS)
def test_running_gunicorn_has_no_capabilities_and_a_seccomp_filter(host, unit):
    pid = unit_property(host, unit, "MainPID")
    status = host.file(f"/proc/{pid}/status").content_string
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["CapBnd"].strip() == "0000000000000000", status
    assert fields["NoNewPrivs"].strip() == "1" and fields["Seccomp"].strip() == "2", status


def test_app_and_its_native_libraries_work_under_the_units_sandbox(host):
    """The web app (cffi/cryptography, SQLite), ctypes callbacks (what psycopg's libpq binding uses) and,
    where installed (a host in both groups), numpy, OpenCV, Pillow and psycopg run under
    MemoryDenyWriteExecute and the system call filter: the units' sandbox around one Python process."""
    props = " ".join(f"-p {k}={v}" for k, v in HARDENING.items()) + \
        " -p 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' -p SystemCallFilter=@system-service"
    code = r"""
import ctypes, importlib, io, json
from skyfleet.factory import create_app
app = create_app()
page = app.test_client().get('/login')
assert page.status_code == 200, page.status_code
cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)
assert cb(41) == 42
done = {'app': 'ok', 'ctypes': 'ok'}
for name in ('numpy', 'cv2', 'PIL.Image', 'psycopg', 'cryptography.hazmat.primitives.hashes'):
    try:
        mod = importlib.import_module(name)
    except ImportError:
        done[name] = 'absent'
        continue
    if name == 'numpy':
        assert int((mod.arange(10) ** 2).sum()) == 285
    if name == 'cv2':
        import numpy
        ok, jpeg = mod.imencode('.jpg', numpy.zeros((8, 8, 3), 'uint8'))
        assert ok and bytes(jpeg[:3]) == b'\xff\xd8\xff'
    if name == 'PIL.Image':
        buf = io.BytesIO()
        mod.new('RGB', (8, 8)).save(buf, 'JPEG')
        assert buf.getvalue()[:3] == b'\xff\xd8\xff'
    if name == 'psycopg':
        mod.pq.version()
    done[name] = 'ok'
print(json.dumps(done))
"""
    res = host.run(f"cd {DATA_DIR} && systemd-run --quiet --wait --pipe --collect -p User={SERVICE_USER} "
                   f"-p WorkingDirectory={DATA_DIR} -p Environment=SKYFLEET_CONFIG=/etc/skyfleet/skyfleet.toml "
                   f"-p ReadWritePaths={DATA_DIR} "
                   f"{props} {VENV}/bin/python -c {shlex.quote(code)}")
    assert res.rc == 0, res.stdout + res.stderr
    done = json.loads(res.stdout.strip().splitlines()[-1])
    warnings.warn(f"under the units' sandbox: {done}", stacklevel=1)
    assert done["app"] == done["ctypes"] == "ok"


@pytest.mark.parametrize("unit", POOLS)
def test_systemd_analyze_security_rates_the_pools_ok(host, unit):
    res = host.run(f"systemd-analyze security --no-pager {unit}")
    assert res.rc == 0, res.stderr
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", res.stdout)
    assert score, res.stdout[-2000:]
    warnings.warn(f"systemd-analyze security {unit}: {score.group(1)} {score.group(2)}", stacklevel=1)
    assert float(score.group(1)) < 4.0, res.stdout


# --- staging clean-up --------------------------------------------------------------------------
def test_staging_cleanup_timer_active_and_enabled(host):
    assert_service_ok(host, "skyfleet-clean-staging.timer")
    assert unit_property(host, "skyfleet-clean-staging.timer", "TimersCalendar") != ""


def test_staging_cleanup_removes_old_leftovers_and_keeps_fresh_ones(host):
    staging = f"{DATA_DIR}/images/.staging"
    tag = secrets.token_hex(4)
    old, fresh = f"{staging}/upload-killed-{tag}.part", f"{staging}/upload-running-{tag}.part"
    as_user = f"runuser -u {SERVICE_USER} --"
    host.check_output(f"{as_user} mkdir -p {staging} && {as_user} sh -c 'echo x > {old}; echo y > {fresh}' "
                      f"&& touch -d '-7 hours' {old}")
    res = host.run("systemctl start skyfleet-clean-staging.service")
    assert res.rc == 0, res.stderr + journal(host, "skyfleet-clean-staging.service")
    assert not host.file(old).exists, journal(host, "skyfleet-clean-staging.service")
    assert host.file(fresh).exists
    assert f"removed file {old}" in journal(host, "skyfleet-clean-staging.service")
    host.run(f"rm -f {fresh}")
