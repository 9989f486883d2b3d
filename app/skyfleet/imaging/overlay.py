"""Text overlay on the finished uint8 image: metadata -> lines (pure), lines -> pixels (cv2).

OpenCV's Hershey fonts are ASCII only, so degrees are written as "C", not "°C".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ["format_utc_offset", "format_timestamp", "format_exposure", "format_overlay_lines",
           "TextLayout", "layout_text", "draw_overlay"]

FONT = cv2.FONT_HERSHEY_SIMPLEX


def format_utc_offset(offset: Optional[timedelta]) -> str:
    """timedelta -> "+01:00" / "-03:30" / "+05:45"."""
    if offset is None:
        return ""
    minutes = int(round(offset.total_seconds() / 60.0))
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_timestamp(when_local: datetime) -> str:
    """"2026-11-30 21:04:05 +01:00" (no offset for a naive datetime)."""
    text = when_local.strftime("%Y-%m-%d %H:%M:%S")
    offset = format_utc_offset(when_local.utcoffset())
    return f"{text} {offset}" if offset else text


def format_exposure(seconds: float) -> str:
    """30 -> "30 s", 2.5 -> "2.5 s", 0.00025 -> "0.25 ms"."""
    seconds = float(seconds)
    if 0 < seconds < 0.01:
        return f"{seconds * 1000:.4g} ms"
    return f"{seconds:.4g} s"


def _number(value: Any) -> Optional[float]:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f else None  # drop NaN


def format_overlay_lines(when_local: Optional[datetime], meta: Mapping[str, Any]) -> List[str]:
    """Overlay lines from metadata.  Known keys (all optional): ``title`` (first line),
    ``exposure`` (s), ``gain``, ``temperature`` (sensor, C), ``extra`` (list of more lines).
    Missing or None values are left out.
    """
    lines: List[str] = []
    title = meta.get("title")
    if title:
        lines.append(str(title))
    if when_local is not None:
        lines.append(format_timestamp(when_local))
    exposure = _number(meta.get("exposure"))
    if exposure is not None:
        lines.append(f"Exposure {format_exposure(exposure)}")
    gain = _number(meta.get("gain"))
    if gain is not None:
        lines.append(f"Gain {gain:g}")
    temp = _number(meta.get("temperature"))
    if temp is not None:
        lines.append(f"Sensor {temp:.1f} C")
    for extra in meta.get("extra") or ():
        lines.append(str(extra))
    return lines


@dataclass(frozen=True)
class TextLayout:
    origins: Tuple[Tuple[int, int], ...]   # baseline-left point per line
    font_scale: float
    thickness: int
    outline: int                            # extra outline thickness (each side)
    box: Tuple[int, int, int, int]          # x0, y0, x1, y1 (exclusive), clipped to the image


def layout_text(shape: Sequence[int], lines: Sequence[str], scale: float = 1.0,
                margin: Optional[int] = None) -> TextLayout:
    """Where ``draw_overlay`` puts the lines: top-left, line height ~1/40 of the image height
    times ``scale`` (at least 10 px), and the bounding box of every pixel it may touch."""
    h, w = int(shape[0]), int(shape[1])
    line_px = max(10.0, h / 40.0 * scale)
    (_, ref_h), _ = cv2.getTextSize("Ag", FONT, 1.0, 1)
    font_scale = line_px / max(ref_h, 1)
    thickness = max(1, int(round(font_scale * 1.6)))
    outline = max(1, int(round(thickness * 0.8)))
    margin = int(round(line_px * 0.6)) if margin is None else int(margin)
    step = int(round(line_px * 1.5))
    origins = []
    x0, y = margin, margin
    x1, y1 = x0, y
    pad = thickness + 2 * outline + 2     # anti-aliased strokes reach past getTextSize's box
    for i, line in enumerate(lines):
        (tw, th), base = cv2.getTextSize(line, FONT, font_scale, thickness)
        y = margin + int(round(line_px)) + i * step
        origins.append((x0, y))
        x1 = max(x1, x0 + tw)
        y1 = max(y1, y + base)
    box = (max(0, x0 - pad), max(0, margin - pad), min(w, x1 + pad), min(h, y1 + pad))
    return TextLayout(tuple(origins), font_scale, thickness, outline, box)


def _blend(roi: np.ndarray, alpha: np.ndarray, colour: Sequence[int]) -> np.ndarray:
    """roi * (1 - alpha) + colour * alpha in uint8 with OpenCV's SIMD arithmetic."""
    if roi.ndim == 3:
        channels = roi.shape[2]
        alpha = cv2.merge([alpha] * channels)
        fill = cv2.merge([np.full(roi.shape[:2], int(c), np.uint8)
                          for c in tuple(colour)[:channels]])
    else:
        fill = np.full_like(roi, int(colour[0]))
    keep = cv2.multiply(roi, 255 - alpha, scale=1.0 / 255.0)
    return cv2.add(keep, cv2.multiply(fill, alpha, scale=1.0 / 255.0))


def draw_overlay(img8: np.ndarray, lines: Sequence[str], scale: float = 1.0,
                 color: Tuple[int, int, int] = (255, 255, 255),
                 outline_color: Tuple[int, int, int] = (0, 0, 0)) -> TextLayout:
    """Draw ``lines`` onto ``img8`` IN PLACE (white text with a dark outline for legibility).

    The text is rendered into a mask over the text box only; the outline is that mask dilated,
    which works the same with every OpenCV font renderer.  Returns the layout; every changed
    pixel lies inside ``layout.box``.
    """
    if img8.dtype != np.uint8:
        raise TypeError(f"overlay expects a uint8 image, got {img8.dtype}")
    layout = layout_text(img8.shape, lines, scale)
    x0, y0, x1, y1 = layout.box
    if not lines or x1 <= x0 or y1 <= y0:
        return layout
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for line, (ox, oy) in zip(lines, layout.origins):
        cv2.putText(mask, line, (ox - x0, oy - y0), FONT, layout.font_scale, 255,
                    layout.thickness, cv2.LINE_AA)
    k = 2 * layout.outline + 1
    ring = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    ring = cv2.multiply(ring, 2)          # saturating: a solid outline even around thin strokes
    roi = img8[y0:y1, x0:x1]
    roi[...] = _blend(_blend(roi, ring, outline_color), mask, color)
    return layout
