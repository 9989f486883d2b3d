"""Dark-frame calibration: saturating dark subtraction and choosing a matching master dark.

Darks are FITS files in one folder.  A dark matches a light frame when exposure, gain and
binning agree (and, if given, the frame size); among those the one with the nearest sensor
temperature within ``temp_tolerance`` wins.
"""
from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import cv2
import numpy as np

from .fits_io import read_fits, read_header

__all__ = ["subtract_dark", "DarkInfo", "dark_info", "find_dark", "DarkLibrary", "frame_params"]

_PATTERNS = ("*.fits", "*.fit", "*.fts", "*.FITS", "*.FIT")


def subtract_dark(img: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """``img - dark`` in uint16, saturating at 0 (returns a new array)."""
    if img.shape != dark.shape:
        raise ValueError(f"dark shape {dark.shape} does not match frame shape {img.shape}")
    if img.dtype != np.uint16 or dark.dtype != np.uint16:
        raise TypeError("frame and dark must be uint16")
    return cv2.subtract(img, dark)


def _num(header: Mapping[str, Any], *keys: str) -> Optional[float]:
    for key in keys:
        value = header.get(key)
        if value is None or value == "":
            continue
        try:
            f = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            return f
    return None


def frame_params(header: Mapping[str, Any]) -> Dict[str, Optional[float]]:
    """exposure (s), gain, binning, temperature (C), width, height from a FITS header."""
    return {
        "exposure": _num(header, "EXPTIME", "EXPOSURE"),
        "gain": _num(header, "GAIN"),
        "binning": _num(header, "XBINNING", "BINNING"),
        "temperature": _num(header, "CCD-TEMP", "CCD_TEMP", "SET-TEMP"),
        "width": _num(header, "NAXIS1"),
        "height": _num(header, "NAXIS2"),
    }


@dataclass(frozen=True)
class DarkInfo:
    path: str
    exposure: Optional[float]
    gain: Optional[float]
    binning: Optional[float]
    temperature: Optional[float]
    width: Optional[float]
    height: Optional[float]
    mtime: float


def dark_info(path: str) -> DarkInfo:
    p = frame_params(read_header(path))
    return DarkInfo(path=path, mtime=os.path.getmtime(path), **p)


def _same(want: Optional[float], have: Optional[float], rel: float = 0.0, abs_: float = 1e-6) -> bool:
    """``want`` None means "don't care"; otherwise ``have`` must exist and agree."""
    if want is None:
        return True
    if have is None:
        return False
    return abs(want - have) <= max(abs_, rel * abs(want))


def _pick(darks: List[DarkInfo], exposure: Optional[float], gain: Optional[float],
          binning: Optional[float], temperature: Optional[float], temp_tolerance: float,
          exposure_tolerance: float, shape: Optional[Tuple[int, int]]) -> Optional[DarkInfo]:
    best: Optional[Tuple[float, float, DarkInfo]] = None
    for d in darks:
        if not _same(exposure, d.exposure, rel=exposure_tolerance, abs_=1e-4):
            continue
        if not (_same(gain, d.gain) and _same(binning, d.binning)):
            continue
        if shape is not None and (d.height, d.width) != (float(shape[0]), float(shape[1])):
            continue
        if temperature is None:
            dt = 0.0
        else:
            if d.temperature is None:
                continue
            dt = abs(temperature - d.temperature)
            if dt > temp_tolerance:
                continue
        key = (dt, -d.mtime)       # nearest temperature, then the newest
        if best is None or key < best[:2]:
            best = (key[0], key[1], d)
    return best[2] if best else None


def find_dark(folder: str, exposure: Optional[float], gain: Optional[float] = None,
              binning: Optional[float] = None, temperature: Optional[float] = None,
              temp_tolerance: float = 2.0, exposure_tolerance: float = 0.01,
              shape: Optional[Tuple[int, int]] = None) -> Optional[str]:
    """Path of the best dark in ``folder`` for these frame parameters, or None.

    ``None`` for gain/binning/temperature means "any".  Exposure agrees within
    ``exposure_tolerance`` (relative), temperature within ``temp_tolerance`` degrees.
    Unreadable files are ignored.
    """
    return DarkLibrary(folder).find(exposure, gain, binning, temperature, temp_tolerance,
                                    exposure_tolerance, shape)


class DarkLibrary:
    """A folder of darks with cached headers (re-read only when a file changes) and the last
    loaded dark kept in memory, so per-frame lookups are cheap."""

    def __init__(self, folder: str):
        self.folder = folder
        self._infos: Dict[str, Tuple[Tuple[float, int], DarkInfo]] = {}
        self._loaded: Optional[Tuple[str, float, np.ndarray]] = None

    def scan(self) -> List[DarkInfo]:
        paths = set()
        for pattern in _PATTERNS:
            paths.update(glob.glob(os.path.join(self.folder, pattern)))
        infos = []
        for path in sorted(paths):
            try:
                st = os.stat(path)
            except OSError:
                continue
            stamp = (st.st_mtime, st.st_size)
            cached = self._infos.get(path)
            if cached is None or cached[0] != stamp:
                try:
                    cached = (stamp, dark_info(path))
                except Exception:  # noqa: BLE001 - a broken file is not a dark
                    self._infos.pop(path, None)
                    continue
                self._infos[path] = cached
            infos.append(cached[1])
        for gone in set(self._infos) - paths:
            del self._infos[gone]
        return infos

    def find(self, exposure: Optional[float], gain: Optional[float] = None,
             binning: Optional[float] = None, temperature: Optional[float] = None,
             temp_tolerance: float = 2.0, exposure_tolerance: float = 0.01,
             shape: Optional[Tuple[int, int]] = None) -> Optional[str]:
        if not os.path.isdir(self.folder):
            return None
        info = _pick(self.scan(), exposure, gain, binning, temperature, temp_tolerance,
                     exposure_tolerance, shape)
        return info.path if info else None

    def find_for_header(self, header: Mapping[str, Any], temp_tolerance: float = 2.0,
                        shape: Optional[Tuple[int, int]] = None) -> Optional[str]:
        p = frame_params(header)
        return self.find(p["exposure"], p["gain"], p["binning"], p["temperature"],
                         temp_tolerance=temp_tolerance, shape=shape)

    def load(self, path: str) -> np.ndarray:
        """The dark's uint16 data (the last one is cached)."""
        mtime = os.path.getmtime(path)
        if self._loaded and self._loaded[0] == path and self._loaded[1] == mtime:
            return self._loaded[2]
        data, _ = read_fits(path)
        self._loaded = (path, mtime, data)
        return data
