"""Fixtures and synthetic data for the imaging tests (no camera, no INDI)."""
from __future__ import annotations

import json
import shutil
import subprocess
from typing import Dict, Optional

import numpy as np
import pytest
from astropy.io import fits

# BGR channel index of each colour
CHANNEL = {"B": 0, "G": 1, "R": 2}


def bayer_mosaic(pattern: str, scene_bgr, shape=(64, 96)) -> np.ndarray:
    """Raw uint16 mosaic of a uniform scene; ``pattern`` is the CFA at pixel (0, 0)."""
    h, w = shape
    out = np.empty(shape, dtype=np.uint16)
    for dy in (0, 1):
        for dx in (0, 1):
            colour = pattern[2 * dy + dx]
            out[dy::2, dx::2] = scene_bgr[CHANNEL[colour]]
    return out


def fits_bytes(data: np.ndarray, cards: Optional[Dict[str, object]] = None) -> bytes:
    """FITS bytes the way INDI writes them (uint16 -> BITPIX=16, BZERO=32768)."""
    import io
    hdr = fits.Header()
    for k, v in (cards or {}).items():
        hdr[k] = v
    buf = io.BytesIO()
    fits.PrimaryHDU(data=data, header=hdr).writeto(buf)
    return buf.getvalue()


def write_fits_file(path, data: np.ndarray, cards: Optional[Dict[str, object]] = None) -> str:
    with open(path, "wb") as f:
        f.write(fits_bytes(data, cards))
    return str(path)


def noisy_frame(shape=(256, 320), mean=1000.0, sigma=30.0, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(mean, sigma, shape), 0, 65535).astype(np.uint16)


@pytest.fixture(scope="session")
def ffmpeg_tools():
    """ffmpeg + ffprobe are required: a missing one FAILS the test (never a silent skip)."""
    missing = [t for t in ("ffmpeg", "ffprobe") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found on PATH: install the Debian package "
                    f"'ffmpeg' (apt-get install -y ffmpeg; script/test does this)", pytrace=False)
    return {t: shutil.which(t) for t in ("ffmpeg", "ffprobe")}


def ffprobe(path, count_frames: bool = True) -> Dict[str, str]:
    cmd = [shutil.which("ffprobe"), "-v", "error", "-select_streams", "v:0"]
    if count_frames:
        cmd.append("-count_frames")
    cmd += ["-show_entries", "stream=codec_name,profile,pix_fmt,width,height,nb_read_frames",
            "-show_entries", "format=format_name", "-of", "json", str(path)]
    out = subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout
    info = json.loads(out)
    stream = info["streams"][0]
    stream["format_name"] = info["format"]["format_name"]
    return stream


def moov_before_mdat(path) -> bool:
    """+faststart puts the 'moov' atom before 'mdat' (top-level box walk)."""
    import struct
    order = []
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            size, kind = struct.unpack(">I4s", head)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                f.seek(size - 16, 1)
            elif size == 0:
                order.append(kind)
                break
            else:
                f.seek(size - 8, 1)
            order.append(kind)
    return b"moov" in order and b"mdat" in order and order.index(b"moov") < order.index(b"mdat")
