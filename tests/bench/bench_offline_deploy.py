"""Benchmark: a fresh camera host's deploy from a wheelhouse against the same deploy from the package index,
same run.

A web server is deployed once (untimed): a container from local/debian12-systemd, as in molecule, converged
with the demo inventory's variables. Then each round deploys one camera host, each time into a new container
with nothing installed, with `ansible-playbook site.yml --limit <camera host>` (the remote's account and key
already exist, so the run is the camera host's own work), three ways:

    index       skyfleet_app_offline false: the host's pip downloads every pin from the package index
    wheelhouse  skyfleet_app_offline true, the controller's cache already holds the wheelhouse (every camera
                host after the first with the same Python)
    cold        skyfleet_app_offline true with an empty controller cache: the controller downloads the
                wheels first (the first camera host)

Timed: the whole run (wall clock) and the task that builds the release venv (ansible.posix.profile_tasks).
The order of the three rotates from round to round; the Debian packages (INDI, Python, ...) are the same
work in each. Printed: each time and its ratio to `index` of the same round, then the medians. Run as root
on the machine that runs molecule (dockerd, the images of .ci/build-images.sh):

    .venv/bin/python -m tests.bench.bench_offline_deploy [--rounds 1] [--keep]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
IMAGE = "local/debian12-systemd:latest"
NETWORK = "skyfleet-bench-net"
REMOTE, CAMERA = "skyfleet-demo-remote", "skyfleet-demo-local"  # the demo vault's host names
REMOTE_CONTAINER = "skyfleet-bench-remote"
MODES = ("index", "wheelhouse", "cold")
VENV_TASK = "Build the new release (when it is not built yet)"
SYSTEMD_OPTIONS = ["--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--security-opt", "seccomp=unconfined",
                   "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run",
                   "--tmpfs", "/run/lock", "-e", "container=docker"]


@dataclass
class Deploy:
    mode: str
    seconds: float
    venv_seconds: float


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def start_container(name: str, alias: str) -> None:
    docker("rm", "-f", name, check=False)
    docker("run", "-d", "--name", name, "--hostname", alias, "--network", NETWORK, "--network-alias", alias,
           *SYSTEMD_OPTIONS, IMAGE)
    for _ in range(60):
        state = docker("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise RuntimeError(f"systemd did not come up in {name}")


def write_inventory(root: Path, camera_container: str, host_vars: dict) -> Path:
    """The demo inventory's variables with the benchmark's containers behind the demo's host names."""
    inventory = root / "inventory"
    shutil.rmtree(inventory, ignore_errors=True)
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "group_vars").symlink_to(REPO / "inventory" / "demo" / "group_vars")
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "community.docker.docker"},
        "children": {"remote": {"hosts": {REMOTE: {"ansible_host": REMOTE_CONTAINER}}},
                     "local": {"hosts": {CAMERA: {"ansible_host": camera_container}}}}}}))
    (inventory / "host_vars" / f"{CAMERA}.yml").write_text(yaml.safe_dump(host_vars))
    return inventory


def ansible_playbook(inventory: Path, playbook: Path, *args: str) -> str:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_VAULT_PASSWORD_FILE=str(REPO / "inventory" / "demo" / "DEMO-ONLY-vault-password.txt"),
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="all")
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                          str(playbook), *args], capture_output=True, text=True, env=env, cwd=REPO)
    if run.returncode != 0:
        raise RuntimeError(f"{playbook.name} {' '.join(args)} failed (exit {run.returncode}):\n"
                           + "\n".join((run.stdout + run.stderr).splitlines()[-40:]))
    return run.stdout


def task_seconds(output: str, task: str) -> float:
    """The time profile_tasks reports for a task (its summary lists each task with its seconds)."""
    found = re.findall(rf"{re.escape(task)} -+ (\d+\.\d+)s", output)
    if not found:
        raise RuntimeError(f"profile_tasks reported no time for {task!r}")
    return max(float(seconds) for seconds in found)


def prepare(inventory: Path, limit: str) -> None:
    """The test harness's plumbing (this machine's CA certificates for pip), as molecule's prepare step."""
    ansible_playbook(inventory, REPO / "molecule" / "shared" / "prepare.yml", "--limit", limit)


def deploy_camera(root: Path, mode: str, round_no: int, warm_cache: Path) -> Deploy:
    container = f"skyfleet-bench-camera-{round_no}-{mode}"
    start_container(container, CAMERA)
    try:
        cache = warm_cache if mode == "wheelhouse" else Path(tempfile.mkdtemp(dir=root, prefix="cold-cache."))
        inventory = write_inventory(root, container, {"skyfleet_app_offline": mode != "index",
                                                      "skyfleet_app_wheelhouse_cache": str(cache)})
        prepare(inventory, CAMERA)
        started = time.monotonic()
        output = ansible_playbook(inventory, REPO / "site.yml", "--limit", CAMERA)
        seconds = time.monotonic() - started
        return Deploy(mode, seconds, task_seconds(output, VENV_TASK))
    finally:
        docker("rm", "-f", container, check=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="leave the web server container running")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="skyfleet-bench-offline."))
    warm_cache = root / "warm-cache"
    if docker("network", "inspect", NETWORK, check=False).returncode != 0:
        docker("network", "create", NETWORK)
    try:
        print(f"deploying the web server {REMOTE} (untimed)", flush=True)
        start_container(REMOTE_CONTAINER, REMOTE)
        inventory = write_inventory(root, "skyfleet-bench-camera-none", {})
        prepare(inventory, REMOTE)
        ansible_playbook(inventory, REPO / "site.yml", "--limit", REMOTE)
        print("filling the controller's wheelhouse cache (untimed): a first offline camera host", flush=True)
        deploy_camera(root, "wheelhouse", 0, warm_cache)

        rounds = []
        for n in range(1, args.rounds + 1):
            order = MODES[n % 3:] + MODES[:n % 3]
            results = {}
            for mode in order:
                results[mode] = deploy_camera(root, mode, n, warm_cache)
                d = results[mode]
                print(f"round {n} {mode:10s} deploy {d.seconds:7.1f} s   venv {d.venv_seconds:6.1f} s", flush=True)
            rounds.append(results)
            base = results["index"]
            for mode in MODES[1:]:
                d = results[mode]
                print(f"round {n} {mode:10s} / index: deploy {d.seconds / base.seconds:.2f}x   "
                      f"venv {d.venv_seconds / base.venv_seconds:.2f}x", flush=True)

        print("\nmedians over", len(rounds), "round(s)")
        for mode in MODES:
            deploy = statistics.median(r[mode].seconds for r in rounds)
            venv = statistics.median(r[mode].venv_seconds for r in rounds)
            deploy_ratio = statistics.median(r[mode].seconds / r["index"].seconds for r in rounds)
            venv_ratio = statistics.median(r[mode].venv_seconds / r["index"].venv_seconds for r in rounds)
            print(f"{mode:10s} deploy {deploy:7.1f} s ({deploy_ratio:.2f}x index)   "
                  f"venv {venv:6.1f} s ({venv_ratio:.2f}x index)")
    finally:
        if not args.keep:
            docker("rm", "-f", REMOTE_CONTAINER, check=False)
            docker("network", "rm", NETWORK, check=False)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
