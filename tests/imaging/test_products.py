from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from skyfleet.imaging.products import NightProducts, ProductSettings

from .conftest import ffprobe


def _night_frame(i, h=240, w=320):
    img = np.full((h, w, 3), 20, np.uint8)
    cv2.circle(img, (20 + 9 * i, 60), 3, (255, 255, 255), -1)     # a moving "star"
    img[:, w // 2] = (i, 2 * i, 3 * i)                             # marks the keogram column
    return img


@pytest.mark.slow                   # runs the real ffmpeg
def test_night_products(tmp_path, ffmpeg_tools):
    settings = ProductSettings(timelapse_fps=10, startrail_max_brightness=0.3)
    frames = [_night_frame(i) for i in range(24)]
    bright = np.full((240, 320, 3), 240, np.uint8)
    with NightProducts(settings) as night:
        work_dir = night.work_dir
        for f in frames[:4]:
            night.add(f, night=False)                              # twilight: no star trail
        for f in frames[4:12]:
            night.add(f, night=True)
        night.add(bright, night=True)                              # cloud lit by the moon
        for f in frames[12:]:
            night.add(f, night=True)
        res = night.finish(str(tmp_path / "out"), "2026-11-30")
    assert not os.path.exists(work_dir)
    assert (res.frames, res.night_frames) == (25, 21)
    assert (res.keogram_frames, res.timelapse_frames) == (25, 25)
    assert (res.startrail_frames, res.startrail_skipped) == (20, 1)
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == sorted(["2026-11-30_keogram.jpg", "2026-11-30_keogram_thumb.jpg",
                            "2026-11-30_startrail.jpg", "2026-11-30_startrail_thumb.jpg",
                            "2026-11-30_timelapse.mp4", "2026-11-30_timelapse_thumb.jpg"])
    keo = cv2.imread(res.keogram)
    assert keo.shape == (240, 25, 3)
    assert abs(int(keo[100, 24, 2]) - 3 * 23) <= 3                 # last column, red = 3*i
    trail = cv2.imread(res.startrail)
    assert trail[60, 20 + 9 * 4].min() > 200 and trail[60, 20 + 9 * 23].min() > 200
    assert trail[60, 20 + 9 * 2].max() < 60                         # twilight frames left out
    assert cv2.imread(res.startrail_thumb).shape == (240, 320, 3)
    assert cv2.imread(res.keogram_thumb).shape == (240, 25, 3)      # never upscaled
    assert cv2.imread(res.timelapse_thumb).shape == (240, 320, 3)
    info = ffprobe(res.timelapse)
    assert (info["codec_name"], info["pix_fmt"], int(info["nb_read_frames"])) == ("h264", "yuv420p", 25)


def test_products_without_timelapse_or_frames(tmp_path):
    night = NightProducts(ProductSettings(timelapse=False))
    res = night.finish(str(tmp_path), "empty")
    assert res.keogram is None and res.startrail is None and res.timelapse is None
    assert os.listdir(tmp_path) == []


@pytest.mark.slow                   # runs the real ffmpeg
def test_failing_encoder_keeps_the_other_products(tmp_path, ffmpeg_tools):
    night = NightProducts(ProductSettings(timelapse_preset="no-such-preset"))
    for i in range(40):
        night.add(_night_frame(i))
    res = night.finish(str(tmp_path), "n")
    assert res.timelapse is None and res.errors and "ffmpeg" in res.errors[0]
    assert res.keogram_frames == 40 and res.startrail_frames == 40
    assert sorted(os.listdir(tmp_path)) == ["n_keogram.jpg", "n_keogram_thumb.jpg",
                                            "n_startrail.jpg", "n_startrail_thumb.jpg"]
