from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from skyfleet.imaging.timelapse import TimelapseWriter, output_size, timelapse_from_jpegs

from .conftest import ffprobe, moov_before_mdat

pytestmark = pytest.mark.slow       # runs the real ffmpeg (see pytest.ini)


def _frame(i, h=600, w=800, colour=True):
    img = np.zeros((h, w, 3) if colour else (h, w), np.uint8)
    cv2.circle(img, (40 + (i * 20) % (w - 80), h // 2), 30, (255, 255, 255) if colour else 255, -1)
    img[: h // 4] = (i * 7) % 200
    return img


def test_output_size():
    assert output_size(1280, 1024, 1920) == (1280, 1024)
    assert output_size(3008, 3008, 1920) == (1920, 1920)
    assert output_size(4000, 3000, 1920) == (1920, 1440)
    assert output_size(801, 601, 1920) == (800, 600)
    w, h = output_size(3001, 2001, 1000)
    assert w == 1000 and h % 2 == 0


def test_streaming_30_frames_h264_yuv420p_capped(tmp_path, ffmpeg_tools):
    out = tmp_path / "video" / "night.mp4"
    with TimelapseWriter(out, fps=10, max_width=640) as tl:
        for i in range(30):
            tl.add(_frame(i))
    assert tl.frames == 30
    info = ffprobe(out)
    assert info["codec_name"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert int(info["nb_read_frames"]) == 30
    assert (int(info["width"]), int(info["height"])) == (640, 480)
    assert "mp4" in info["format_name"]
    assert moov_before_mdat(out)                         # -movflags +faststart
    assert os.listdir(out.parent) == ["night.mp4"]       # no temp left


def test_default_cap_1920_and_mono_odd_size(tmp_path, ffmpeg_tools):
    out = tmp_path / "big.mp4"
    with TimelapseWriter(out, fps=5, preset="ultrafast") as tl:
        for i in range(3):
            tl.add(_frame(i, h=1201, w=2401, colour=False))
    info = ffprobe(out)
    assert int(info["width"]) == 1920 and int(info["height"]) % 2 == 0
    assert info["pix_fmt"] == "yuv420p" and int(info["nb_read_frames"]) == 3
    out2 = tmp_path / "odd.mp4"
    with TimelapseWriter(out2, fps=5) as tl:
        for i in range(4):
            tl.add(_frame(i, h=101, w=161, colour=False))
    info = ffprobe(out2)
    assert (int(info["width"]), int(info["height"])) == (160, 100)


def test_frames_of_other_size_are_resized(tmp_path, ffmpeg_tools):
    out = tmp_path / "mixed.mp4"
    with TimelapseWriter(out, fps=5) as tl:
        tl.add(_frame(0, 240, 320))
        tl.add(_frame(1, 480, 640))
        tl.add(_frame(2, 240, 320, colour=False))
    info = ffprobe(out)
    assert (int(info["width"]), int(info["height"]), int(info["nb_read_frames"])) == (320, 240, 3)


def test_failure_raises_with_stderr_and_leaves_nothing(tmp_path, ffmpeg_tools):
    out = tmp_path / "bad.mp4"
    tl = TimelapseWriter(out, preset="no-such-preset")
    with pytest.raises(RuntimeError) as err:
        for i in range(50):
            tl.add(_frame(i, 120, 160))
        tl.close()
    assert "ffmpeg" in str(err.value) and "preset" in str(err.value).lower()
    assert os.listdir(tmp_path) == []


def test_abort_in_context_leaves_no_video(tmp_path, ffmpeg_tools):
    out = tmp_path / "crash.mp4"
    with pytest.raises(KeyError):
        with TimelapseWriter(out) as tl:
            tl.add(_frame(0, 120, 160))
            raise KeyError("camera gone")
    assert os.listdir(tmp_path) == []


def test_close_without_frames(tmp_path, ffmpeg_tools):
    with pytest.raises(ValueError):
        TimelapseWriter(tmp_path / "none.mp4").close()
    assert os.listdir(tmp_path) == []


def test_missing_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="Debian package 'ffmpeg'"):
        TimelapseWriter(tmp_path / "x.mp4")


def test_from_jpeg_paths(tmp_path, ffmpeg_tools):
    paths = []
    for i in range(12):
        p = str(tmp_path / f"f{i:02d}.jpg")
        size = (200, 300) if i != 5 else (400, 600)          # one frame of another size
        cv2.imwrite(p, _frame(i, *size))
        paths.append(p)
    paths.insert(3, str(tmp_path / "missing.jpg"))            # unreadable: skipped
    out = tmp_path / "from_jpegs.mp4"
    n = timelapse_from_jpegs(paths, out, fps=6)
    assert n == 12
    info = ffprobe(out)
    assert (info["codec_name"], int(info["nb_read_frames"])) == ("h264", 12)
    assert (int(info["width"]), int(info["height"])) == (300, 200)
