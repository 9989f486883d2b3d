"""Which files the server stores and how it serves them: media types by extension, proved by their first bytes.

A stored file is served from the site's own origin, so its type must never come from a guess or from
what the uploader claims: each accepted extension maps to one fixed type, the content must start with
that type's signature, and anything else (a file an older release stored under another extension) is
only ever offered as a download.  Asset kinds pick their extensions from the groups below
(`core.assets.KINDS`).
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from . import metadata as md
from .errors import UnsupportedMedia

HEAD_BYTES = 16  # enough for every signature below
DOWNLOAD_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class MediaType:
    name: str
    mimetype: str
    signature: bytes  # a bytes pattern the file's first bytes must match ("." is any byte)

    def matches(self, head: bytes) -> bool:
        return re.match(self.signature, head, re.DOTALL) is not None


JPEG = MediaType("JPEG", "image/jpeg", rb"\xff\xd8\xff")
PNG = MediaType("PNG", "image/png", rb"\x89PNG\r\n\x1a\n")
WEBP = MediaType("WebP", "image/webp", rb"RIFF....WEBP")
TIFF = MediaType("TIFF", "image/tiff", rb"II\*\x00|MM\x00\*")
FITS = MediaType("FITS", "application/fits", rb"SIMPLE  =")
MP4 = MediaType("MP4", "video/mp4", rb"....ftyp")  # ISO base media: a box size, then the ftyp box
WEBM = MediaType("WebM", "video/webm", rb"\x1a\x45\xdf\xa3")  # EBML (Matroska) header

BY_EXTENSION: dict[str, MediaType] = {
    ".jpg": JPEG, ".jpeg": JPEG, ".png": PNG, ".webp": WEBP, ".tif": TIFF, ".tiff": TIFF,
    ".fit": FITS, ".fits": FITS, ".mp4": MP4, ".webm": WEBM,
}

# What each family of asset kinds may be.
IMAGES = (".jpg", ".jpeg", ".png", ".webp")
VIDEOS = (".mp4", ".webm")
FITS_FILES = (".fit", ".fits")
RAW_IMAGES = (".png", ".tif", ".tiff")


def served_type(filename: str) -> str | None:
    """The fixed type a stored file is served as, or None: then it is only offered as a download."""
    media_type = BY_EXTENSION.get(posixpath.splitext(filename)[1].lower())
    return media_type.mimetype if media_type else None


def extension(filename: str, allowed: tuple, what: str) -> str:
    """The upload's extension (lower case), if `what` (an asset kind) may have it; else UnsupportedMedia."""
    ext = md.media_extension(filename)  # a plain name with a syntactically valid extension
    if ext not in allowed:
        raise UnsupportedMedia(f"media file extension {ext!r} is not accepted for {what}; allowed: "
                               f"{', '.join(allowed)}", code="media_type_not_allowed")
    return ext


def check_content(ext: str, head: bytes) -> None:
    """The content's first bytes must be those of the type its extension names."""
    media_type = BY_EXTENSION[ext]
    if not media_type.matches(head):
        raise UnsupportedMedia(f"media named {ext!r} is not {media_type.name} (its first bytes are "
                               f"{head[:HEAD_BYTES].hex(' ') or 'missing'})", code="media_content_mismatch")


def check_file(ext: str, path: Path) -> None:
    with open(path, "rb") as fh:
        check_content(ext, fh.read(HEAD_BYTES))
