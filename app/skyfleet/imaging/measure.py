"""What a frame says about the sky: stars counted, a pseudo-SQM, and line features (meteors, satellites).

All three look only inside the sky circle (the frame's inscribed circle shrunk by SKY_RADIUS: the
horizon, trees and the lens rim are not sky), and work on a copy no larger than MEASURE_SIZE on its
long side (the line search on every other pixel of it), so a 9-megapixel frame costs about what a
1-megapixel one does.

- Stars: the frame, lightly blurred (pixel noise does not survive it, a star does), minus its opening
  (the sky without what is smaller than the kernel); blobs brighter than the residual's noise by
  STAR_SIGMA, of a star's size, are stars.
- Pseudo-SQM: the sky background (median of the raw frame in the circle, minus the sensor's pedestal)
  per second of exposure and per unit of gain, as a magnitude: darker sky, higher value.  It is relative
  (no photometric calibration); `offset` moves it onto a real meter's scale.
- Lines: the difference to the previous frame, thresholded, searched with a probabilistic Hough
  transform; segments close to each other are one detection.  A frame that changed over a large part of
  the sky (clouds, the exposure stepping) is not searched: that is not a line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import cv2
import numpy as np

__all__ = ["Measurements", "measure", "count_stars", "pseudo_sqm", "detect_lines", "working_copy"]

MEASURE_SIZE = 1280
SKY_RADIUS = 0.92
STAR_SMOOTHING = 3           # pixels: the box blur that sensor noise does not survive
BACKGROUND_KERNEL = 15       # pixels: the opening that removes stars (smaller than this) and keeps the sky
STAR_SIGMA = 5.0
STATS_STEP = 4               # the noise level from every 4th pixel each way
STAR_MIN_LEVEL = 12          # of 255: never count faint noise on a very flat frame
STAR_MAX_SIZE = 8            # pixels across on the working copy: bigger blobs are the moon, lights, clouds
                             # (and a single pixel, a hot pixel or a noise spike, is not a star either)
LINE_LEVEL = 40              # of 255: how much brighter a line is than the same place in the last frame
LINE_MIN_LENGTH = 0.06       # of the working copy's long side
LINE_MERGE = 15              # pixels: segments nearer than this are one detection
LINE_PIECE = 8               # pixels: a changed blob this long may be part of a line; shorter ones are dots
CHANGED_TOO_MUCH = 0.02      # of the sky circle: beyond this much change, no line search
SQM_PEDESTAL_FRACTION = 0.0  # of the 16-bit range, subtracted from the background (a sensor's offset)


@dataclass(frozen=True)
class Measurements:
    stars: int
    sqm: float
    detections: int
    lines: tuple = ()        # ((x1, y1, x2, y2), ...) on the working copy, for the log and the tests


def working_copy(img8: np.ndarray) -> np.ndarray:
    """The frame as 8-bit grey, no larger than MEASURE_SIZE on its long side."""
    grey = img8 if img8.ndim == 2 else cv2.cvtColor(img8, cv2.COLOR_BGR2GRAY)
    scale = MEASURE_SIZE / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)),
                          interpolation=cv2.INTER_AREA)
    return grey


@lru_cache(maxsize=8)
def sky_mask(shape: tuple) -> np.ndarray:
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (w // 2, h // 2), int(min(h, w) / 2 * SKY_RADIUS), 255, -1)
    return mask


def count_stars(grey: np.ndarray) -> int:
    mask = sky_mask(grey.shape)
    smooth = cv2.blur(grey, (STAR_SMOOTHING, STAR_SMOOTHING))  # a star spans pixels, sensor noise does not
    residual = np.zeros_like(grey)  # zero outside the sky circle
    cv2.subtract(smooth, _background(smooth), dst=residual, mask=mask)
    median, mad = _median_and_mad(residual[::STATS_STEP, ::STATS_STEP][mask[::STATS_STEP, ::STATS_STEP] > 0])
    level = max(STAR_MIN_LEVEL, median + STAR_SIGMA * max(1.4826 * mad, 1.0))
    _, peaks = cv2.threshold(residual, level, 255, cv2.THRESH_BINARY)
    # outer contours: a tenth of what connected-component labelling costs on a sparse frame
    contours, _ = cv2.findContours(peaks, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = [cv2.boundingRect(c)[2:] for c in contours]
    return sum(1 for w, h in boxes if (w > 1 or h > 1) and w <= STAR_MAX_SIZE and h <= STAR_MAX_SIZE)


def _background(smooth: np.ndarray) -> np.ndarray:
    """The sky without what is smaller than BACKGROUND_KERNEL: an opening, on every other pixel (the sky
    changes slowly; half the cost), brought back to full size."""
    h, w = smooth.shape
    half = np.ascontiguousarray(smooth[::2, ::2])
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (BACKGROUND_KERNEL // 2 + 1, BACKGROUND_KERNEL // 2 + 1))
    return cv2.resize(cv2.morphologyEx(half, cv2.MORPH_OPEN, kernel), (w, h), interpolation=cv2.INTER_NEAREST)


def _median_and_mad(values: np.ndarray) -> tuple:
    """Median and median absolute deviation of 8-bit values, from their histogram (a tenth of np.median)."""
    counts = np.bincount(values, minlength=256)
    half = (values.size + 1) // 2
    median = int(np.searchsorted(np.cumsum(counts), half))
    levels = np.arange(256)
    deviations = np.bincount(np.abs(levels - median), weights=counts, minlength=256)
    return float(median), float(np.searchsorted(np.cumsum(deviations), half))


def pseudo_sqm(raw: np.ndarray, exposure: float, gain: Optional[float], offset: float) -> float:
    """Magnitudes per (pseudo) square arcsecond: `offset - 2.5 log10(background rate)`."""
    step = max(1, max(raw.shape[:2]) // 256)
    sample = raw[::step, ::step] if raw.ndim == 2 else raw[::step, ::step].mean(axis=2)
    mask = sky_mask(sample.shape[:2]) > 0
    full_scale = 65535.0 if raw.dtype != np.uint8 else 255.0
    background = float(np.median(sample[mask])) / full_scale - SQM_PEDESTAL_FRACTION
    gain_factor = 10 ** ((gain or 0.0) / 200.0)  # ZWO-style gain in 0.1 dB steps; 0 = unity
    rate = max(background, 1e-6) / (max(exposure, 1e-6) * gain_factor)
    return round(offset - 2.5 * math.log10(rate), 2)


def detect_lines(grey: np.ndarray, previous: Optional[np.ndarray]) -> tuple:
    """Line features new since `previous` (same working-copy shape), merged into detections."""
    if previous is None or previous.shape != grey.shape:
        return ()
    mask = sky_mask(grey.shape)
    brighter = cv2.subtract(grey, previous)
    _, changed = cv2.threshold(brighter, LINE_LEVEL, 255, cv2.THRESH_BINARY)
    changed = cv2.bitwise_and(changed, mask)
    if cv2.countNonZero(changed) > CHANGED_TOO_MUCH * cv2.countNonZero(mask):
        return ()
    pieces, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not any(max(cv2.boundingRect(c)[2:]) >= LINE_PIECE for c in pieces):
        return ()  # only dots changed (stars, noise): no line to look for, and the Hough transform is the cost
    min_length = LINE_MIN_LENGTH * max(grey.shape)
    segments = cv2.HoughLinesP(changed, 1, np.pi / 180, threshold=int(min_length / 2),
                               minLineLength=min_length, maxLineGap=5)
    if segments is None:
        return ()
    canvas = np.zeros_like(changed)
    for x1, y1, x2, y2 in segments.reshape(-1, 4):  # (N, 1, 4) or (N, 4), by OpenCV version
        cv2.line(canvas, (int(x1), int(y1)), (int(x2), int(y2)), 255, LINE_MERGE)
    n, labels = cv2.connectedComponents(canvas, connectivity=8)
    groups = []
    for label in range(1, n):
        ys, xs = np.nonzero(labels == label)
        groups.append((int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())))
    return tuple(groups)


def measure(img8: np.ndarray, raw: np.ndarray, exposure: float, gain: Optional[float], *,
            previous: Optional[np.ndarray] = None, sqm_offset: float = 22.0) -> tuple:
    """(Measurements, the half-size copy the line search used: pass it as `previous` with the next frame)."""
    grey = working_copy(img8)
    # lines are long: every other pixel each way finds them at a quarter of the cost
    small = np.ascontiguousarray(grey[::2, ::2])
    lines = detect_lines(small, previous)
    return Measurements(count_stars(grey), pseudo_sqm(raw, exposure, gain, sqm_offset), len(lines), lines), small
