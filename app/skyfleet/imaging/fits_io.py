"""FITS in and out (astropy.io.fits, memmap off).

INDI sends BITPIX=16 / BZERO=32768 frames, which astropy returns as uint16.  Other integer or
float data is clipped into 0..65535; an RGB cube (3 x H x W) comes back as H x W x 3 BGR.
"""
from __future__ import annotations

import io
import os
from typing import Optional, Tuple, Union

import numpy as np
from astropy.io import fits

from ..core.files import atomic_target, atomic_write_bytes

FitsSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, io.IOBase]

__all__ = ["read_fits", "read_header", "write_fits", "write_fits_bytes", "to_uint16"]


def _open_arg(source: FitsSource):
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    return source


def to_uint16(data: np.ndarray) -> np.ndarray:
    """Native-endian, C-contiguous uint16; other types are rounded and clipped to 0..65535."""
    data = np.asarray(data)
    if data.dtype == np.uint16 and data.dtype.isnative:
        return np.ascontiguousarray(data)
    if data.dtype.kind == "u" and data.dtype.itemsize <= 2:
        return np.ascontiguousarray(data.astype(np.uint16))
    if data.dtype.kind == "f":
        data = np.nan_to_num(data, nan=0.0, posinf=65535.0, neginf=0.0)
        return np.ascontiguousarray(np.clip(np.rint(data), 0, 65535).astype(np.uint16))
    return np.ascontiguousarray(np.clip(data, 0, 65535).astype(np.uint16))


class FitsError(ValueError):
    """The data is not a FITS image this package can read."""


def _image_hdu(hdul):
    for hdu in hdul:
        if hdu.is_image and hdu.data is not None and getattr(hdu.data, "ndim", 0) >= 2:
            return hdu
    raise ValueError("FITS has no image data")


def read_fits(source: FitsSource) -> Tuple[np.ndarray, fits.Header]:
    """Read a FITS file, FITS bytes or a binary file object -> (uint16 array, header copy).

    The array is H x W (mono or a raw Bayer mosaic).  A colour cube stored as 3 x H x W
    (planes R, G, B) is returned as H x W x 3 in OpenCV's BGR order.  The first HDU with image
    data is used, so fpack-compressed files (image in HDU 1) work too.
    """
    try:
        with fits.open(_open_arg(source), memmap=False) as hdul:
            hdu = _image_hdu(hdul)
            data = hdu.data
            header = hdu.header.copy()
    except (OSError, ValueError, TypeError, IndexError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise FitsError(f"not a readable FITS image: {exc}") from exc
    if data.ndim == 3:
        if data.shape[0] != 3:
            raise ValueError(f"unsupported FITS cube shape {data.shape}")
        data = np.moveaxis(data[::-1], 0, -1)  # RGB planes -> H x W x BGR
    elif data.ndim != 2:
        raise ValueError(f"unsupported FITS data shape {data.shape}")
    return to_uint16(data), header


def read_header(source: FitsSource) -> fits.Header:
    """Only the header of the first image HDU (cheap: the data is not scaled or copied)."""
    with fits.open(_open_arg(source), memmap=False, lazy_load_hdus=True) as hdul:
        for hdu in hdul:
            if hdu.is_image and hdu.header.get("NAXIS", 0) >= 2:
                return hdu.header.copy()
        return hdul[0].header.copy()


def write_fits(path, data: np.ndarray, header: Optional[fits.Header] = None, fsync: bool = True) -> str:
    """Write ``data`` (+ header cards) as a primary-HDU FITS file, atomically.

    uint16 data is stored the INDI way, BITPIX=16 with BZERO=32768.
    """
    path = os.fspath(path)
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[2] == 3:
        data = np.ascontiguousarray(np.moveaxis(data, -1, 0)[::-1])  # BGR -> R, G, B planes
    hdr = fits.Header()
    if header is not None:
        skip = {"SIMPLE", "BITPIX", "EXTEND", "BZERO", "BSCALE", "END", "XTENSION", "PCOUNT", "GCOUNT"}
        for card in header.cards:
            key = card.keyword
            if key in skip or key.startswith("NAXIS") or key in ("", "COMMENT", "HISTORY"):
                if key in ("COMMENT", "HISTORY"):
                    hdr.append(card)
                continue
            hdr.append(card)
    hdu = fits.PrimaryHDU(data=data, header=hdr)
    with atomic_target(path, fsync=fsync) as tmp:
        hdu.writeto(tmp, overwrite=True, output_verify="silentfix")
    return path


def write_fits_bytes(path, blob, fsync: bool = True) -> str:
    """Keep an INDI BLOB exactly as received (atomic write)."""
    return atomic_write_bytes(path, blob, fsync=fsync)
