"""Small helpers shared by the night products: make a frame match a reference size/colour."""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np


def match_channels(img: np.ndarray, colour: bool) -> np.ndarray:
    """Gray <-> BGR so that ``img`` is colour (H x W x 3) or mono (H x W) as asked."""
    is_colour = img.ndim == 3
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
        is_colour = False
    if colour and not is_colour:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if not colour and is_colour:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return img


def match_size(img: np.ndarray, size_hw: Tuple[int, int]) -> np.ndarray:
    h, w = size_hw
    if img.shape[:2] == (h, w):
        return img
    shrink = img.shape[0] * img.shape[1] > h * w
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def check_uint8(img: np.ndarray) -> None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise TypeError("expected a uint8 H x W or H x W x 3 image")
