"""What the capture service is doing, for the journal's readers and the admin page.

The service writes one small JSON file (``capture-state.json`` in the data folder) on every change
and after every frame; the web app, another process, reads it.  Written atomically, never half.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Union

from ..core.files import atomic_write_bytes

STATE_FILE_NAME = "capture-state.json"

CAPTURING, PAUSED, REFUSED, FAILING, STARTING, STOPPED = "capturing", "paused", "refused", "failing", "starting", \
    "stopped"
PROBLEM_STATES = (REFUSED, FAILING)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class CaptureStatus:
    state: str = STARTING
    message: str = ""  # why, for a problem state; what it does, otherwise
    camera: str = ""
    night: Optional[bool] = None
    exposure: Optional[float] = None  # seconds, of the last frame or the last request
    exposure_limits: str = ""  # in use now, after fitting the settings into the driver's range
    driver_exposure_range: str = ""  # what the driver accepts, when it says
    frames: int = 0
    since: str = ""  # UTC ISO time the state began
    updated: str = ""

    @property
    def problem(self) -> bool:
        return self.state in PROBLEM_STATES

    def changed_to(self, state: str, message: str) -> bool:
        """Set the state; True when it differs from before (the caller logs it)."""
        changed = (state, message) != (self.state, self.message)
        if state != self.state or not self.since:
            self.since = _now()
        self.state, self.message = state, message
        self.updated = _now()
        return changed


def write_status(path: Union[str, Path], status: CaptureStatus) -> None:
    # not fsynced: it is rewritten every period, and a lost last state only shows an older one
    atomic_write_bytes(path, json.dumps(asdict(status)).encode(), fsync=False)


def read_status(path: Union[str, Path]) -> Optional[CaptureStatus]:
    """The last state written, or None when there is none (no capture on this host, or not yet)."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    known = {f.name for f in fields(CaptureStatus)}
    return CaptureStatus(**{k: v for k, v in raw.items() if k in known})
