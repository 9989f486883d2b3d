"""skyfleet image processing: FITS -> JPEG, and the night products (keogram, star trail,
timelapse).  Plain functions and small classes; no Flask, database or INDI here.

The submodules ``stretch`` and ``debayer`` stay reachable as modules: their functions of the
same name are exported here as ``auto_stretch`` and ``debayer_frame``.
"""
from __future__ import annotations

from .calibration import DarkLibrary, find_dark, subtract_dark
from .debayer import BAYER_TO_CV, bayer_pattern
from .debayer import debayer as debayer_frame
from .fits_io import read_fits, read_header, write_fits, write_fits_bytes
from .jpeg import encode_jpeg, thumbnail, write_jpeg
from .keogram import Keogram
from .overlay import draw_overlay, format_overlay_lines, format_timestamp
from .pipeline import ProcessedFrame, ProcessingSettings, process_frame
from .products import NightProducts, NightProductsResult, ProductSettings
from .startrail import StarTrail, mean_brightness
from .stretch import StretchParams, adu, apply_lut, stretch_lut
from .stretch import stretch as auto_stretch
from .timelapse import TimelapseWriter, find_ffmpeg, timelapse_from_jpegs

__all__ = [
    "BAYER_TO_CV", "DarkLibrary", "Keogram", "NightProducts", "NightProductsResult",
    "ProcessedFrame", "ProcessingSettings", "ProductSettings", "StarTrail", "StretchParams",
    "TimelapseWriter", "adu", "apply_lut", "auto_stretch", "bayer_pattern", "debayer_frame",
    "draw_overlay",
    "encode_jpeg", "find_dark", "find_ffmpeg", "format_overlay_lines", "format_timestamp",
    "mean_brightness", "process_frame", "read_fits", "read_header", "stretch_lut",
    "subtract_dark", "thumbnail", "timelapse_from_jpegs", "write_fits", "write_fits_bytes",
    "write_jpeg",
]
