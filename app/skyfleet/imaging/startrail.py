"""Incremental star trail: the per-pixel maximum of dark-enough frames."""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from ._frames import check_uint8, match_channels, match_size

__all__ = ["StarTrail", "mean_brightness"]


def mean_brightness(img8: np.ndarray) -> float:
    """Mean of a uint8 image over all channels, as a fraction of 255."""
    channels = 1 if img8.ndim == 2 else img8.shape[2]
    return float(sum(cv2.mean(img8)[:channels]) / channels / 255.0)


class StarTrail:
    """Frames whose mean brightness (fraction of 255) exceeds ``max_brightness`` are skipped
    and counted; the others are folded into a running per-pixel maximum.  Frames of another
    size are resized to the first accepted frame's size."""

    def __init__(self, max_brightness: float = 0.35):
        if not 0.0 < max_brightness <= 1.0:
            raise ValueError("max_brightness is a fraction of full scale, 0 < x <= 1")
        self.max_brightness = float(max_brightness)
        self._acc: Optional[np.ndarray] = None
        self.used = 0
        self.skipped = 0

    @property
    def count(self) -> int:
        return self.used

    def add(self, img8: np.ndarray) -> bool:
        """Fold ``img8`` in; returns False (and counts it) if it was too bright."""
        check_uint8(img8)
        if mean_brightness(img8) > self.max_brightness:
            self.skipped += 1
            return False
        if self._acc is None:
            self._acc = np.array(match_channels(img8, img8.ndim == 3 and img8.shape[2] == 3),
                                 copy=True)
        else:
            frame = match_size(match_channels(img8, self._acc.ndim == 3), self._acc.shape[:2])
            np.maximum(self._acc, frame, out=self._acc)
        self.used += 1
        return True

    def image(self) -> np.ndarray:
        if self._acc is None:
            raise ValueError("star trail has no frames")
        return self._acc.copy()
