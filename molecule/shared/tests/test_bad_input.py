"""Bad inventories against the converged hosts: each run of site.yml must stop early with a message that
names the problem, and leave the running services and the deployed files exactly as they were.

These tests run once (not per host): they drive ansible-playbook from the controller with a broken copy
of the scenario's inventory (tests/molecule/playbook_runs.py).

Each is a site.yml run: a preflight refusal about 10 s, the two that get further three to six minutes
beside the other lanes. What the preflight checks is worked out on the controller from the inventory and
the facts, the same on every release, so those run in one scenario (trixie). The wrong key gets further,
and a camera host that is its own remote takes another path there: in trixie (two hosts) and bullseye (one
host in both groups). The shared account's revocation is the web servers' play, the same for both shapes:
in bullseye, limited to the web servers.
"""
import os
import secrets as random_secrets
import shlex
import subprocess

import pytest
import yaml
from playbook_runs import run_site, set_host_vars
from skyfleet_testinfra import account_keys, only_in_scenarios, skyfleet, skyfleet_with_stdin

PREFLIGHT = only_in_scenarios("trixie", why="a preflight refusal, decided on the controller")
BOTH_SHAPES = only_in_scenarios("trixie", "bullseye", why="a run past the preflight, two hosts or one in both groups")


def camera_host(hosts) -> str:
    return hosts[0]["local"][0]


def camera_key(inventory, camera: str) -> str:
    """The camera host's SyncAPI key from the scenario's (demo) vault."""
    plain = subprocess.run(["ansible-vault", "view", str(inventory / "group_vars" / "local" / "vault.yml")],
                           capture_output=True, text=True, check=True, env=os.environ).stdout
    return yaml.safe_load(plain)["vault_skyfleet_syncapi_api_keys"][camera]


@PREFLIGHT
def test_missing_vault_value_names_the_vault_variable(inventory, hosts, unchanged, no_secret_shown):
    camera = camera_host(hosts)
    (inventory / "group_vars" / "local" / "vault.yml").unlink()
    run = run_site(inventory)
    no_secret_shown.append(run)
    # the remote's preflight (every camera host's key) or the camera host's own, whichever runs first
    assert run.failed_with("skyfleet_syncapi_api_key", "must be 64 lowercase hex characters",
                           f"set vault_skyfleet_syncapi_api_keys['{camera}'] in the inventory's "
                           "group_vars/local/vault.yml"), run.explain()


# The example inventory's placeholders (its vault password is in README.md) and the demo's values (its
# password file is committed) are public: outside the demo (skyfleet_common_demo_inventory) they are refused.
@pytest.mark.parametrize("case", ["demo value outside the demo", "example value"])
@PREFLIGHT
def test_published_secret_is_refused_by_name_without_showing_it(inventory, hosts, unchanged, no_secret_shown, case):
    camera = camera_host(hosts)
    if case == "example value":
        published = "0" * 64  # inventory/example's placeholder for its first camera host
        set_host_vars(inventory, camera, {"skyfleet_syncapi_api_key": published})
    else:
        published = camera_key(inventory, camera)
        set_host_vars(inventory, camera, {"skyfleet_common_demo_inventory": False})
    run = run_site(inventory, "--limit", camera)
    no_secret_shown.append(run)
    assert run.failed_with(f"Secrets on {camera}: ", "skyfleet_syncapi_api_key", "is a published value",
                           f"vault_skyfleet_syncapi_api_keys['{camera}']"), run.explain()
    assert published not in run.output
    if case == "demo value outside the demo":  # the demo's /metrics token too (group_vars/all/vault.yml)
        assert run.failed_with("skyfleet_app_health_metrics_token is a published value",
                               "vault_skyfleet_app_health_metrics_token"), run.explain()


@PREFLIGHT
def test_extra_remote_reusing_a_key_is_refused_by_name(inventory, hosts, unchanged, no_secret_shown):
    groups, _ = hosts
    camera, remote = camera_host(hosts), groups["remote"][0]
    own_key = camera_key(inventory, camera)
    set_host_vars(inventory, camera, {"skyfleet_syncapi_extra_remotes": [{
        "name": "second", "url": f"https://{remote}/indi-allsky", "api_key": own_key, "certificate_host": remote}]})
    run = run_site(inventory, "--limit", camera)
    no_secret_shown.append(run)
    assert run.failed_with("skyfleet_syncapi_extra_remotes[0].api_key (remote 'second') is the same key as "
                           "skyfleet_syncapi_api_key (remote 'remote')"), run.explain()


@PREFLIGHT
def test_emergency_floor_above_the_floor_is_refused_by_name(inventory, hosts, unchanged, no_secret_shown):
    set_host_vars(inventory, camera_host(hosts), {"skyfleet_app_retention_floor_percent": 5,
                                                  "skyfleet_app_retention_emergency_floor_percent": 8})
    run = run_site(inventory, "--limit", camera_host(hosts))
    no_secret_shown.append(run)
    assert run.failed_with("skyfleet_app_retention_emergency_floor_percent from 0 to at most "
                           "skyfleet_app_retention_floor_percent (got 8)"), run.explain()


@PREFLIGHT
def test_typo_in_a_variable_is_refused_by_name(inventory, hosts, unchanged, no_secret_shown):
    set_host_vars(inventory, camera_host(hosts), {"skyfleet_camera_perod": 30})
    run = run_site(inventory, "--limit", camera_host(hosts))
    no_secret_shown.append(run)
    assert run.failed_with(f"Unknown variable(s) on {camera_host(hosts)}: skyfleet_camera_perod"), run.explain()


@BOTH_SHAPES
def test_wrong_api_key_is_refused_before_it_is_installed(inventory, hosts, unchanged, no_secret_shown):
    groups, _ = hosts
    camera, remote = camera_host(hosts), groups["remote"][0]
    wrong = "0123456789abcdef" * 4
    if camera in groups["remote"]:
        # the camera host is its own remote: a host_vars key would change the account too, so the
        # wrong key goes to a second remote entry for the same server (without `host`, so the server's
        # run does not manage that entry's account: the camera's own one, whose key differs)
        set_host_vars(inventory, camera, {"skyfleet_syncapi_extra_remotes": [{
            "name": "second", "url": f"https://{remote}/indi-allsky", "api_key": wrong,
            "certificate_host": remote}]})
        remote_name = "second"
    else:
        set_host_vars(inventory, camera, {"skyfleet_syncapi_api_key": wrong})
        remote_name = "remote"
    run = run_site(inventory, "--limit", camera)
    no_secret_shown.append(run)
    # the camera host's own account (named after the host), which the remote's run made with the right key
    assert run.failed_with(f"{camera} cannot upload to remote '{remote_name}': https://", f"as {camera}: "
                           "HTTP 401 authentication failed", "Nothing was installed"), run.explain()
    assert wrong not in run.output


@PREFLIGHT
def test_unsupported_distribution_is_refused_with_its_name(inventory, hosts, unchanged, no_secret_shown):
    name = camera_host(hosts)
    host = hosts[1][name]
    fake = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="20.04"\nVERSION_CODENAME=focal\n'
    real = host.check_output("readlink -f /etc/os-release")
    host.check_output(f"cp -a {real} {real}.skyfleet-test")
    try:
        host.check_output(f"printf %s {shlex.quote(fake)} > {real}")
        run = run_site(inventory, "--limit", name)
        no_secret_shown.append(run)
    finally:
        host.check_output(f"mv -f {real}.skyfleet-test {real}")
    assert run.failed_with(f"{name} runs Ubuntu 20.04", "Supported: Debian 11/12/13"), run.explain()


# Not bad input, but a rerun too, as after an upgrade: the one account every camera host shared before
# each got its own (skyfleet-sync, a public name) still has a key and owns the cameras. The next run of the
# web servers' play revokes its key and hands each camera host's cameras to that host's own account.
@only_in_scenarios("bullseye", why="a run of the web servers' play")
def test_rerun_revokes_the_shared_account_and_hands_its_cameras_over(inventory, hosts, no_secret_shown):
    groups, handles = hosts
    server = handles[groups["remote"][0]]
    old_key = random_secrets.token_hex(32)
    for args in (["user", "add", "skyfleet-sync", "--password-stdin", "--exist-ok"],
                 ["user", "apikey", "skyfleet-sync", "--stdin"]):
        res = skyfleet_with_stdin(server, random_secrets.token_urlsafe(24) if "add" in args else old_key, *args)
        assert res.rc == 0, res.stdout + res.stderr
    cameras = camera_owners(server)
    assert cameras, "the remote holds no camera yet"
    for uuid in cameras:
        assert skyfleet(server, "camera", "owner", uuid, "skyfleet-sync").rc == 0
    assert account_keys(server)["skyfleet-sync"] != "key:none"

    run = run_site(inventory, "--limit", ",".join(groups["remote"]))
    no_secret_shown.append(run)
    assert run.rc == 0, run.explain()
    assert account_keys(server)["skyfleet-sync"] == "key:none"
    assert set(camera_owners(server).values()) <= set(groups["local"]), camera_owners(server)
    assert old_key not in run.output


def camera_owners(server) -> dict:
    """`skyfleet camera list` on a web server: camera uuid -> owning account."""
    res = skyfleet(server, "camera", "list")
    assert res.rc == 0, res.stderr
    rows = (line.split("\t") for line in res.stdout.splitlines())
    return {fields[1]: fields[3].removeprefix("owner:") for fields in rows}
