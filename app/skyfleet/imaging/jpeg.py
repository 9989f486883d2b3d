"""JPEG output (atomic) and thumbnails."""
from __future__ import annotations

import os

import cv2
import numpy as np

from ..core.files import atomic_write_bytes

__all__ = ["encode_jpeg", "write_jpeg", "thumbnail", "resize_to_width"]


def encode_jpeg(img8: np.ndarray, quality: int = 90) -> bytes:
    """uint8 gray or BGR image -> JPEG bytes.  Raises ValueError if OpenCV cannot encode it."""
    if not isinstance(img8, np.ndarray) or img8.dtype != np.uint8:
        raise ValueError(f"JPEG needs a uint8 image, got {getattr(img8, 'dtype', type(img8))}")
    if img8.size == 0 or img8.ndim not in (2, 3) or (img8.ndim == 3 and img8.shape[2] not in (1, 3)):
        raise ValueError(f"cannot encode an image of shape {img8.shape} as JPEG")
    quality = int(min(max(int(quality), 1), 100))
    try:
        ok, buf = cv2.imencode(".jpg", img8, [cv2.IMWRITE_JPEG_QUALITY, quality])
    except cv2.error as exc:
        raise ValueError(f"JPEG encode failed: {exc}") from None
    if not ok:
        raise ValueError("JPEG encode failed")
    return buf.tobytes() if hasattr(buf, "tobytes") else bytes(buf)


def write_jpeg(path, img8: np.ndarray, quality: int = 90, fsync: bool = True) -> str:
    """Encode, then write to a temp file in the same folder, fsync and rename onto ``path``.

    If encoding fails nothing is written; a crash mid-write leaves the old file (if any) intact.
    """
    data = encode_jpeg(img8, quality)
    return atomic_write_bytes(os.fspath(path), data, fsync=fsync)


def resize_to_width(img: np.ndarray, width: int) -> np.ndarray:
    """Downscale to ``width`` keeping the aspect ratio (INTER_AREA); never upscales."""
    h, w = img.shape[:2]
    width = int(width)
    if width <= 0:
        raise ValueError("width must be positive")
    if w <= width:
        return img
    height = max(1, int(round(h * width / w)))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def thumbnail(img8: np.ndarray, width: int = 320) -> np.ndarray:
    """Thumbnail ``width`` pixels wide (default 320)."""
    return resize_to_width(img8, width)
