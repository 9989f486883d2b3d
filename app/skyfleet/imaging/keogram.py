"""Incremental keogram: the centre column of every frame, stacked left to right.

Columns are stored row-wise in a preallocated buffer that grows in chunks (1.5x), so memory
stays at roughly height x frames x channels bytes, with no per-frame Python objects.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from ._frames import check_uint8

__all__ = ["KEOGRAM_PIXELS", "Keogram", "keogram_pixels"]


class Keogram:
    def __init__(self, initial_capacity: int = 256):
        self._initial = max(1, int(initial_capacity))
        self._buf: Optional[np.ndarray] = None   # N x H (x 3)
        self._n = 0
        self.height: Optional[int] = None
        self.colour: Optional[bool] = None

    @property
    def count(self) -> int:
        return self._n

    def _column(self, img8: np.ndarray) -> np.ndarray:
        col = img8[:, img8.shape[1] // 2]            # H or H x C
        if col.ndim == 2 and col.shape[1] == 1:
            col = col[:, 0]
        colour = col.ndim == 2
        if self.colour and not colour:
            col = np.repeat(col[:, None], 3, axis=1)
        elif self.colour is False and colour:
            col = cv2.cvtColor(np.ascontiguousarray(col[:, None, :]), cv2.COLOR_BGR2GRAY)[:, 0]
        if col.shape[0] != self.height:
            resized = cv2.resize(np.ascontiguousarray(col[:, None]), (1, self.height),
                                 interpolation=cv2.INTER_AREA if col.shape[0] > self.height
                                 else cv2.INTER_LINEAR)
            col = resized.reshape((self.height,) + col.shape[1:])
        return col

    def add(self, img8: np.ndarray) -> None:
        """Append the centre column of ``img8`` (resized to the first frame's height)."""
        check_uint8(img8)
        if self._buf is None:
            self.height = img8.shape[0]
            self.colour = img8.ndim == 3 and img8.shape[2] == 3
            shape = (self._initial, self.height) + ((3,) if self.colour else ())
            self._buf = np.empty(shape, dtype=np.uint8)
        col = self._column(img8)
        if self._n == self._buf.shape[0]:
            grown = np.empty((self._n + max(self._initial, self._n // 2),) + self._buf.shape[1:],
                             dtype=np.uint8)
            grown[: self._n] = self._buf
            self._buf = grown
        self._buf[self._n] = col
        self._n += 1

    def image(self) -> np.ndarray:
        """H x N (mono) or H x N x 3 (colour) uint8."""
        if self._buf is None or self._n == 0:
            raise ValueError("keogram has no frames")
        data = self._buf[: self._n]
        axes = (1, 0, 2) if data.ndim == 3 else (1, 0)
        return np.ascontiguousarray(data.transpose(axes))


KEOGRAM_PIXELS = 5


def keogram_pixels(img8: np.ndarray, count: int = KEOGRAM_PIXELS) -> list:
    """``count`` [R, G, B] triples down the keogram's line (the centre column) of one finished frame:
    each the mean of an equal band of that column, top to bottom.  SyncAPI images carry them as
    ``keogram_pixels``, and a remote keeps them as the long-term keogram after the images are gone."""
    check_uint8(img8)
    column = img8[:, img8.shape[1] // 2].astype(np.float64)
    if column.ndim == 1:
        column = np.repeat(column[:, None], 3, axis=1)
    elif column.shape[1] == 1:
        column = np.repeat(column, 3, axis=1)
    else:
        column = column[:, ::-1]  # OpenCV's BGR -> RGB
    bands = np.array_split(column, count, axis=0)
    return [[int(round(v)) for v in band.mean(axis=0)] if len(band) else [0, 0, 0] for band in bands]
