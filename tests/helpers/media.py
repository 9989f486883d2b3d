"""Tiny valid media files of an exact byte size (recorded metadata fixes the size through file_size).

JPEG and MP4 come from ffmpeg and are padded inside the format (JPEG comment segments, an MP4 `free`
box); PNG and FITS are written here.  Each stays a file its format's readers accept.
"""
from __future__ import annotations

import functools
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

FITS_BLOCK = 2880


def _ffmpeg(*args: str) -> None:
    exe = shutil.which("ffmpeg")
    assert exe, "ffmpeg is missing: script/test installs Debian's ffmpeg package"
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120)


@functools.cache
def _made_by_ffmpeg(suffix: str, *args: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"out{suffix}"
        _ffmpeg(*args, str(out))
        return out.read_bytes()


def jpeg(size: int) -> bytes:
    base = _made_by_ffmpeg(".jpg", "-f", "lavfi", "-i", "testsrc2=size=16x16:rate=1", "-frames:v", "1", "-q:v", "5")
    assert base[:2] == b"\xff\xd8" and base[-2:] == b"\xff\xd9"
    pad = size - len(base)
    assert pad == 0 or pad >= 4, f"cannot pad a {len(base)}-byte JPEG to {size} bytes"
    segments = []
    while pad:
        take = min(pad, 65537)
        if 0 < pad - take < 4:  # leave room for one more segment header
            take -= 4
        segments.append(b"\xff\xfe" + struct.pack(">H", take - 2) + b"p" * (take - 4))
        pad -= take
    return base[:2] + b"".join(segments) + base[2:]


def mp4(size: int) -> bytes:
    base = _made_by_ffmpeg(".mp4", "-f", "lavfi", "-i", "testsrc2=size=16x16:rate=5", "-t", "0.4", "-c:v", "libx264",
                           "-pix_fmt", "yuv420p", "-movflags", "+faststart")
    assert base[4:8] == b"ftyp"
    pad = size - len(base)
    assert pad == 0 or pad >= 8, f"cannot pad a {len(base)}-byte MP4 to {size} bytes"
    return base + (struct.pack(">I", pad) + b"free" + b"\0" * (pad - 8) if pad else b"")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(size: int) -> bytes:
    """A 1x1 grey PNG, padded with a private ancillary chunk that decoders skip."""
    head = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    body = _png_chunk(b"IDAT", zlib.compress(b"\x00\x80"))
    tail = _png_chunk(b"IEND", b"")
    pad = size - len(head) - len(body) - len(tail)
    assert pad == 0 or pad >= 12, f"cannot pad a PNG to {size} bytes"
    return head + (_png_chunk(b"skPd", b"p" * (pad - 12)) if pad else b"") + body + tail


def fits(size: int) -> bytes:
    """An 8-bit image whose header and data fill `size` bytes (FITS files are whole 2880-byte blocks)."""
    assert size % FITS_BLOCK == 0 and size >= 2 * FITS_BLOCK, f"a FITS file is whole {FITS_BLOCK}-byte blocks"
    data_bytes = size - FITS_BLOCK
    width = 320 if data_bytes % 320 == 0 else FITS_BLOCK
    cards = [("SIMPLE", "T"), ("BITPIX", "8"), ("NAXIS", "2"), ("NAXIS1", str(width)),
             ("NAXIS2", str(data_bytes // width))]
    header = "".join(f"{key:<8}= {value:>20}".ljust(80) for key, value in cards) + "END".ljust(80)
    header = header.ljust(FITS_BLOCK).encode("ascii")
    return header + bytes(i % 251 for i in range(data_bytes))


BY_EXTENSION = {".jpg": jpeg, ".mp4": mp4, ".png": png, ".fit": fits}


def of_size(extension: str, size: int) -> bytes:
    made = BY_EXTENSION[extension](size)
    assert len(made) == size
    return made


# The first bytes of each format, from the formats' own descriptions (JFIF, PNG, RIFF/WebP, ISO base
# media, EBML, FITS, TIFF), not from the server's table: what the server's type check reads.
SIGNATURES = {
    ".jpg": b"\xff\xd8\xff\xe0", ".jpeg": b"\xff\xd8\xff\xe1", ".png": b"\x89PNG\r\n\x1a\n",
    ".webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ", ".mp4": b"\x00\x00\x00\x18ftypisom", ".webm": b"\x1a\x45\xdf\xa3",
    ".fit": b"SIMPLE  =                    T", ".fits": b"SIMPLE  =                    T",
    ".tif": b"II*\x00", ".tiff": b"MM\x00*",
}


def fake(name: str, body: bytes = b"") -> bytes:
    """`body` behind the first bytes of the format that `name` (".jpg" or "sky.jpg") names: enough for
    the server's content check, not a file a decoder reads (the builders above make those)."""
    return SIGNATURES[Path(name).suffix.lower() or name.lower()] + body
