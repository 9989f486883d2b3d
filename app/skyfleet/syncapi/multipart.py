"""Streaming reader for SyncAPI multipart bodies.

The metadata part must come first (indi-allsky's client and skyfleet's both send it first): a body
whose first part is anything else is refused at that part's headers, before a byte of it is read on.
The metadata part is kept in memory (it is small and capped); as soon as it is complete a callback
authenticates and parses it, before the media is read, so no media byte is staged for a request that
is not authenticated.  The media part is streamed straight into a staging file on the storage
filesystem while its sha256 and size are computed: one copy, never in memory, never in a RAM-backed
/tmp.  What the decoder may hold unparsed (preamble, part headers, epilogue) is capped, MAX_UNPARSED.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Optional

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import NEED_DATA, Data, Epilogue, Field, File, MultipartDecoder

from ..core.errors import BadRequest, StorageFull, TooLarge

if TYPE_CHECKING:
    from ..core.storage import Storage

CHUNK = 256 * 1024
MAX_PARTS = 8
# What the decoder may hold unparsed: one chunk plus framing.  Data is handed on as it arrives, so
# only a huge preamble, part header block or epilogue (garbage after the closing boundary) reaches it:
# werkzeug refuses to buffer more (checked before it appends), which is a 400 here.  Measured: 200 MiB
# of preamble, of one part-header line or of epilogue is refused after reading 0.5 MiB, the parser's
# peak memory about 1 MiB (tests/syncapi/test_preauth_work.py).
MAX_UNPARSED = CHUNK + 64 * 1024
# RFC 2046 boundary characters (ASCII), up to 200 of them; the MIME limit is 70.
# What may follow a boundary before its line break: "--" (the closing one) and transport padding.
_AFTER_BOUNDARY = re.compile(rb"(?:--)?[ \t]*")
BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,199}[0-9A-Za-z'()+_,\-./:=?]")


@dataclass
class StagedMedia:
    filename: str
    path: Optional[Path] = None
    size: int = 0
    sha256: str = hashlib.sha256(b"").hexdigest()

    def place(self, storage: Storage, rel: str) -> Optional[Path]:
        """Hand the staged file to storage at `rel` (staged files are made 0600: stored ones 0644)."""
        os.chmod(self.path, 0o644)
        dest = storage.place(self.path, rel)
        self.path = None
        return dest

    def discard(self) -> None:
        if self.path is not None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self.path = None


@dataclass
class Upload:
    metadata: Optional[bytes] = None
    media: Optional[StagedMedia] = None
    extra_parts: list = field(default_factory=list)

    def discard(self) -> None:
        if self.media is not None:
            self.media.discard()


# Called with (metadata bytes, their sha256) once the metadata part is complete; returns the number of
# media bytes the metadata announces (file_size), or None, so oversized media stop early.
MetadataCallback = Callable[[bytes, str], Optional[int]]


def boundary_of(content_type: str) -> bytes:
    mimetype, options = parse_options_header(content_type or "")
    boundary = options.get("boundary", "")
    if mimetype != "multipart/form-data" or not boundary:
        raise BadRequest("expected a multipart/form-data body with a boundary "
                         "(parts 'metadata' and 'media')", code="multipart_invalid")
    # werkzeug also decodes RFC 2231 forms (boundary*=UTF-8''...), which may yield any character.
    if not BOUNDARY_RE.fullmatch(boundary):
        raise BadRequest(f"multipart boundary {boundary[:60]!r} must be 1-200 of the characters RFC 2046 "
                         "allows (letters, digits, '()+_,-./:=? and space, not last)", code="multipart_invalid")
    return boundary.encode("ascii")


class _MediaWriter:
    def __init__(self, staging_dir: Path, filename: str, max_bytes: int, announced: Optional[int]):
        staging_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=staging_dir, prefix="upload-", suffix=".part")
        self.fh = os.fdopen(fd, "wb")
        self.media = StagedMedia(filename=filename, path=Path(name))
        self.hash = hashlib.sha256()
        self.max_bytes = max_bytes
        self.announced = announced

    def write(self, data: bytes) -> None:
        size = self.media.size + len(data)
        if size > self.max_bytes:
            raise TooLarge(f"media is larger than the server's limit of {self.max_bytes} bytes")
        if self.announced is not None and size > self.announced:
            raise BadRequest(f"media is larger than file_size {self.announced}", code="size_mismatch")
        try:
            self.fh.write(data)
        except OSError as exc:
            raise _os_error(exc) from None
        self.hash.update(data)
        self.media.size = size

    def close(self) -> StagedMedia:
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
        except OSError as exc:
            raise _os_error(exc) from None
        self.media.sha256 = self.hash.hexdigest()
        return self.media

    def abort(self) -> None:
        try:
            self.fh.close()
        except OSError:
            pass
        self.media.discard()


def _os_error(exc: OSError) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return StorageFull("the server's storage is full; the upload was not stored",
                           log_detail=f"staging write failed: {exc}")
    return exc


def _read(stream: BinaryIO) -> bytes:
    """One chunk of the body; a broken body (early close, bad chunked encoding) is the client's error."""
    try:
        return stream.read(CHUNK)
    except ClientDisconnected:
        raise BadRequest("the client sent less than Content-Length", code="incomplete_body") from None
    except Exception as exc:  # e.g. gunicorn's InvalidChunkSize, NoMoreData, ChunkMissingTerminator
        raise BadRequest("the request body could not be read (broken chunked encoding or connection)",
                         code="incomplete_body", log_detail=f"reading the body failed: {exc!r}") from None


def _stream_media(decoder: MultipartDecoder, boundary: bytes, writer: _MediaWriter,
                  next_chunk: Callable[[], bytes]) -> bool:
    """The bulk of the media part, past the decoder: while the decoder is inside the media's data,
    bytes that are not the part's closing delimiter go straight to the staging file, found with one
    bytes.find per chunk instead of the decoder's search and copies.  At the delimiter (a line break,
    ``--<boundary>`` and what the decoder's own pattern wants after it, all in hand: given only part
    of it, werkzeug 3.1.9 takes the CR before the boundary for media) or at the end of the body the
    rest is handed back to the decoder, which reads the closing boundary and the epilogue as before.
    Returns whether the body ended (the decoder is then told so)."""
    needle = b"--" + boundary
    keep = len(needle) + 1  # a partial needle at the end, and the CR LF before it
    buf = bytearray(decoder.buffer)
    del decoder.buffer[:]
    ended = False
    start = 0
    while True:
        found = buf.find(needle, start)
        if found == -1:
            if ended:
                break
            if len(buf) > keep:
                with memoryview(buf) as view:
                    writer.write(view[: len(buf) - keep])
                del buf[: len(buf) - keep]
            start = 0
            chunk = next_chunk()
            buf += chunk
            ended = not chunk
            continue
        line_break = 2 if buf[found - 2:found] == b"\r\n" else 1 if buf[found - 1:found] in (b"\n", b"\r") else 0
        if line_break and found >= line_break:
            padded_to = _AFTER_BOUNDARY.match(buf, found + len(needle)).end()
            if not ended and padded_to + 2 > len(buf) and padded_to - found < MAX_UNPARSED:
                chunk = next_chunk()  # not enough after it yet to tell a delimiter from media
                buf += chunk
                ended = not chunk
                continue
            if decoder.boundary_re.match(buf, found - line_break):
                with memoryview(buf) as view:
                    writer.write(view[: found - line_break])
                del buf[: found - line_break]
                break
        start = found + 1  # the boundary's text inside the media
    decoder.buffer[:] = buf
    return ended


def read_upload(stream: BinaryIO, content_type: str, staging_dir: Path, *, max_metadata: int,
                max_media: int, on_metadata: MetadataCallback, expected_length: Optional[int] = None) -> Upload:
    """Read the whole body; on any error the staged media is removed before the error propagates.

    The body counts only when all of it arrived: with a Content-Length (`expected_length`) a body that
    ends early is refused even if the multipart inside looks complete (gunicorn reports an early
    close as the end of the body)."""
    boundary = boundary_of(content_type)
    decoder = MultipartDecoder(boundary, max_form_memory_size=MAX_UNPARSED, max_parts=MAX_PARTS)
    upload = Upload()
    writer: Optional[_MediaWriter] = None
    meta_buf: Optional[bytearray] = None
    announced: Optional[int] = None
    current = None
    eof = False
    received = 0
    streamed = False

    def next_chunk() -> bytes:
        nonlocal received, eof
        chunk = _read(stream)
        received += len(chunk)
        if expected_length is not None and received > expected_length:
            raise BadRequest("the body is longer than Content-Length", code="multipart_invalid")
        eof = not chunk
        if eof and expected_length is not None and received < expected_length:
            raise BadRequest(f"the body ended after {received} of {expected_length} bytes (Content-Length)",
                             code="incomplete_body")
        return chunk

    try:
        while True:
            try:
                event = decoder.next_event()
            except (ValueError, RequestEntityTooLarge) as exc:
                raise BadRequest(f"malformed multipart body: {exc}", code="multipart_invalid") from None
            if event is NEED_DATA:
                if eof:
                    raise BadRequest("multipart body ended before its closing boundary", code="multipart_invalid")
                chunk = next_chunk()
                try:
                    decoder.receive_data(chunk or None)
                except RequestEntityTooLarge:
                    raise BadRequest(f"more than {MAX_UNPARSED} bytes of multipart framing (preamble, part "
                                     "headers or epilogue)", code="multipart_invalid") from None
            elif isinstance(event, (Field, File)):
                current = event.name
                if upload.metadata is None and meta_buf is None and current != "metadata":
                    raise BadRequest(f"the first part must be 'metadata' (it is signed and says what follows), "
                                     f"not {str(current)[:40]!r}: send the 'metadata' part before 'media'",
                                     code="metadata_missing")
                if current == "metadata":
                    if upload.metadata is not None or meta_buf is not None:
                        raise BadRequest("more than one 'metadata' part", code="multipart_invalid")
                    meta_buf = bytearray()
                elif current == "media":
                    if writer is not None or upload.media is not None:
                        raise BadRequest("more than one 'media' part", code="multipart_invalid")
                    writer = _MediaWriter(staging_dir, getattr(event, "filename", "") or "",
                                          max_media, announced)
                else:
                    upload.extra_parts.append(current)
            elif isinstance(event, Data):
                if current == "metadata":
                    meta_buf.extend(event.data)
                    if len(meta_buf) > max_metadata:
                        raise TooLarge(f"metadata part is larger than {max_metadata} bytes")
                    if not event.more_data:
                        upload.metadata = bytes(meta_buf)
                        announced = on_metadata(upload.metadata, hashlib.sha256(upload.metadata).hexdigest())
                elif current == "media":
                    writer.write(event.data)
                    if not event.more_data:
                        upload.media = writer.close()
                    elif not streamed and not eof:
                        streamed = True
                        if _stream_media(decoder, boundary, writer, next_chunk):
                            decoder.receive_data(None)
            elif isinstance(event, Epilogue):
                break
        if meta_buf is not None and upload.metadata is None:
            raise BadRequest("metadata part is incomplete", code="multipart_invalid")
        return upload
    except BaseException:
        if writer is not None:
            writer.abort()
        upload.discard()
        raise
