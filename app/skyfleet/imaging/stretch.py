"""Auto-stretch of 16-bit frames to uint8, and the ADU measurement used by auto-exposure.

The stretch is a PixInsight-style screen transfer: statistics (median, MAD) from a subsampled
view, a shadows clip at ``median + shadows_clip * 1.4826 * MAD``, then the midtone transfer
function chosen so that the median lands on ``target_bg``.  It is applied as one 65536-entry
lookup table to all channels (linked stretch, keeps the colour balance).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

__all__ = ["StretchParams", "mtf", "image_stats", "stretch_lut", "linear_lut", "apply_lut",
           "stretch", "adu"]

_LEVELS = 65536
_MAD_TO_SIGMA = 1.4826
_BAND_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class StretchParams:
    median: float   # normalised 0..1
    mad: float      # normalised 0..1, already scaled by 1.4826
    c0: float       # shadows clip point, normalised
    m: float        # midtone balance


def mtf(m, x):
    """Midtone transfer function: mtf(m, 0)=0, mtf(m, m)=0.5, mtf(m, 1)=1."""
    return ((m - 1.0) * x) / ((2.0 * m - 1.0) * x - m)


def _hist_median(hist: np.ndarray, n: int) -> int:
    """Lower median of the values counted in ``hist``."""
    return int(np.searchsorted(np.cumsum(hist), (n - 1) // 2 + 1))


def image_stats(img16: np.ndarray, sample: int = 4) -> Tuple[float, float]:
    """(median, 1.4826 * MAD) of a uint16 image, normalised to 0..1, from every ``sample``-th
    pixel in both directions, computed exactly with histograms (no sort, no float copy)."""
    if img16.dtype != np.uint16:
        raise TypeError(f"expected uint16, got {img16.dtype}")
    sample = max(1, int(sample))
    view = img16[::sample, ::sample]
    if view.size == 0:
        raise ValueError("empty image")
    hist = np.bincount(view.ravel(), minlength=_LEVELS)
    n = int(view.size)
    med = _hist_median(hist, n)
    # histogram of |v - med|: fold the histogram around the median
    up = hist[med:]
    down = hist[: med + 1][::-1]
    dev = np.zeros(max(up.size, down.size), dtype=np.int64)
    dev[: up.size] += up
    dev[: down.size] += down
    dev[0] -= hist[med]
    mad = _hist_median(dev, n)
    scale = float(_LEVELS - 1)
    return med / scale, _MAD_TO_SIGMA * mad / scale


def stretch_lut(img16: np.ndarray, target_bg: float = 0.25, shadows_clip: float = -2.8,
                sample: int = 4) -> Tuple[np.ndarray, StretchParams]:
    """The auto-stretch as a 65536-entry uint8 LUT plus the parameters used."""
    if not 0.0 < target_bg < 1.0:
        raise ValueError("target_bg must be between 0 and 1")
    med, mad = image_stats(img16, sample)
    c0 = min(max(med + shadows_clip * mad, 0.0), 1.0)
    span = max(1.0 - c0, 1e-9)
    x = (med - c0) / span                      # the median after the shadows clip
    m = float(mtf(target_bg, x)) if 0.0 < x < 1.0 else 0.5
    v = np.clip((np.linspace(0.0, 1.0, _LEVELS) - c0) / span, 0.0, 1.0)
    lut = (np.clip(mtf(m, v), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return lut, StretchParams(median=med, mad=mad, c0=c0, m=m)


def linear_lut(black: int = 0, white: int = 65535) -> np.ndarray:
    """A plain linear 16 -> 8 bit LUT between ``black`` and ``white`` ADU (no auto-stretch)."""
    if white <= black:
        raise ValueError("white must be above black")
    v = (np.arange(_LEVELS, dtype=np.float64) - black) / float(white - black)
    return (np.clip(v, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def apply_lut(img16: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """uint16 image (any number of channels) through a 65536-entry LUT -> uint8, same shape."""
    if img16.dtype != np.uint16:
        raise TypeError(f"expected uint16, got {img16.dtype}")
    if lut.shape != (_LEVELS,):
        raise ValueError("LUT must have 65536 entries")
    out = np.empty(img16.shape, dtype=lut.dtype)
    if img16.ndim < 2:
        return np.take(lut, img16, out=out)
    # in bands of rows: np.take turns the indices into an intp array first, and a cache-sized
    # band of that is ~1.7x faster than one 8-bytes-per-pixel temporary for the whole frame
    row = int(np.prod(img16.shape[1:])) or 1
    band = max(1, _BAND_ELEMENTS // row)
    for y in range(0, img16.shape[0], band):
        np.take(lut, img16[y:y + band], out=out[y:y + band])
    return out


def stretch(img16: np.ndarray, target_bg: float = 0.25, shadows_clip: float = -2.8,
            sample: int = 4) -> Tuple[np.ndarray, StretchParams]:
    """Auto-stretch a uint16 image -> (uint8 image, parameters)."""
    lut, params = stretch_lut(img16, target_bg=target_bg, shadows_clip=shadows_clip, sample=sample)
    return apply_lut(img16, lut), params


def centre_roi(img: np.ndarray, fraction: Optional[float]) -> np.ndarray:
    """The centred window covering ``fraction`` of the width and of the height (a view)."""
    if fraction is None or fraction >= 1.0:
        return img
    if not 0.0 < fraction:
        raise ValueError("ROI fraction must be > 0")
    h, w = img.shape[:2]
    rh, rw = max(1, int(round(h * fraction))), max(1, int(round(w * fraction)))
    y0, x0 = (h - rh) // 2, (w - rw) // 2
    return img[y0:y0 + rh, x0:x0 + rw]


def adu(img: np.ndarray, roi: Optional[float] = None) -> float:
    """Mean ADU of a frame (all channels), optionally of a centred ROI ``roi`` x the size."""
    view = centre_roi(img, roi)
    if view.size == 0:
        raise ValueError("empty image")
    if view.ndim == 2 or (view.ndim == 3 and view.shape[2] <= 4):
        channels = 1 if view.ndim == 2 else view.shape[2]
        means = cv2.mean(view)[:channels]      # SIMD, works on strided views
        return float(sum(means) / channels)
    return float(view.mean(dtype=np.float64))
