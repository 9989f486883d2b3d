"""Run site.yml again from inside a molecule verify step, against the converged hosts, with a
deliberately broken copy of the scenario's inventory; and snapshot what must not change.

molecule gives the verifier MOLECULE_EPHEMERAL_DIRECTORY (its inventory, with the demo
group_vars linked in), MOLECULE_PROJECT_DIRECTORY (site.yml) and ANSIBLE_CONFIG (docker
connection, roles path, vault password file).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List

import yaml

# what a failed run must leave as it was: the services' processes and the deployed files
WATCHED_UNITS = ["apache2.service", "nginx.service", "skyfleet-web.service", "skyfleet-syncapi.service",
                 "indiserver.service", "skyfleet-capture.service", "skyfleet-upload@1.service",
                 "skyfleet-upload@2.service"]
WATCHED_DIRS = ["/etc/skyfleet", "/etc/ssl/skyfleet", "/etc/apache2/sites-available", "/etc/nginx/sites-available",
                "/opt/skyfleet/venv/bin"]


def molecule_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: these tests run inside `molecule verify`")
    return value


def inventory_copy(dest: Path) -> Path:
    """A writable copy of the scenario's inventory with the linked group_vars copied in."""
    source = Path(molecule_env("MOLECULE_EPHEMERAL_DIRECTORY")) / "inventory"
    shutil.copytree(source, dest, symlinks=False)
    return dest


def hosts_of(inventory: Path) -> Dict[str, List[str]]:
    """group -> host names, as ansible-inventory sees the copy."""
    out = subprocess.run(["ansible-inventory", "-i", str(inventory), "--list"], capture_output=True, text=True,
                         check=True, env=os.environ).stdout
    data = yaml.safe_load(out)
    return {group: data.get(group, {}).get("hosts", []) for group in ("remote", "local")}


def vault_secrets(inventory: Path) -> List[str]:
    """Every string the inventory's vault files hold (API keys, passwords), decrypted with the
    scenario's vault password: none of them may ever show in a run's output."""
    found: List[str] = []

    def leaves(value) -> None:
        if isinstance(value, dict):
            for v in value.values():
                leaves(v)
        elif isinstance(value, list):
            for v in value:
                leaves(v)
        elif isinstance(value, str) and len(value) >= 8:
            found.append(value)

    for vault in sorted(inventory.glob("group_vars/*/vault.yml")):
        plain = subprocess.run(["ansible-vault", "view", str(vault)], capture_output=True, text=True, check=True,
                               env=os.environ).stdout
        leaves(yaml.safe_load(plain))
    if not found:
        raise RuntimeError(f"no secrets found in {inventory}/group_vars/*/vault.yml")
    return found


def set_host_vars(inventory: Path, host: str, values: dict) -> None:
    """Add `values` to the host's host_vars file (kept: what the scenario itself sets there)."""
    path = inventory / "host_vars" / f"{host}.yml"
    path.parent.mkdir(exist_ok=True)
    current = yaml.safe_load(path.read_text()) if path.exists() else None
    path.write_text(yaml.safe_dump({**(current or {}), **values}))


@dataclass
class Run:
    rc: int
    output: str

    def failed_with(self, *phrases: str) -> bool:
        return self.rc != 0 and all(p in self.output for p in phrases)

    def recap(self) -> Dict[str, Dict[str, int]]:
        """PLAY RECAP: host -> {"ok": n, "changed": n, "failed": n, ...}."""
        return {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
                for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", self.output, re.MULTILINE)}

    def explain(self) -> str:
        return f"exit {self.rc}; last lines:\n" + "\n".join(self.output.splitlines()[-40:])


def deployed_sources() -> List[str]:
    """The -e options that make a run deploy what converge deployed: script/test-ansible converges a
    snapshot of app/ and requirements/, so edits made since cannot show up as a change."""
    options = []
    for var, env in (("skyfleet_app_source_dir", "SKYFLEET_TEST_APP_SOURCE_DIR"),
                     ("skyfleet_app_requirements_dir", "SKYFLEET_TEST_REQUIREMENTS_DIR")):
        if os.environ.get(env):
            options += ["-e", f"{var}={os.environ[env]}"]
    return options


def run_site(inventory: Path, *args: str, timeout: float = 600) -> Run:
    site = Path(molecule_env("MOLECULE_PROJECT_DIRECTORY")) / "site.yml"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(site), *deployed_sources(), *args],
                          capture_output=True, text=True, env=env, timeout=timeout)
    return Run(proc.returncode, proc.stdout + proc.stderr)


def state_of(host, units: Iterable[str] = WATCHED_UNITS, dirs: Iterable[str] = WATCHED_DIRS) -> dict:
    """Main PIDs and start times of the units the host has, and a checksum of every watched file.

    Raises when a host has none of the units: a snapshot of nothing would make every comparison pass."""
    state = {}
    for unit in units:
        q = shlex.quote(unit)
        res = host.run(f"systemctl show -p LoadState,MainPID,ActiveEnterTimestampMonotonic {q}")
        props = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
        if res.rc == 0 and props.get("LoadState") == "loaded":
            state[unit] = props
    for directory in dirs:
        listing = host.run(f"find {shlex.quote(directory)} -type f -exec sha256sum {{}} + 2>/dev/null | sort")
        state[directory] = listing.stdout
    if not any(unit in state for unit in units):
        raise AssertionError(f"none of {list(units)} is loaded on {host.backend.hostname}")
    return state
