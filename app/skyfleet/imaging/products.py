"""A night's products, built incrementally from finished uint8 frames: keogram, star trail
and timelapse (each with a thumbnail)."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..core.files import move_into_place
from ._frames import check_uint8
from .jpeg import thumbnail, write_jpeg
from .keogram import Keogram
from .startrail import StarTrail
from .timelapse import TimelapseWriter, find_ffmpeg

__all__ = ["ProductSettings", "NightProductsResult", "NightProducts"]


@dataclass
class ProductSettings:
    keogram: bool = True
    startrail: bool = True
    timelapse: bool = True
    startrail_max_brightness: float = 0.35   # mean brightness (fraction of 255) limit
    timelapse_fps: float = 25.0
    timelapse_crf: int = 23
    timelapse_preset: str = "veryfast"
    timelapse_max_width: int = 1920
    timelapse_timeout: float = 1800.0
    jpeg_quality: int = 90
    thumb_width: int = 320
    fsync: bool = True


@dataclass
class NightProductsResult:
    keogram: Optional[str] = None
    keogram_thumb: Optional[str] = None
    startrail: Optional[str] = None
    startrail_thumb: Optional[str] = None
    timelapse: Optional[str] = None
    timelapse_thumb: Optional[str] = None
    frames: int = 0                 # frames passed to add()
    night_frames: int = 0           # of which flagged as night
    keogram_frames: int = 0
    startrail_frames: int = 0
    startrail_skipped: int = 0      # night frames too bright for the star trail
    timelapse_frames: int = 0
    errors: List[str] = field(default_factory=list)   # e.g. ffmpeg failed: other products kept


class NightProducts:
    """``add(frame, night)`` every finished frame, then ``finish(out_dir, basename)``.

    Keogram and timelapse take every frame; the star trail only night frames (and of those only
    the dark-enough ones).  The timelapse is streamed to ffmpeg as frames arrive, into
    ``work_dir`` (a private temp folder by default), and moved into ``out_dir`` at the end.
    Memory stays flat: keogram columns, one star-trail accumulator and one small thumbnail.
    """

    def __init__(self, settings: Optional[ProductSettings] = None, work_dir: Optional[str] = None):
        self.settings = settings or ProductSettings()
        s = self.settings
        if s.timelapse:
            find_ffmpeg()  # fail now, not after hours of frames
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="skyfleet-night-")
        self.keogram = Keogram() if s.keogram else None
        self.startrail = StarTrail(s.startrail_max_brightness) if s.startrail else None
        self._video: Optional[TimelapseWriter] = None
        self._video_path = os.path.join(self.work_dir, "timelapse.mp4")
        self._video_thumb: Optional[np.ndarray] = None
        self.frames = 0
        self.night_frames = 0
        self.errors: List[str] = []
        self._video_failed = False
        self._finished = False

    def add(self, frame8: np.ndarray, night: bool = True) -> None:
        if self._finished:
            raise RuntimeError("night products already finished")
        check_uint8(frame8)
        s = self.settings
        self.frames += 1
        if night:
            self.night_frames += 1
        if self.keogram is not None:
            self.keogram.add(frame8)
        if self.startrail is not None and night:
            self.startrail.add(frame8)
        if s.timelapse and not self._video_failed:
            try:
                if self._video is None:
                    self._video = TimelapseWriter(
                        self._video_path, fps=s.timelapse_fps, crf=s.timelapse_crf,
                        preset=s.timelapse_preset, max_width=s.timelapse_max_width,
                        timeout=s.timelapse_timeout, fsync=False)
                self._video.add(frame8)
            except (RuntimeError, OSError) as exc:
                # a broken encoder must not cost the night its keogram and star trail
                self._video_failed = True
                self.errors.append(f"timelapse: {exc}")
                if self._video is not None:
                    self._video.abort()
                return
            # thumbnail of a representative frame: refreshed at frames 1, 2, 4, 8, ... so it
            # comes from the second half of the night without resizing every frame
            n = self._video.frames
            if n & (n - 1) == 0:
                self._video_thumb = thumbnail(frame8, s.thumb_width).copy()

    def _jpeg_pair(self, img: np.ndarray, out_dir: str, name: str):
        s = self.settings
        path = write_jpeg(os.path.join(out_dir, f"{name}.jpg"), img, s.jpeg_quality, fsync=s.fsync)
        thumb = write_jpeg(os.path.join(out_dir, f"{name}_thumb.jpg"), thumbnail(img, s.thumb_width),
                           s.jpeg_quality, fsync=s.fsync)
        return path, thumb

    def finish(self, out_dir: str, basename: str) -> NightProductsResult:
        """Write ``<basename>_keogram.jpg``, ``<basename>_startrail.jpg``,
        ``<basename>_timelapse.mp4`` and a ``*_thumb.jpg`` for each into ``out_dir``.
        A product with no frames is skipped (its paths stay None)."""
        if self._finished:
            raise RuntimeError("night products already finished")
        self._finished = True
        os.makedirs(out_dir, exist_ok=True)
        res = NightProductsResult(frames=self.frames, night_frames=self.night_frames,
                                  errors=list(self.errors))
        try:
            if self.keogram is not None and self.keogram.count:
                res.keogram_frames = self.keogram.count
                res.keogram, res.keogram_thumb = self._jpeg_pair(
                    self.keogram.image(), out_dir, f"{basename}_keogram")
            if self.startrail is not None:
                res.startrail_frames = self.startrail.used
                res.startrail_skipped = self.startrail.skipped
                if self.startrail.used:
                    res.startrail, res.startrail_thumb = self._jpeg_pair(
                        self.startrail.image(), out_dir, f"{basename}_startrail")
            if self._video is not None and not self._video_failed:
                try:
                    self._video.close()
                except RuntimeError as exc:     # keep the keogram/star trail written above
                    self._video_failed = True
                    res.errors.append(f"timelapse: {exc}")
            if self._video is not None and not self._video_failed:
                res.timelapse_frames = self._video.frames
                res.timelapse = move_into_place(
                    self._video_path, os.path.join(out_dir, f"{basename}_timelapse.mp4"),
                    fsync=self.settings.fsync)
                if self._video_thumb is not None:
                    res.timelapse_thumb = write_jpeg(
                        os.path.join(out_dir, f"{basename}_timelapse_thumb.jpg"),
                        self._video_thumb, self.settings.jpeg_quality, fsync=self.settings.fsync)
        except BaseException:
            self.abort()
            raise
        self._cleanup_work_dir()
        return res

    def abort(self) -> None:
        """Drop everything (stops ffmpeg, removes temp files)."""
        self._finished = True
        if self._video is not None:
            self._video.abort()
        self._cleanup_work_dir()

    def _cleanup_work_dir(self) -> None:
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> NightProducts:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._finished:
            self.abort()
