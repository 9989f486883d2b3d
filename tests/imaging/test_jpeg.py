from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from skyfleet.imaging import jpeg
from skyfleet.imaging.jpeg import encode_jpeg, thumbnail, write_jpeg


def _gradient(h=240, w=320, colour=True):
    g = np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))
    return np.dstack([g, g[::-1], np.full_like(g, 128)]) if colour else g


def test_write_and_read_back(tmp_path):
    img = _gradient()
    path = write_jpeg(tmp_path / "a.jpg", img, quality=95)
    back = cv2.imread(path)
    assert back.shape == img.shape
    assert np.abs(back.astype(int) - img).mean() < 3
    assert os.listdir(tmp_path) == ["a.jpg"]


def test_written_file_has_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_jpeg(tmp_path / "p.jpg", _gradient())
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644       # not mkstemp's 0600


def test_quality_changes_size():
    img = np.random.default_rng(0).integers(0, 255, (200, 200), dtype=np.uint8)
    assert len(encode_jpeg(img, 30)) < len(encode_jpeg(img, 95))


@pytest.mark.parametrize("bad", [
    np.zeros((0, 0), np.uint8),               # empty
    np.zeros((10, 10), np.float64),           # wrong dtype
    np.zeros((10, 10, 5), np.uint8),          # 5 channels
])
def test_failing_encode_leaves_no_file(tmp_path, bad):
    with pytest.raises(ValueError):
        write_jpeg(tmp_path / "x.jpg", bad)
    assert os.listdir(tmp_path) == []


def test_failing_write_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "x.jpg"
    write_jpeg(path, _gradient())
    old = path.read_bytes()

    def boom(fd):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        write_jpeg(path, _gradient(colour=False))
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["x.jpg"]


def test_thumbnail_size_and_aspect():
    t = thumbnail(_gradient(1024, 1280))
    assert t.shape == (256, 320, 3)
    assert thumbnail(_gradient(100, 200), width=50).shape == (25, 50, 3)
    small = _gradient(100, 200)
    assert thumbnail(small, width=400) is small            # never upscales
    assert jpeg.resize_to_width(_gradient(3008, 3008, colour=False), 320).shape == (320, 320)
