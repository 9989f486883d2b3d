"""The previous release the upgrade scenario deploys first (molecule/upgrade/releases/): one archive,
complete enough for site.yml to deploy it, and byte for byte what its git tag holds where the tag is
in this clone (CI clones may be shallow or carry no tags, which is why the archive exists)."""
from __future__ import annotations

import gzip
import io
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RELEASES = REPO / "molecule" / "upgrade" / "releases"
NEEDED = ["site.yml", "playbooks/remote.yml", "playbooks/local.yml", "roles/skyfleet_app/tasks/main.yml",
          "app/pyproject.toml", "inventory/demo/group_vars"]


@pytest.fixture(scope="module")
def archive() -> Path:
    found = sorted(RELEASES.glob("skyfleet-*.tar.gz"))
    assert len(found) == 1, f"{RELEASES} holds {[p.name for p in found]}: expected exactly one archive"
    return found[0]


def version_of(archive: Path) -> str:
    match = re.fullmatch(r"skyfleet-(\d+\.\d+\.\d+)\.tar\.gz", archive.name)
    assert match, f"{archive.name} is not named skyfleet-X.Y.Z.tar.gz"
    return match.group(1)


def members(data: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.rstrip("/"): (tar.extractfile(m).read() if m.isfile() else m.type)
                for m in tar.getmembers() if m.name != "pax_global_header"}


def test_the_archive_holds_what_site_yml_needs_and_is_the_release_it_is_named_after(archive):
    content = members(archive.read_bytes())
    missing = [path for path in NEEDED if path not in content]
    assert not missing, f"{archive.name} lacks {missing}"
    pyproject = content["app/pyproject.toml"].decode()
    assert f'version = "{version_of(archive)}"' in pyproject
    assert not [p for p in content if p.startswith(("tests/", "molecule/"))], "the archive carries test trees"


def test_the_archive_is_what_the_tag_holds(archive):
    tag = f"v{version_of(archive)}"
    if not shutil.which("git") or subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"],
            capture_output=True).returncode != 0:
        pytest.skip(f"no tag {tag} in this clone (shallow or without tags)")
    paths = ["site.yml", "ansible.cfg", "app", "requirements", "roles", "playbooks", "inventory/demo"]
    from_git = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", tag, "--", *paths],
                              capture_output=True, check=True).stdout
    assert members(gzip.decompress(archive.read_bytes())) == members(from_git), (
        f"{archive.name} differs from git tag {tag}: run script/release-archive {tag}")
