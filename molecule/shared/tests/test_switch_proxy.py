"""Switching a converged remote's web server with site.yml alone, to the proxy it does not run.

The switch must leave exactly one proxy running and enabled (the other stopped and disabled, so it
cannot take ports 80/443 at the next boot), serve the web UI over HTTPS with the same certificate, and
carry the camera's uploads: a frame taken after the switch reaches the remote through the new proxy.

One site.yml run limited to the remote (about a minute alone): in trixie (Apache -> nginx), bullseye
and upgrade (nginx -> Apache), so each proxy is converged on every Debian release and the switch is
proven both ways; before it, the test checks that the scenario's own proxy serves (on the upgraded
pair: the proxy the upgrade kept). It runs after every other file but test_upgrade*.py, which do not
look at the proxy: the remote is left on the other one.
"""
import datetime as dt

from playbook_runs import run_site, set_host_vars
from skyfleet_testinfra import (
    CERT_FILE,
    PROXIES,
    curl,
    has_image_taken_at,
    latest_asset,
    only_in_scenarios,
    proxy_of,
    wait_for,
)

pytestmark = only_in_scenarios("upgrade", "trixie", "bullseye", why="the proxy switch (a site.yml run)")

DELIVERY_TIMEOUT = 180  # seconds: the upload workers' back-off after the proxy went away, then the upload


def proxy_state(handle) -> dict:
    """unit -> (active, enabled) for both web servers."""
    state = {}
    for unit, _, _ in PROXIES.values():
        active = handle.run(f"systemctl is-active {unit}").stdout.strip()
        enabled = handle.run(f"systemctl is-enabled {unit}").stdout.strip()
        state[unit] = (active, enabled)
    return state


def serves_the_ui(handle, name: str) -> tuple:
    return curl(handle, f"https://{name}/login", "--cacert", CERT_FILE, "--resolve", f"{name}:443:127.0.0.1")


def listener_on_443(handle) -> str:
    """Process names listening on port 443 (the proxies pass gunicorn's Server header on, so ask the kernel)."""
    return handle.check_output("ss -Hltnp 'sport = :443'")


def switch_to(inventory, remote_name: str, proxy: str, no_secret_shown):
    set_host_vars(inventory, remote_name, {"skyfleet_proxy_server": proxy})
    # nothing on a camera host depends on which proxy the remote runs (same name, same certificate)
    run = run_site(inventory, "--limit", remote_name)
    no_secret_shown.append(run)
    assert run.rc == 0, run.explain()


def assert_serves_through(proxy: str, remote, remote_name: str, local, camera_host: str) -> None:
    other = next(p for p in PROXIES if p != proxy)
    state = proxy_state(remote)
    assert state[PROXIES[proxy][0]] == ("active", "enabled"), state
    assert state[PROXIES[other][0]][0] != "active" and state[PROXIES[other][0]][1] != "enabled", state
    code, err = serves_the_ui(remote, remote_name)
    assert code == "200", f"https://{remote_name}/login through {proxy}: {code} {err}"
    listener = listener_on_443(remote)
    process = {"apache": '"apache2"', "nginx": '"nginx"'}
    assert process[proxy] in listener and process[other] not in listener, f"port 443 with {proxy}: {listener}"

    switched_at = dt.datetime.now(dt.timezone.utc)
    # a frame the camera host took after the switch, delivered through the new proxy
    taken = wait_for(lambda: _taken_after(latest_asset(local), switched_at), 120)
    assert taken, f"{camera_host} took no frame within 120 s of the switch to {proxy}"
    delivered = wait_for(lambda: has_image_taken_at(remote, taken["camera"], taken["create_date_utc"]),
                         DELIVERY_TIMEOUT)
    assert delivered, (f"the frame {taken['create_date_utc']} did not reach {remote_name} through {proxy} "
                       f"within {DELIVERY_TIMEOUT} s (latest there: {latest_asset(remote)})")


def _taken_after(asset, when: dt.datetime):
    if not asset:
        return None
    return asset if dt.datetime.fromisoformat(asset["create_date_utc"]).replace(tzinfo=dt.timezone.utc) > when else None


def test_the_remote_switches_to_the_other_proxy(inventory, hosts, no_secret_shown):
    groups, handles = hosts
    remote_name, camera_host = groups["remote"][0], groups["local"][0]
    remote, local = handles[remote_name], handles[camera_host]
    own = proxy_of(remote)
    other = next(p for p in PROXIES if p != own)
    assert_serves_through(own, remote, remote_name, local, camera_host)

    switch_to(inventory, remote_name, other, no_secret_shown)
    assert_serves_through(other, remote, remote_name, local, camera_host)
    check = remote.run(PROXIES[other][1])
    assert check.rc == 0, check.stderr
