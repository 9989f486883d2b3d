"""The five long-term keogram pixels of a frame: band means down its centre column, as RGB."""
import numpy as np
import pytest

from skyfleet.imaging.keogram import keogram_pixels


def test_colour_frame_gives_rgb_means_of_five_bands_of_the_centre_column():
    img = np.zeros((100, 11, 3), dtype=np.uint8)
    img[:, :] = (255, 255, 255)  # everything but the centre column is white: it must not count
    bgr_bands = [(10, 20, 30), (40, 50, 60), (70, 80, 90), (100, 110, 120), (130, 140, 150)]
    for i, bgr in enumerate(bgr_bands):
        img[i * 20:(i + 1) * 20, 5] = bgr
    img[0, 5] = (0, 0, 0)  # one dark pixel in the first band of 20 moves its mean by 1/20
    assert keogram_pixels(img) == [[28, 19, 10], [60, 50, 40], [90, 80, 70], [120, 110, 100], [150, 140, 130]]


def test_mono_frame_repeats_its_grey_in_each_channel():
    img = np.tile(np.repeat(np.array([0, 50, 100, 150, 200], dtype=np.uint8), 4)[:, None], (1, 3))
    assert keogram_pixels(img) == [[0] * 3, [50] * 3, [100] * 3, [150] * 3, [200] * 3]


def test_a_frame_shorter_than_five_rows_still_gives_five_triples():
    img = np.full((3, 4), 7, dtype=np.uint8)
    assert keogram_pixels(img) == [[7] * 3, [7] * 3, [7] * 3, [0] * 3, [0] * 3]


def test_only_uint8_frames_are_taken():
    with pytest.raises((TypeError, ValueError)):
        keogram_pixels(np.zeros((10, 10), dtype=np.uint16))
