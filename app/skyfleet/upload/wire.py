"""Building SyncAPI requests on the camera side: a multipart body streamed from disk, and signatures."""
from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from pathlib import Path
from typing import Iterator, Optional

from ..core import signing

CHUNK = 1024 * 1024
# Above this size a v1 signature is made for the next 5-minute bucket, which an indi-allsky server
# accepts for 5 more minutes (it tries T+1 ... T-4 when the body has arrived).
SIGN_AHEAD_BYTES = 32 * 1024 * 1024


class MediaChanged(RuntimeError):
    """The file changed size while it was being sent."""


class MultipartBody:
    """metadata part + media part, with a known length, read from disk chunk by chunk while sending."""

    def __init__(self, metadata: bytes, media_path: Optional[Path], media_name: str):
        self.boundary = uuid.uuid4().hex
        self.media_path = media_path
        self.media_size = media_path.stat().st_size if media_path else 0
        b = self.boundary.encode()
        self.head = (b"--" + b + b'\r\nContent-Disposition: form-data; name="metadata"; filename="metadata.json"'
                     b"\r\nContent-Type: application/json\r\n\r\n" + metadata + b"\r\n--" + b
                     + b'\r\nContent-Disposition: form-data; name="media"; filename="'
                     + _quote(media_name).encode() + b'"\r\nContent-Type: application/octet-stream\r\n\r\n')
        self.tail = b"\r\n--" + b + b"--\r\n"

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.head) + self.media_size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        if self.media_path is not None:
            sent = 0
            with open(self.media_path, "rb") as fh:
                while sent < self.media_size:
                    block = fh.read(min(CHUNK, self.media_size - sent))
                    if not block:
                        raise MediaChanged(f"{self.media_path} shrank while it was being sent")
                    sent += len(block)
                    yield block
        yield self.tail


def _quote(name: str) -> str:
    return os.path.basename(name).replace('"', "_").replace("\r", "_").replace("\n", "_")


def v1_headers(username: str, api_key: str, metadata: bytes, now: float, media_size: int) -> dict:
    bucket = signing.v1_bucket(now) + (1 if media_size > SIGN_AHEAD_BYTES else 0)
    return {"Authorization": f"Bearer {username}:{signing.v1_signature(api_key, bucket, metadata)}"}


def skyfleet_headers(username: str, api_key: str, method: str, path: str, metadata: bytes,
                     media_sha256: str, now: float) -> dict:
    ts = int(now)
    nonce = secrets.token_hex(16)
    meta_sha = hashlib.sha256(metadata).hexdigest()
    sig = signing.v2_signature(api_key, method, path, ts, nonce, meta_sha, media_sha256)
    return {"Authorization": f"{signing.V2_SCHEME} {username}:{sig}", signing.HEADER_DATE: str(ts),
            signing.HEADER_NONCE: nonce, signing.HEADER_METADATA_SHA256: meta_sha,
            signing.HEADER_MEDIA_SHA256: media_sha256}
