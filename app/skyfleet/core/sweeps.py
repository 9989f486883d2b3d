"""How often a server process does a chore that need not run on every request (no Flask here).

E.g. deleting the remembered nonces and v1 MACs whose window has passed: once a minute is as good as
on every upload, and an upload that does not do it is one write less.
"""
from __future__ import annotations

import time
from typing import Callable

SWEEP_SECONDS = 60.0


class Sweeps:
    """When each table of remembered requests was last swept of expired rows, in this process."""

    def __init__(self, every_seconds: float = SWEEP_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.every_seconds = every_seconds
        self.clock = clock
        self._last: dict[str, float] = {}

    def due(self, table: str) -> bool:
        """True (and from now on not due for a while) when `table` was not swept recently."""
        now = self.clock()
        last = self._last.get(table)
        if last is not None and now - last < self.every_seconds:
            return False
        self._last[table] = now
        return True
