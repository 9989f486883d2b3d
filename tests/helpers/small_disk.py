"""A real, small filesystem (tmpfs of a few MiB) for tests of full disks; needs root (CI runs as root)."""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int):
    """`path` as a tmpfs of `size_mb` MiB for the duration; skips the test where mounting is not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def ballast(path: Path, leave_free: int) -> Path:
    """A file filling the filesystem of `path` until `leave_free` bytes are free (not an asset)."""
    st = os.statvfs(path)
    size = st.f_bavail * st.f_frsize - leave_free
    target = path / "ballast.bin"
    with open(target, "ab") as fh:
        fh.write(b"\0" * max(0, size))
    return target
