"""The media part is streamed past the multipart decoder (`multipart._stream_media`): whatever the
bytes, however the body arrives in pieces, the staged file holds exactly the media that was sent.

The dangerous inputs are the ones that look like the end of the part: the boundary (or its start)
inside the media, with or without a line break before it, split across reads, right at the end.
"""
from __future__ import annotations

import hashlib
import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfleet.core.errors import BadRequest
from skyfleet.syncapi import multipart

BOUNDARY = b"b0undary-7f3a9c"


class Trickle(io.RawIOBase):
    """A body that hands out at most a few bytes per read, sizes chosen by the test."""

    def __init__(self, data: bytes, sizes: list[int]):
        self.data, self.sizes, self.at, self.reads = data, sizes or [1 << 20], 0, 0

    def readable(self):
        return True

    def read(self, n: int = -1) -> bytes:
        size = min(n, self.sizes[self.reads % len(self.sizes)])
        self.reads += 1
        out = self.data[self.at:self.at + size]
        self.at += len(out)
        return out


def body(media: bytes, line_break: bytes = b"\r\n", epilogue: bytes = b"") -> bytes:
    return (b"--" + BOUNDARY + b"\r\n"
            b'Content-Disposition: form-data; name="metadata"\r\n\r\n{"a": 1}\r\n'
            b"--" + BOUNDARY + b"\r\n"
            b'Content-Disposition: form-data; name="media"; filename="x.jpg"\r\n\r\n'
            + media + line_break + b"--" + BOUNDARY + b"--\r\n" + epilogue)


def staged(tmp_path, data: bytes, sizes: list[int] | None = None):
    upload = multipart.read_upload(Trickle(data, sizes or []), "multipart/form-data; boundary=" + BOUNDARY.decode(),
                                   tmp_path, max_metadata=1024, max_media=1 << 24, on_metadata=lambda raw, d: None,
                                   expected_length=len(data))
    content = upload.media.path.read_bytes()
    assert upload.media.size == len(content)
    assert upload.media.sha256 == hashlib.sha256(content).hexdigest()
    upload.discard()
    return content


# Pieces of media that look like the end of the part.
LOOKALIKES = [b"--" + BOUNDARY, b"\r\n--" + BOUNDARY, b"\n--" + BOUNDARY, b"--" + BOUNDARY[:5], b"\r\n--",
              b"\r", b"\n", b"--" + BOUNDARY + b"-", b"\r\n--" + BOUNDARY + b"x", b"\r\n--" + BOUNDARY + b"  \t x",
              b"\r\n--" + BOUNDARY + b"--x", b" \t", b"--"]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.one_of(st.sampled_from(LOOKALIKES), st.binary(max_size=300)), max_size=40),
       sizes=st.lists(st.integers(min_value=1, max_value=700), max_size=6))
def test_media_arrives_exactly_whatever_it_contains_and_however_it_is_read(tmp_path_factory, pieces, sizes):
    media = b"".join(pieces)
    # A delimiter inside (the line break before the media counts too): that media cannot be sent with
    # this boundary, the client picks another.
    if any(b + b"--" + BOUNDARY in b"\n" + media for b in (b"\r\n", b"\n", b"\r")):
        return
    assert staged(tmp_path_factory.mktemp("staging"), body(media), sizes) == media


CHUNK = multipart.CHUNK


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7])
@pytest.mark.parametrize("line_break", [b"\r\n", b"\n"])
def test_media_of_sizes_around_a_chunk_ends_where_the_delimiter_starts(tmp_path, size, line_break):
    media = random.Random(size).randbytes(size)
    if media.endswith(b"\r"):  # "\r" + "\n--" reads as one CRLF line break: the client's ambiguity, not ours
        media = media[:-1] + b"x"
    assert staged(tmp_path, body(media, line_break)) == media


def test_media_with_the_boundary_at_a_read_boundary_is_kept_whole(tmp_path):
    head = random.Random(1).randbytes(multipart.CHUNK - 3)
    media = head + b"--" + BOUNDARY + b"tail" + b"\r\n--" + BOUNDARY[:-1] + b"!"
    data = body(media)
    start = data.index(head)
    assert staged(tmp_path, data, [start + len(head) + 2, 1, 5, multipart.CHUNK]) == media


def test_a_body_that_ends_inside_the_media_is_refused_and_nothing_is_left(tmp_path):
    data = body(random.Random(2).randbytes(3 * multipart.CHUNK))
    cut = data[: len(data) // 2]
    with pytest.raises(BadRequest):
        multipart.read_upload(Trickle(cut, []), "multipart/form-data; boundary=" + BOUNDARY.decode(), tmp_path,
                              max_metadata=1024, max_media=1 << 24, on_metadata=lambda raw, d: None)
    assert list(tmp_path.iterdir()) == []


def test_an_epilogue_after_streamed_media_is_still_capped(tmp_path):
    data = body(b"x" * (2 * multipart.CHUNK), epilogue=b"e" * (multipart.MAX_UNPARSED + 10))
    with pytest.raises(BadRequest, match="framing"):
        staged(tmp_path, data)
    assert list(tmp_path.iterdir()) == []
