"""Debayer a raw sensor frame using the FITS ``BAYERPAT`` (+ ``XBAYROFF``/``YBAYROFF``).

OpenCV names its Bayer codes after the 2x2 block that starts at pixel (1, 1), not (0, 0), so an
RGGB sensor needs ``COLOR_BayerBG2BGR`` (and so on for the other three).  An odd X offset swaps
the pattern's columns, an odd Y offset its rows.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import cv2
import numpy as np

__all__ = ["BAYER_TO_CV", "bayer_pattern", "debayer", "is_colour"]

# FITS pattern at pixel (0, 0) -> OpenCV conversion code.
BAYER_TO_CV = {
    "RGGB": cv2.COLOR_BayerBG2BGR,
    "BGGR": cv2.COLOR_BayerRG2BGR,
    "GRBG": cv2.COLOR_BayerGB2BGR,
    "GBRG": cv2.COLOR_BayerGR2BGR,
}

_MONO_VALUES = {"", "NONE", "MONO", "MONOCHROME", "FALSE", "0"}


def _shift_pattern(pattern: str, xoff: int, yoff: int) -> str:
    rows = [pattern[0:2], pattern[2:4]]
    if yoff % 2:
        rows = rows[::-1]
    if xoff % 2:
        rows = [r[::-1] for r in rows]
    return "".join(rows)


def bayer_pattern(header: Optional[Mapping[str, Any]], pattern: Optional[str] = None) -> Optional[str]:
    """The effective pattern at pixel (0, 0), or None for a mono frame.

    ``pattern`` overrides the header's BAYERPAT (e.g. a camera setting).  Raises ValueError for a
    pattern that is not one of RGGB, BGGR, GRBG, GBRG.
    """
    header = header if header is not None else {}
    raw = pattern if pattern is not None else header.get("BAYERPAT", "")
    pat = str(raw if raw is not None else "").strip().upper()
    if pat in _MONO_VALUES:
        return None
    if pat not in BAYER_TO_CV:
        raise ValueError(f"unknown Bayer pattern {raw!r}; expected one of {sorted(BAYER_TO_CV)}")
    try:
        xoff = int(float(header.get("XBAYROFF", 0) or 0))
        yoff = int(float(header.get("YBAYROFF", 0) or 0))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad XBAYROFF/YBAYROFF in header: {exc}") from None
    return _shift_pattern(pat, xoff, yoff)


def is_colour(img: np.ndarray) -> bool:
    return img.ndim == 3 and img.shape[2] == 3


def debayer(raw: np.ndarray, header: Optional[Mapping[str, Any]] = None,
            pattern: Optional[str] = None) -> np.ndarray:
    """H x W mono stays as it is; a Bayer mosaic becomes H x W x 3 BGR (same dtype).

    Frames that are already colour (H x W x 3) are passed through.
    """
    if is_colour(raw):
        return raw
    if raw.ndim != 2:
        raise ValueError(f"expected an H x W frame, got shape {raw.shape}")
    pat = bayer_pattern(header, pattern)
    if pat is None:
        return raw
    if raw.shape[0] < 2 or raw.shape[1] < 2:
        raise ValueError(f"frame {raw.shape} is too small to debayer")
    return cv2.cvtColor(raw, BAYER_TO_CV[pat])
