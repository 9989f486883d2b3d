"""Free space of the filesystem that holds the storage folder."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .policy import Floor


@dataclass(frozen=True)
class DiskUsage:
    path: Path
    total_bytes: int
    free_bytes: int  # what an unprivileged process may still write (f_bavail)

    @property
    def free_percent(self) -> float:
        return 100.0 * self.free_bytes / self.total_bytes if self.total_bytes else 0.0

    def below(self, floor: Floor) -> bool:
        return self.free_bytes < floor.bytes_for(self.total_bytes)

    def missing_for(self, floor: Floor) -> int:
        """Bytes to free to be back at the floor (0 when above it)."""
        return max(0, floor.bytes_for(self.total_bytes) - self.free_bytes)


def usage(path: Path) -> DiskUsage:
    """The filesystem of `path` (its nearest existing parent when it does not exist yet)."""
    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    st = os.statvfs(probe)
    return DiskUsage(path, st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)


def size_text(n: int) -> str:
    """Bytes for people, in binary units: 512 B, 1.5 KiB, 3.2 GiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
