from __future__ import annotations

import numpy as np
import pytest

from skyfleet.imaging.stretch import adu, apply_lut, image_stats, linear_lut, stretch, stretch_lut

from .conftest import noisy_frame


@pytest.mark.parametrize("value", [0, 1, 1234, 65535])
def test_adu_of_constant_frame_is_the_constant(value):
    img = np.full((100, 120), value, dtype=np.uint16)
    assert adu(img) == pytest.approx(value)
    assert adu(img, roi=0.5) == pytest.approx(value)
    assert adu(np.full((10, 12, 3), value, np.uint16)) == pytest.approx(value)


def test_adu_roi_uses_the_centre_only():
    img = np.zeros((100, 100), dtype=np.uint16)
    img[25:75, 25:75] = 1000
    assert adu(img) == pytest.approx(250.0)
    assert adu(img, roi=0.5) == pytest.approx(1000.0)


def test_stats_match_numpy():
    img = noisy_frame((200, 240), mean=3000, sigma=100, seed=1)
    med, mad = image_stats(img, sample=1)
    v = img.astype(np.float64).ravel()
    np_med = np.median(v)
    np_mad = np.median(np.abs(v - np_med))
    assert med * 65535 == pytest.approx(np_med, abs=1)
    assert mad * 65535 == pytest.approx(1.4826 * np_mad, abs=1.5)


def test_lut_is_monotonic_and_spans_full_range():
    img = noisy_frame((300, 400), mean=2000, sigma=50, seed=2)
    lut, params = stretch_lut(img)
    assert lut.shape == (65536,) and lut.dtype == np.uint8
    assert np.all(np.diff(lut.astype(np.int16)) >= 0)
    assert lut[0] == 0 and lut[-1] == 255
    assert 0 < params.m < 0.5          # faint data -> midtone pushed up


@pytest.mark.parametrize("mean,sigma,target", [(1000, 30, 0.25), (20000, 800, 0.25), (500, 10, 0.15)])
def test_median_maps_near_target(mean, sigma, target):
    img = noisy_frame((400, 500), mean=mean, sigma=sigma, seed=4)
    out, _ = stretch(img, target_bg=target)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert abs(float(np.median(out)) - target * 255) <= 2.0


def test_stretch_colour_shares_one_lut():
    img = np.stack([noisy_frame((64, 64), 1000 + 200 * i, 30, seed=i) for i in range(3)], axis=2)
    out, _ = stretch(img)
    assert out.shape == img.shape
    means = out.reshape(-1, 3).mean(axis=0)
    assert means[0] < means[1] < means[2]   # order of the channels is kept (linked stretch)


def test_constant_frame_does_not_crash():
    out, params = stretch(np.full((32, 32), 500, np.uint16))
    assert out.shape == (32, 32) and params.mad == 0


def test_linear_lut_and_apply_lut():
    lut = linear_lut()
    img = np.array([[0, 32768, 65535]], dtype=np.uint16)
    assert apply_lut(img, lut).tolist() == [[0, 128, 255]]
    with pytest.raises(TypeError):
        apply_lut(img.astype(np.float32), lut)


@pytest.mark.parametrize("shape", [(1, 5), (700, 3), (513, 600, 3), (3, 100000)])
def test_apply_lut_matches_plain_indexing(shape):
    rng = np.random.default_rng(9)
    img = rng.integers(0, 65536, size=shape, dtype=np.uint16)
    lut = rng.integers(0, 256, size=65536, dtype=np.uint8)
    np.testing.assert_array_equal(apply_lut(img, lut), lut[img])
