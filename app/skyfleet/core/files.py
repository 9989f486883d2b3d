"""The one atomic file placement of skyfleet: write a temp file in the destination folder, fsync,
os.replace (and fsync the folder).

A reader (web server, uploader) never sees a half-written file at the final name, and a crash
leaves at most a hidden ``.<name>.*.tmp`` file behind, never a truncated product.  Used by the
image processing (products written in place), the storage (a finished file moved into the layout)
and the timelapse writer (ffmpeg's output renamed when it is complete).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from typing import Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (thread-safe)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)  # fallback: the classic set-and-restore
    os.umask(old)
    return old


def temp_path_for(path: PathLike, suffix: str = ".tmp") -> str:
    """Create (and return) an empty, unique temp file beside ``path``.

    mkstemp creates it 0600; it gets the usual 0666 & ~umask so that the renamed file is
    readable like any other (e.g. by a web server running as another user).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=suffix, dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    return tmp


def fsync_dir(folder: str) -> None:
    """fsync a directory so a rename inside it survives a power cut (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def commit_temp(tmp: PathLike, path: PathLike, fsync: bool = True) -> None:
    """Put a finished temp file (beside ``path``) at ``path``: fsync it, rename it, fsync the folder."""
    if fsync:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp, path)
    if fsync:
        fsync_dir(os.path.dirname(os.path.abspath(os.fspath(path))))


@contextlib.contextmanager
def atomic_target(path: PathLike, fsync: bool = True, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temp path beside ``path``; on success it is fsynced and renamed onto ``path``.

    On any exception the temp file is removed and ``path`` is left untouched.
    """
    path = os.fspath(path)
    tmp = temp_path_for(path, suffix=suffix)
    try:
        yield tmp
        commit_temp(tmp, path, fsync=fsync)
    except BaseException:
        _remove_quietly(tmp)
        raise


def atomic_write_bytes(path: PathLike, data, fsync: bool = True) -> str:
    """Write a bytes-like object to ``path`` atomically; returns the path."""
    path = os.fspath(path)
    with atomic_target(path, fsync=fsync) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return path


def move_into_place(src: PathLike, dst: PathLike, fsync: bool = True, *, move: bool = True) -> str:
    """Move (or, with ``move=False``, copy) a finished file to ``dst`` atomically, also across filesystems.

    A move is a rename when both are on one filesystem; otherwise, and for a copy, the content is
    copied beside ``dst`` first and then renamed into place (the source is removed after a move).
    """
    src, dst = os.fspath(src), os.fspath(dst)
    if move:
        try:
            os.replace(src, dst)
        except OSError:
            pass  # different filesystem: copy beside dst first, then rename into place
        else:
            if fsync:
                fsync_dir(os.path.dirname(os.path.abspath(dst)))
            return dst
    with atomic_target(dst, fsync=fsync) as tmp:
        shutil.copyfile(src, tmp)
    if move:
        _remove_quietly(src)
    return dst


def sha256_file(path: PathLike | None, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file's content, read in chunks (of nothing when ``path`` is None)."""
    h = hashlib.sha256()
    if path is not None:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(chunk), b""):
                h.update(block)
    return h.hexdigest()
