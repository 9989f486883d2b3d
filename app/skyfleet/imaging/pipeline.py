"""Per-frame processing: FITS -> (dark) -> debayer -> stretch -> overlay -> JPEG + thumbnail
(+ the raw FITS kept).  No database, no upload queue: callers wire the result onward."""
from __future__ import annotations

import io
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ..core.files import atomic_target, atomic_write_bytes
from .calibration import DarkLibrary, frame_params, subtract_dark
from .debayer import bayer_pattern, debayer
from .fits_io import read_fits
from .jpeg import thumbnail, write_jpeg
from .measure import Measurements, measure
from .overlay import draw_overlay, format_overlay_lines, layout_text
from .stretch import StretchParams, adu, apply_lut, linear_lut, stretch_lut

__all__ = ["ProcessingSettings", "ProcessedFrame", "process_frame", "default_basename"]


@dataclass
class ProcessingSettings:
    out_dir: Optional[str] = None          # where the JPEG/thumbnail/FITS go (or pass out_dir=)
    jpeg_quality: int = 90
    thumbnail: bool = True
    thumb_width: int = 320
    auto_stretch: bool = True              # False: plain linear 16 -> 8 bit
    target_bg: float = 0.25                # where the auto-stretch puts the median (0..1)
    shadows_clip: float = -2.8             # in MADs from the median
    stretch_sample: int = 4                # statistics from every n-th pixel
    bayer_pattern: Optional[str] = None    # override the FITS BAYERPAT ("" forces mono)
    overlay: bool = True
    overlay_scale: float = 1.0
    adu_roi: Optional[float] = None        # centred ROI fraction for the ADU, None = full frame
    keep_fits: bool = False                # also keep the raw FITS as received
    dark_dir: Optional[str] = None         # folder of master darks; None = no dark subtraction
    dark_temp_tolerance: float = 2.0       # degrees C
    fsync: bool = True
    measure: bool = True                   # stars, pseudo-SQM and line detection (imaging/measure.py)
    sqm_offset: float = 22.0               # moves the relative pseudo-SQM onto a real meter's scale


@dataclass
class ProcessedFrame:
    jpeg_path: str
    thumb_path: Optional[str]
    fits_path: Optional[str]
    adu: float                             # mean ADU of the raw 16-bit frame (before the dark)
    width: int
    height: int
    channels: int
    bayer_pattern: Optional[str]
    dark_path: Optional[str]
    stretch: Optional[StretchParams]
    overlay_lines: List[str]
    process_elapsed: float                 # seconds spent in process_frame
    timings: Dict[str, float] = field(default_factory=dict, repr=False)
    # the finished uint8 frame WITHOUT the text overlay (for keogram/star trail/timelapse)
    image: Optional[np.ndarray] = field(default=None, repr=False)
    header: Any = field(default=None, repr=False)
    measurements: Optional[Measurements] = None
    # the grey copy the line search used: pass it as `previous` with the next frame
    measure_copy: Optional[np.ndarray] = field(default=None, repr=False)


_dark_libraries: Dict[str, DarkLibrary] = {}
_dark_lock = threading.Lock()


def _dark_library(folder: str) -> DarkLibrary:
    key = os.path.abspath(folder)
    with _dark_lock:
        lib = _dark_libraries.get(key)
        if lib is None:
            lib = _dark_libraries[key] = DarkLibrary(key)
        return lib


def default_basename(when_local: Optional[datetime]) -> str:
    when = when_local or datetime.now()
    return "image-" + when.strftime("%Y%m%d_%H%M%S")


def _merged_meta(meta: Mapping[str, Any], header: Mapping[str, Any]) -> Dict[str, Any]:
    """The caller's metadata, with exposure/gain/temperature filled from the FITS header."""
    merged = dict(meta)
    params = frame_params(header)
    for key in ("exposure", "gain", "temperature"):
        if merged.get(key) is None and params.get(key) is not None:
            merged[key] = params[key]
    return merged


def _keep_fits(source, dest: str, fsync: bool) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return atomic_write_bytes(dest, source, fsync=fsync)
    with atomic_target(dest, fsync=fsync) as tmp:
        shutil.copyfile(os.fspath(source), tmp)
    return dest


def process_frame(fits_source, settings: Optional[ProcessingSettings] = None,
                  when_local: Optional[datetime] = None, meta: Optional[Mapping[str, Any]] = None,
                  *, out_dir: Optional[str] = None, basename: Optional[str] = None,
                  previous: Optional[np.ndarray] = None) -> ProcessedFrame:
    """Process one frame (FITS path, FITS bytes or a binary file object).

    Writes ``<basename>.jpg``, ``<basename>_thumb.jpg`` and, with ``keep_fits``,
    ``<basename>.fits`` into ``out_dir`` (argument, else ``settings.out_dir``), all atomically.
    ``meta`` may carry exposure/gain/temperature/title/extra for the overlay; missing values
    come from the FITS header.  ``previous``: the last frame's ``measure_copy``, for line detection.
    """
    t_start = time.perf_counter()
    s = settings or ProcessingSettings()
    meta = meta or {}
    out_dir = out_dir or s.out_dir
    if not out_dir:
        raise ValueError("no output directory: pass out_dir= or set settings.out_dir")
    os.makedirs(out_dir, exist_ok=True)
    basename = basename or default_basename(when_local)
    timings: Dict[str, float] = {}

    def lap(name: str, t0: float) -> float:
        t1 = time.perf_counter()
        timings[name] = t1 - t0
        return t1

    if isinstance(fits_source, io.IOBase) or hasattr(fits_source, "read"):
        fits_source = fits_source.read()          # bytes: read once, keep them if asked
    t = time.perf_counter()
    raw, header = read_fits(fits_source)
    t = lap("read", t)

    frame_adu = adu(raw, s.adu_roi)
    t = lap("adu", t)

    dark_path = None
    if s.dark_dir and raw.ndim == 2:
        lib = _dark_library(s.dark_dir)
        p = frame_params(header)
        def pick(key):
            return meta.get(key) if meta.get(key) is not None else p[key]
        dark_path = lib.find(pick("exposure"), pick("gain"), p["binning"], pick("temperature"),
                             temp_tolerance=s.dark_temp_tolerance, shape=raw.shape)
        if dark_path:
            raw = subtract_dark(raw, lib.load(dark_path))
        t = lap("dark", t)

    pattern = bayer_pattern(header, s.bayer_pattern) if raw.ndim == 2 else None
    img16 = debayer(raw, header, s.bayer_pattern)
    t = lap("debayer", t)

    params: Optional[StretchParams] = None
    if s.auto_stretch:
        if pattern is not None:
            # statistics from the mosaic itself: cheaper than the 3-channel image, and an odd
            # step visits all four colour sites
            step = s.stretch_sample if s.stretch_sample % 2 else s.stretch_sample + 1
            lut, params = stretch_lut(raw, s.target_bg, s.shadows_clip, step)
        else:
            lut, params = stretch_lut(img16, s.target_bg, s.shadows_clip, s.stretch_sample)
    else:
        lut = linear_lut()
    img8 = apply_lut(img16, lut)
    del img16
    t = lap("stretch", t)

    merged = _merged_meta(meta, header) if (s.measure or s.overlay) else {}
    measurements, measure_copy = None, None
    if s.measure:  # before the overlay: its text is not stars
        measurements, measure_copy = measure(img8, raw, float(merged.get("exposure") or 0.0), merged.get("gain"),
                                             previous=previous, sqm_offset=s.sqm_offset)
        t = lap("measure", t)
    del raw

    lines: List[str] = []
    saved = None
    if s.overlay:
        lines = format_overlay_lines(when_local, merged)
        if lines:
            x0, y0, x1, y1 = layout_text(img8.shape, lines, s.overlay_scale).box
            saved = (y0, y1, x0, x1, img8[y0:y1, x0:x1].copy())
            draw_overlay(img8, lines, s.overlay_scale)
    t = lap("overlay", t)

    jpeg_path = write_jpeg(os.path.join(out_dir, basename + ".jpg"), img8, s.jpeg_quality, fsync=s.fsync)
    t = lap("jpeg", t)
    thumb_path = None
    if s.thumbnail:
        thumb_path = write_jpeg(os.path.join(out_dir, basename + "_thumb.jpg"),
                                thumbnail(img8, s.thumb_width), s.jpeg_quality, fsync=s.fsync)
        t = lap("thumbnail", t)
    if saved is not None:                      # hand back the frame without the text
        y0, y1, x0, x1, patch = saved
        img8[y0:y1, x0:x1] = patch

    fits_path = None
    if s.keep_fits:
        fits_path = _keep_fits(fits_source, os.path.join(out_dir, basename + ".fits"), s.fsync)
        t = lap("keep_fits", t)

    h, w = img8.shape[:2]
    return ProcessedFrame(
        jpeg_path=jpeg_path, thumb_path=thumb_path, fits_path=fits_path, adu=frame_adu,
        width=w, height=h, channels=1 if img8.ndim == 2 else img8.shape[2],
        bayer_pattern=pattern, dark_path=dark_path, stretch=params, overlay_lines=lines,
        process_elapsed=time.perf_counter() - t_start, timings=timings, image=img8, header=header,
        measurements=measurements, measure_copy=measure_copy)
