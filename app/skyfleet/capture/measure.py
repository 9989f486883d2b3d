"""Frame brightness for the auto-exposure: the median ADU of a FITS frame."""
from __future__ import annotations

import io

import numpy as np


def fits_image(fits_bytes: bytes) -> np.ndarray:
    """The image of a FITS frame (first HDU with data; ``.fits.fz`` puts it in HDU 1)."""
    from astropy.io import fits  # imported here: astropy is slow to import

    with fits.open(io.BytesIO(fits_bytes), memmap=False) as hdul:
        for hdu in hdul:
            if hdu.data is not None:
                return np.asarray(hdu.data)
    raise ValueError("FITS frame holds no image data")


def median_adu(image: np.ndarray, subsample: int = 4) -> float:
    """Median over a subsampled grid (fast; stars hardly move a median).  Colour: all channels."""
    view = image[::subsample, ::subsample] if image.ndim == 2 else image[..., ::subsample, ::subsample]
    return float(np.median(view))


def frame_adu(fits_bytes: bytes, subsample: int = 4) -> float:
    return median_adu(fits_image(fits_bytes), subsample)
