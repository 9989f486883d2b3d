"""The upload queue's bell: a commit that added jobs rings it, idle workers wake at once (no Flask here).

Without it an idle worker looks at the queue every `idle_poll_seconds` (2 s), and a fresh image waits
for that look.  The bell is a file beside the database whose modification time a committing process
moves (the capture service's sessions: frames, night products, mini videos, camera syncs; the CLI's
`skyfleet sync resync` does not ring, its jobs wait for the next look); a waiting worker compares the time every
`CHECK_SECONDS`, a stat() that costs nothing even on a Raspberry Pi.  A file works across processes
and users with no socket to bind or clean up, and a worker that misses a ring (started after it)
still finds the job at its next look.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

BELL_NAME = "upload-queue.bell"
CHECK_SECONDS = 0.05
# session.info key: the transaction added or re-opened upload jobs (set by upload.queue).
JOBS_ADDED = "skyfleet.upload_jobs_added"


def jobs_added(session: Session) -> None:
    """Mark the session's transaction: ring the bell once it commits."""
    session.info[JOBS_ADDED] = True


class QueueBell:
    def __init__(self, folder: Path):
        self.path = Path(folder) / BELL_NAME

    def _mtime(self) -> Optional[int]:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def ring(self) -> None:
        """Best effort: a bell that cannot be rung only leaves the workers to their regular look."""
        try:
            with open(self.path, "a"):
                pass
            os.utime(self.path)
        except OSError:
            pass

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Until the bell rings (True), `stop` is set or `timeout` seconds passed (False)."""
        start = self._mtime()
        remaining = timeout
        while remaining > 0 and not stop.is_set():
            step = min(CHECK_SECONDS, remaining)
            if stop.wait(step):
                return False
            remaining -= step
            if self._mtime() != start:
                return True
        return False

    def attach(self, sessions: sessionmaker) -> None:
        """Ring after every commit of `sessions` that added jobs."""
        def after_commit(session: Session) -> None:
            if session.info.pop(JOBS_ADDED, False):
                self.ring()

        def after_soft_rollback(session: Session, previous) -> None:
            session.info.pop(JOBS_ADDED, None)

        event.listen(sessions, "after_commit", after_commit)
        event.listen(sessions, "after_soft_rollback", after_soft_rollback)
