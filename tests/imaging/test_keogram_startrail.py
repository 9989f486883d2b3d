from __future__ import annotations

import numpy as np
import pytest

from skyfleet.imaging.keogram import Keogram
from skyfleet.imaging.startrail import StarTrail, mean_brightness


def _frames(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 80, size=shape, dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("shape", [(48, 64), (48, 65, 3)])
def test_keogram_columns_are_centre_columns(shape):
    frames = _frames(700, shape)                # more than the initial capacity: it grows
    k = Keogram(initial_capacity=16)
    for f in frames:
        k.add(f)
    img = k.image()
    assert img.dtype == np.uint8
    assert img.shape == (shape[0], len(frames)) + shape[2:]
    for i in (0, 15, 16, 17, 350, 699):
        np.testing.assert_array_equal(img[:, i], frames[i][:, shape[1] // 2])
    assert k.count == 700


def test_keogram_resizes_other_heights_and_converts_colour():
    k = Keogram()
    k.add(np.full((40, 30), 10, np.uint8))
    k.add(np.full((80, 30), 200, np.uint8))     # taller: resized to 40
    k.add(np.full((20, 60, 3), 100, np.uint8))  # colour into a mono keogram
    img = k.image()
    assert img.shape == (40, 3)
    assert img[:, 0].tolist() == [10] * 40
    assert img[:, 1].tolist() == [200] * 40
    assert img[:, 2].tolist() == [100] * 40


def test_keogram_empty_raises():
    with pytest.raises(ValueError):
        Keogram().image()


def test_startrail_is_elementwise_max():
    frames = _frames(25, (30, 40, 3), seed=5)
    st = StarTrail(max_brightness=0.5)
    for f in frames:
        assert st.add(f) is True
    np.testing.assert_array_equal(st.image(), np.max(np.stack(frames), axis=0))
    assert (st.used, st.skipped) == (25, 0)


def test_startrail_skips_bright_frames():
    dark = _frames(5, (30, 40), seed=6)                       # mean ~ 40/255
    bright = np.full((30, 40), 230, np.uint8)
    st = StarTrail(max_brightness=0.35)
    for f in dark[:2] + [bright] + dark[2:] + [bright]:
        st.add(f)
    assert (st.used, st.skipped) == (5, 2)
    np.testing.assert_array_equal(st.image(), np.max(np.stack(dark), axis=0))
    assert mean_brightness(bright) == pytest.approx(230 / 255)


def test_startrail_resizes_to_first_frame():
    st = StarTrail()
    st.add(np.zeros((20, 30), np.uint8))
    big = np.zeros((40, 60), np.uint8)
    big[:2, :2] = 80
    st.add(big)
    img = st.image()
    assert img.shape == (20, 30) and img[0, 0] == 80 and img[10, 10] == 0
    with pytest.raises(ValueError):
        StarTrail(max_brightness=0)
