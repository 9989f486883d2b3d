"""roles/skyfleet_app/files/build-wheelhouse.py: the controller's wheelhouse for an offline install.

No network: the pins are selected from the real requirement files for each target, the pip command is
built and checked, and pip itself is replaced by a fake that answers like pip does.
"""
from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = [REPO / "requirements" / "app.txt", REPO / "requirements" / "camera.txt"]
BUILDER = REPO / "roles" / "skyfleet_app" / "files" / "build-wheelhouse.py"
_spec = importlib.util.spec_from_file_location("build_wheelhouse", BUILDER)
bw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bw)


def pins(python_full: str, machine: str = "x86_64") -> dict:
    selected = bw.select_pins(REQUIREMENTS, bw.target_environment(python_full, machine))
    return dict(pin.split("==") for pin in selected)


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_python_3_9_gets_the_old_numpy_and_the_backports(machine):
    selected = pins("3.9.2", machine)
    assert selected["numpy"] == "1.26.4" and selected["astropy"] == "6.0.1"
    assert selected["opencv-python-headless"] == "4.11.0.86" and selected["PyYAML"] == "6.0.3"
    assert "tomli" in selected and "importlib_metadata" in selected and "zipp" in selected


@pytest.mark.parametrize("python_full", ["3.11.2", "3.13.5"])
@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_newer_pythons_get_the_new_pins_and_no_backports(python_full, machine):
    selected = pins(python_full, machine)
    assert selected["numpy"] == "2.4.6" and selected["astropy"] == "8.0.2" and selected["PyYAML"] == "6.0.4"
    assert not {"tomli", "importlib_metadata", "zipp"} & set(selected)


def test_one_pin_per_package_whatever_the_target():
    for python_full in ("3.9.2", "3.10.12", "3.11.2", "3.12.3", "3.13.5"):
        selected = bw.select_pins(REQUIREMENTS, bw.target_environment(python_full, "x86_64"))
        names = [pin.split("==")[0].lower() for pin in selected]
        assert len(names) == len(set(names)), python_full


def test_markers_are_the_targets_not_the_controllers():
    # the controller running this test may be 3.11+: 3.9's pins must still come out
    assert pins("3.9.2")["numpy"] == "1.26.4"
    assert bw.target_environment("3.9.2", "aarch64")["python_version"] == "3.9"


def test_platform_tags_from_the_glibc_down_to_manylinux2014():
    assert bw.platform_tags("x86_64", "2.31") == [f"manylinux_2_{n}_x86_64" for n in range(31, 16, -1)] + [
        "manylinux2014_x86_64"]
    assert bw.platform_tags("aarch64", "2.17") == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]


def test_armv7l_and_old_glibc_are_refused():
    with pytest.raises(bw.WheelhouseError, match="armv7l"):
        bw.platform_tags("armv7l", "2.36")
    with pytest.raises(bw.WheelhouseError, match="2.12"):
        bw.platform_tags("x86_64", "2.12")


def test_pip_command_names_the_target_and_takes_no_deps(tmp_path):
    command = bw.pip_download_command("python3", "3.9.2", ["manylinux_2_17_x86_64"], tmp_path, tmp_path / "s.txt")
    assert command[:4] == ["python3", "-m", "pip", "download"]
    for option in ("--no-deps", "--only-binary=:all:"):
        assert option in command
    assert command[command.index("--python-version") + 1] == "3.9.2"
    assert command[command.index("--abi") + 1] == "cp39"
    assert command[command.index("--platform") + 1] == "manylinux_2_17_x86_64"


def test_pip_ignores_the_controllers_pip_configuration(monkeypatch):
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    env = bw.pip_environment()
    assert env["PIP_CONFIG_FILE"] == "/dev/null" and "PIP_FIND_LINKS" not in env


def fake_pip(wheels=(), returncode=0, stderr=""):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        dest = Path(command[command.index("-d") + 1])
        for name in wheels:
            (dest / name).write_bytes(b"")
        return subprocess.CompletedProcess(command, returncode, "", stderr)
    run.calls = calls
    return run


def test_a_missing_wheel_is_named(tmp_path):
    req = tmp_path / "app.txt"
    req.write_text("numpy==1.26.4\n")
    stderr = ("ERROR: Could not find a version that satisfies the requirement numpy==1.26.4 (from versions: none)\n"
              "ERROR: No matching distribution found for numpy==1.26.4\n")
    with pytest.raises(bw.WheelhouseError, match=r"no binary wheel of numpy==1\.26\.4 for CPython 3\.9\.2 on aarch64"):
        bw.build(tmp_path / "cache", "3.9.2", "aarch64", "2.31", [req], run=fake_pip(returncode=1, stderr=stderr))
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []   # no half build


def test_build_once_then_reuse_the_stamped_wheelhouse(tmp_path):
    req = tmp_path / "app.txt"
    req.write_text("Flask==3.1.3\ntomli==2.5.0 ; python_version < \"3.11\"\n")
    run = fake_pip(wheels=["flask-3.1.3-py3-none-any.whl", "tomli-2.5.0-py3-none-any.whl"])
    first = bw.build(tmp_path / "cache", "3.9.2", "x86_64", "2.31", [req], run=run)
    second = bw.build(tmp_path / "cache", "3.9.2", "x86_64", "2.31", [req], run=run)
    assert first["built"] and not second["built"] and first["dir"] == second["dir"]
    assert len(run.calls) == 1
    wheelhouse = Path(first["dir"])
    assert wheelhouse.name.startswith("3.9.2-x86_64-glibc2.31-")
    assert (wheelhouse / bw.STAMP).exists()
    assert (wheelhouse / bw.SELECTED).read_text() == "Flask==3.1.3\ntomli==2.5.0\n"


def test_other_requirements_make_another_wheelhouse(tmp_path):
    req = tmp_path / "app.txt"
    req.write_text("Flask==3.1.3\n")
    key = bw.cache_key("3.9.2", "x86_64", "2.31", [req])
    req.write_text("Flask==3.1.2\n")
    assert bw.cache_key("3.9.2", "x86_64", "2.31", [req]) != key


def test_a_wheel_pip_left_out_fails(tmp_path):
    req = tmp_path / "app.txt"
    req.write_text("Flask==3.1.3\nclick==8.1.8\n")
    with pytest.raises(bw.WheelhouseError, match="left out click"):
        bw.build(tmp_path / "cache", "3.9.2", "x86_64", "2.31", [req],
                 run=fake_pip(wheels=["flask-3.1.3-py3-none-any.whl"]))
