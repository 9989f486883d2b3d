"""Runs of site.yml against the converged hosts that must succeed: a dry run that reports nothing, a
one-variable change that restarts only the unit that reads it, and a camera host deployed while its remote
is down, whose queue delivers once the remote is back.

Each run costs about two minutes, so each runs once (not per host) in one scenario: the dry run on the
upgraded pair (upgrade; molecule's idempotence step runs in trixie and bullseye), the other two in trixie.
The remote-down run comes after the one-variable test: it deploys the scenario's own inventory again,
which puts back the capture period that test changed.
"""
import datetime as dt

import pytest
import tomllib
from playbook_runs import run_site, set_host_vars, state_of
from skyfleet_testinfra import CONFIG_FILE, PROXIES, has_image_taken_at, latest_asset, only_in_scenarios, wait_for

ON_THE_UPGRADED_PAIR = only_in_scenarios("upgrade", why="a site.yml rerun (about 2 minutes)")
ON_A_FRESH_PAIR = only_in_scenarios("trixie", why="a site.yml rerun (about 2 minutes)")

DELIVERY_TIMEOUT = 180  # seconds: the workers' retry back-off after failed attempts, then the upload
PROXY_UNITS = [unit for unit, _, _ in PROXIES.values()]


def units_of(handle) -> dict:
    """MainPID and start time of each watched unit the host has (no files)."""
    return state_of(handle, dirs=())


def taken(asset: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(asset["create_date_utc"])


@ON_THE_UPGRADED_PAIR
def test_check_mode_on_the_converged_site_reports_no_change(inventory, hosts, unchanged, no_secret_shown):
    groups, _ = hosts
    run = run_site(inventory, "--check", "--diff")
    no_secret_shown.append(run)
    assert run.rc == 0, run.explain()
    recap = run.recap()
    assert set(recap) == set(groups["remote"] + groups["local"]), run.explain()
    dirty = {name: counts for name, counts in recap.items()
             if counts.get("changed") or counts.get("failed") or counts.get("unreachable")}
    assert not dirty, f"--check --diff on a converged site: {dirty}\n{run.explain()}"


@ON_A_FRESH_PAIR
def test_changing_the_capture_period_restarts_only_capture(inventory, hosts, no_secret_shown):
    groups, handles = hosts
    camera = groups["local"][0]
    period = tomllib.loads(handles[camera].file(CONFIG_FILE).content_string)["capture"]["period"]
    new_period = period + 5.0
    before = {name: units_of(h) for name, h in handles.items()}
    set_host_vars(inventory, camera, {"skyfleet_camera_period": new_period})

    run = run_site(inventory)
    no_secret_shown.append(run)
    assert run.rc == 0, run.explain()

    after = {name: units_of(h) for name, h in handles.items()}
    capture = "skyfleet-capture.service"
    assert after[camera][capture] != before[camera][capture], (before[camera][capture], after[camera][capture])
    restarted = sorted(f"{name}: {unit}" for name in handles for unit in before[name]
                       if (name, unit) != (camera, capture) and before[name][unit] != after[name][unit])
    assert not restarted, f"a new capture period restarted more than skyfleet-capture: {restarted}"
    assert any(unit in before[camera] for unit in ("indiserver.service", "skyfleet-upload@1.service")), before
    settings = tomllib.loads(handles[camera].file(CONFIG_FILE).content_string)
    assert settings["capture"]["period"] == new_period, settings["capture"]


@ON_A_FRESH_PAIR
def test_camera_host_deploys_while_its_remote_is_down_and_the_queue_delivers_after(inventory, hosts,
                                                                                    no_secret_shown):
    groups, handles = hosts
    camera, remote_name = groups["local"][0], groups["remote"][0]
    if camera == remote_name:
        pytest.skip("the camera host is its own remote")
    local, remote = handles[camera], handles[remote_name]
    proxies = [unit for unit in PROXY_UNITS if remote.service(unit).is_running]
    assert proxies, f"no proxy ({', '.join(PROXY_UNITS)}) runs on {remote_name}"
    last_delivered = latest_asset(remote)
    assert last_delivered, f"{remote_name} holds no image yet"

    remote.check_output(f"systemctl stop {' '.join(proxies)}")
    try:
        run = run_site(inventory, "--limit", camera)
        no_secret_shown.append(run)
        # a frame the camera host took while the remote was down, and which the remote does not have
        captured = wait_for(lambda: _newer(latest_asset(local), last_delivered), 60)
        assert captured, f"no frame captured on {camera} while {remote_name} was down"
        assert not has_image_taken_at(remote, captured["camera"], captured["create_date_utc"])
    finally:
        remote.check_output(f"systemctl start {' '.join(proxies)}")

    assert run.rc == 0, run.explain()
    url = f"https://{remote_name}/indi-allsky"
    assert f"WARNING: remote 'remote' at {url} does not answer" in run.output, run.explain()
    assert "is deployed anyway without checking its API key there" in run.output, run.explain()
    # playbooks/check.yml: skyfleet sync check warns instead of failing
    assert f"The upload queue of {camera} keeps the frames" in run.output, run.explain()

    delivered = wait_for(lambda: has_image_taken_at(remote, captured["camera"], captured["create_date_utc"]),
                         DELIVERY_TIMEOUT)
    assert delivered, (f"the frame {captured['create_date_utc']} taken on {camera} while {remote_name} was down "
                       f"did not reach it within {DELIVERY_TIMEOUT} s (latest there: {latest_asset(remote)})")


def _newer(asset, than: dict):
    """`asset` if it is an image of the same camera taken after `than`."""
    if not asset or asset["camera"] != than["camera"]:
        return None
    return asset if taken(asset) > taken(than) else None

