"""Running a benchmark's client threads together and timing them."""
from __future__ import annotations

import threading
import time
from typing import Callable


def run_timed(target: Callable[[], None], count: int) -> float:
    """Start `count` threads running `target`, wait for all of them; seconds from the first start."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0
