#!/usr/bin/env python3
"""Build (or reuse) a wheelhouse for one target on the controller: skyfleet_app_offline.

    build-wheelhouse.py --cache DIR --python 3.9.2 --machine x86_64 --glibc 2.31 REQUIREMENTS...

The pins of REQUIREMENTS are selected for the TARGET (its environment markers evaluated here with
an explicit environment: `pip download --python-version` would evaluate them for the controller's
own Python), then downloaded as binary wheels for the target's Python, ABI and manylinux platforms,
--no-deps: the requirement files pin every transitive dependency, so the wheelhouse holds exactly
those pins. The wheelhouse is <cache>/<python>-<machine>-glibc<glibc>-<hash of the files>/ with a
stamp written last; it is built in a temporary directory and renamed into place, under a lock, so
two hosts with the same key in one run build it once. Prints one JSON line: key, dir, built.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

STAMP = ".skyfleet-wheelhouse"
SELECTED = "selected.txt"
# manylinux wheels exist for these; armv7l (32-bit Raspberry Pi OS) has none for numpy, OpenCV, ...
MACHINES = ("x86_64", "aarch64")


class WheelhouseError(Exception):
    pass


def target_environment(python_full: str, machine: str) -> dict:
    major, minor = python_full.split(".")[:2]
    return {
        "python_version": f"{major}.{minor}",
        "python_full_version": python_full,
        "platform_machine": machine,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_release": "",
        "platform_version": "",
        "implementation_name": "cpython",
        "implementation_version": python_full,
        "platform_python_implementation": "CPython",
        "os_name": "posix",
    }


def select_pins(paths: list[Path], environment: dict) -> list[str]:
    """The `name==version` lines of the files whose markers hold for `environment` (no -r here)."""
    pins = []
    for path in paths:
        for raw in path.read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("-"):
                raise WheelhouseError(f"{path}: option lines are not supported in a wheelhouse build: {line}")
            req = Requirement(line)
            if req.marker is not None and not Marker(str(req.marker)).evaluate(environment):
                continue
            specs = list(req.specifier)
            if len(specs) != 1 or specs[0].operator != "==":
                raise WheelhouseError(f"{path}: {req.name} is not pinned with == ({line})")
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            pins.append(f"{req.name}{extras}=={specs[0].version}")
    return pins


def platform_tags(machine: str, glibc: str) -> list[str]:
    """manylinux_2_17 .. manylinux_2_<glibc minor> and manylinux2014 (= 2_17) for `machine`."""
    if machine not in MACHINES:
        raise WheelhouseError(f"no manylinux wheels for {machine}: skyfleet_app_offline needs x86_64 or aarch64")
    major, minor = (int(part) for part in glibc.split(".")[:2])
    if major != 2 or minor < 17:
        raise WheelhouseError(f"glibc {glibc} is older than manylinux2014 (2.17)")
    return [f"manylinux_2_{n}_{machine}" for n in range(minor, 16, -1)] + [f"manylinux2014_{machine}"]


def cache_key(python_full: str, machine: str, glibc: str, paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{python_full}-{machine}-glibc{glibc}-{digest.hexdigest()[:12]}"


def pip_environment() -> dict:
    # pip runs with no pip configuration file at all (PIP_CONFIG_FILE=/dev/null): a controller's
    # /etc/pip.conf or ~/.config/pip may add find-links or extra indexes (local wheel folders built for
    # the controller) whose files could end up in a wheelhouse meant for another platform. An index the
    # operator sets on purpose still works through PIP_INDEX_URL in the environment. The certificate
    # bundle is the system's (PIP_CERT) when none is given, so HTTPS through an intercepting egress
    # proxy whose CA the system trusts works; pip's own certifi would not know that CA.
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        env.pop(name, None)
    system_bundle = "/etc/ssl/certs/ca-certificates.crt"
    if "PIP_CERT" not in env and os.path.exists(system_bundle):
        env["PIP_CERT"] = system_bundle
    return env


def pip_download_command(python: str, python_full: str, tags: list[str], dest: Path, selected: Path) -> list[str]:
    major, minor = python_full.split(".")[:2]
    command = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--implementation", "cp",
               "--python-version", python_full, "--abi", f"cp{major}{minor}", "--abi", "abi3", "--abi", "none"]
    for tag in tags:
        command += ["--platform", tag]
    return command + ["--progress-bar", "off", "-d", str(dest), "-r", str(selected)]


_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")


def download(pins: list[str], dest: Path, python_full: str, machine: str, glibc: str,
             python: str = sys.executable, run=subprocess.run) -> None:
    selected = dest / SELECTED
    selected.write_text("".join(pin + "\n" for pin in pins))
    command = pip_download_command(python, python_full, platform_tags(machine, glibc), dest, selected)
    result = run(command, env=pip_environment(), capture_output=True, text=True)
    if result.returncode != 0:
        missing = _NO_MATCH.search(result.stderr or "")
        if missing:
            raise WheelhouseError(
                f"no binary wheel of {missing.group(1)} for CPython {python_full} on {machine} (glibc {glibc}): "
                "skyfleet_app_offline needs a wheel of every pin in the requirements; pip said:\n"
                + result.stderr.strip())
        raise WheelhouseError(f"pip download failed (exit {result.returncode}):\n{(result.stderr or '').strip()}")
    names = {re.split(r"[=\[]", pin)[0].lower().replace("_", "-") for pin in pins}
    wheels = {path.name.split("-")[0].lower().replace("_", "-") for path in dest.glob("*.whl")}
    if names - wheels:
        raise WheelhouseError(f"pip download left out {', '.join(sorted(names - wheels))}")


def build(cache: Path, python_full: str, machine: str, glibc: str, paths: list[Path],
          python: str = sys.executable, run=subprocess.run) -> dict:
    key = cache_key(python_full, machine, glibc, paths)
    final = cache / key
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / STAMP).exists():
            return {"key": key, "dir": str(final), "built": False}
        pins = select_pins(paths, target_environment(python_full, machine))
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache))
        try:
            download(pins, tmp, python_full, machine, glibc, python=python, run=run)
            (tmp / STAMP).write_text(json.dumps({"python": python_full, "machine": machine, "glibc": glibc}) + "\n")
            if final.exists():
                shutil.rmtree(final)   # an earlier build that never got its stamp
            os.chmod(tmp, 0o755)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return {"key": key, "dir": str(final), "built": True}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--python", required=True, help="the target's full Python version, e.g. 3.9.2")
    parser.add_argument("--machine", required=True, help="platform.machine() of the target")
    parser.add_argument("--glibc", required=True, help="the target's glibc version, e.g. 2.31")
    parser.add_argument("requirements", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        result = build(args.cache.expanduser(), args.python, args.machine, args.glibc, args.requirements)
    except WheelhouseError as exc:
        print(f"build-wheelhouse: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
