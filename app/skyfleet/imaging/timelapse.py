"""Streaming H.264 timelapse through Debian's ``ffmpeg`` (libx264, yuv420p, +faststart).

Frames are piped one at a time as raw video, so memory stays flat for any number of frames.
The video is written under a hidden temp name in the destination folder and renamed into place
only after ffmpeg exits cleanly: a crashed build never leaves a half video at the final name.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Iterable, List, Optional, Tuple

import cv2
import numpy as np

from ..core.files import commit_temp, temp_path_for
from ._frames import check_uint8, match_channels, match_size

__all__ = ["find_ffmpeg", "output_size", "TimelapseWriter", "timelapse_from_jpegs"]

FFMPEG_PACKAGE_HINT = "install the Debian package 'ffmpeg' (apt-get install -y ffmpeg)"


def find_ffmpeg(name: str = "ffmpeg") -> str:
    exe = shutil.which(name)
    if not exe:
        raise FileNotFoundError(f"'{name}' not found on PATH; {FFMPEG_PACKAGE_HINT}")
    return exe


def output_size(width: int, height: int, max_width: Optional[int] = 1920) -> Tuple[int, int]:
    """Video size for a frame: capped at ``max_width``, aspect kept, both dimensions even."""
    if width < 1 or height < 1:
        raise ValueError("empty frame")
    if max_width and width > max_width:
        w = int(max_width) // 2 * 2
        h = int(round(height * w / width / 2.0)) * 2
    else:
        w, h = width // 2 * 2, height // 2 * 2     # odd sizes lose one pixel (cropped)
    return max(2, w), max(2, h)


class TimelapseWriter:
    """``add(frame)`` uint8 gray/BGR frames one by one, then ``close()``.

    The first frame fixes the video size (capped at ``max_width``, even dimensions) and colour;
    later frames are converted/resized to match.  Usable as a context manager: an exception
    inside the block aborts the build and removes the temp file.
    """

    def __init__(self, path, fps: float = 25.0, crf: int = 23, preset: str = "veryfast",
                 max_width: Optional[int] = 1920, timeout: float = 600.0,
                 threads: Optional[int] = None, ffmpeg: Optional[str] = None, fsync: bool = True):
        self.path = os.fspath(path)
        self.fps = float(fps)
        self.crf = int(crf)
        self.preset = str(preset)
        self.max_width = int(max_width) if max_width else None
        self.timeout = float(timeout)
        self.threads = threads
        self.fsync = fsync
        self._exe = find_ffmpeg(ffmpeg or "ffmpeg")
        if self.fps <= 0:
            raise ValueError("fps must be positive")
        self._proc: Optional[subprocess.Popen] = None
        self._tmp: Optional[str] = None
        self._stderr = None
        self._size: Optional[Tuple[int, int]] = None   # (w, h) of the video
        self._colour: Optional[bool] = None
        self.frames = 0
        self._closed = False

    # -- internals ---------------------------------------------------------------------------
    def _command(self, w: int, h: int, colour: bool) -> List[str]:
        cmd = [self._exe, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "bgr24" if colour else "gray",
               "-s", f"{w}x{h}", "-framerate", f"{self.fps:g}", "-i", "pipe:0",
               "-an", "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
               "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
        if self.threads:
            cmd += ["-threads", str(int(self.threads))]
        return cmd + ["-f", "mp4", self._tmp]

    def _start(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        self._colour = frame.ndim == 3 and frame.shape[2] == 3
        self._size = output_size(w, h, self.max_width)
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._tmp = temp_path_for(self.path, suffix=".tmp.mp4")
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(self._command(*self._size, self._colour),
                                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._stderr)
        except BaseException:
            self._cleanup()
            raise

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        w, h = self._size
        frame = match_channels(frame, self._colour)
        fh, fw = frame.shape[:2]
        if (fw, fh) != (w, h):
            if fw - w in (0, 1) and fh - h in (0, 1):
                frame = frame[:h, :w]                   # odd size: crop one pixel, no resample
            else:
                frame = match_size(frame, (h, w))
        return np.ascontiguousarray(frame)

    def _stderr_tail(self, limit: int = 2000) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode(errors="replace")[-limit:].strip()
        except (OSError, ValueError):
            return ""

    def _cleanup(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._tmp and os.path.exists(self._tmp):
            os.unlink(self._tmp)
        self._tmp = None

    def _fail(self, what: str) -> RuntimeError:
        rc = self._proc.poll() if self._proc else None
        tail = self._stderr_tail()
        self.abort()
        return RuntimeError(f"ffmpeg {what} (exit code {rc}): {tail or 'no error output'}")

    # -- API ---------------------------------------------------------------------------------
    def add(self, frame: np.ndarray) -> None:
        if self._closed:
            raise RuntimeError("timelapse writer is closed")
        check_uint8(frame)
        if self._proc is None:
            self._start(frame)
        data = self._prepare(frame)
        try:
            self._proc.stdin.write(memoryview(data).cast("B"))
        except (BrokenPipeError, OSError, ValueError):
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            raise self._fail("stopped while receiving frames") from None
        self.frames += 1

    def close(self) -> str:
        """Finish the video; returns the final path.  Raises RuntimeError with ffmpeg's stderr
        tail if it failed, ValueError if no frame was added."""
        if self._closed:
            raise RuntimeError("timelapse writer is closed")
        if self._proc is None:
            self._closed = True
            raise ValueError("timelapse has no frames")
        try:
            self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            rc = self._proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise self._fail(f"did not finish within {self.timeout:g} s") from None
        if rc != 0:
            raise self._fail("failed")
        commit_temp(self._tmp, self.path, fsync=self.fsync)
        self._tmp = None
        self._cleanup()
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Stop ffmpeg and remove the temp file; the final path is left untouched."""
        self._closed = True
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            try:
                if proc.stdin:
                    proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._cleanup()

    @property
    def pid(self) -> Optional[int]:
        """ffmpeg's process id while it runs (None before the first frame / after close)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def size(self) -> Optional[Tuple[int, int]]:
        """(width, height) of the video once the first frame is in."""
        return self._size

    def __enter__(self) -> TimelapseWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()

    def __del__(self):  # a forgotten writer must not leave ffmpeg or temp files behind
        try:
            if not self._closed:
                self.abort()
        except Exception:  # noqa: BLE001
            pass


def timelapse_from_jpegs(paths: Iterable[str], out_path, **kwargs) -> int:
    """Build a timelapse from image files (read one at a time with cv2.imread; frames are
    resized to the first frame's size).  Unreadable files are skipped.  Returns the number of
    frames written; raises ValueError if none could be read."""
    writer = TimelapseWriter(out_path, **kwargs)
    first: Optional[Tuple[int, int]] = None
    try:
        for path in paths:
            img = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
            if img is None or img.dtype != np.uint8:
                continue
            if img.ndim == 3 and img.shape[2] == 4:
                img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
            if first is None:
                first = img.shape[:2]
            else:
                img = match_size(img, first)
            writer.add(img)
        if writer.frames == 0:
            writer.abort()
            raise ValueError("no readable frames for the timelapse")
        writer.close()
        return writer.frames
    except BaseException:
        writer.abort()
        raise
