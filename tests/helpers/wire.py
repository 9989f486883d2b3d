"""SyncAPI requests built by hand from the protocol text, independent of skyfleet's own code.

Signatures are computed here with hashlib/hmac directly, so a mistake shared by the server's signing
helper and the tests cannot pass unnoticed.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid

# The protocol document's worked example.
EXAMPLE_USER = "remote-sync"
EXAMPLE_KEY = "3f9c2a7e5b1d4086a2c4e6f8091b3d5f7a9c1e3f5b7d9f1a3c5e7f9b1d3f5a7c"
CAMERA_UUID = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
BASE = "/indi-allsky"


def dumps(meta: dict) -> bytes:
    """Python's default json.dumps output, as indi-allsky sends it."""
    return json.dumps(meta).encode()


def multipart(metadata: bytes | None, media: bytes | None, media_name: str = "image.jpg",
              boundary: str | None = None, media_first: bool = False) -> tuple[bytes, str]:
    boundary = boundary or uuid.uuid4().hex
    parts = []
    if metadata is not None:
        parts.append((b'Content-Disposition: form-data; name="metadata"; filename="metadata.json"\r\n'
                      b"Content-Type: application/json\r\n\r\n", metadata))
    if media is not None:
        parts.append((f'Content-Disposition: form-data; name="media"; filename="{media_name}"\r\n'
                      "Content-Type: application/octet-stream\r\n\r\n".encode(), media))
    if media_first:
        parts.reverse()
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + head + data + b"\r\n" for head, data in parts)
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary}"


def multipart_envelope(metadata: bytes, media_name: str) -> tuple[bytes, bytes, str]:
    """(head, tail, content type) around a media part, for streaming media bytes in between."""
    body, ctype = multipart(metadata, b"", media_name)
    tail = b"\r\n--" + ctype.split("boundary=")[1].encode() + b"--\r\n"
    assert body.endswith(tail)
    return body[: -len(tail)], tail, ctype


def v1_hmac(key: str, unix_time: float, metadata: bytes) -> str:
    bucket = str(int(unix_time // 300)).encode()
    return hmac.new(key.encode("utf-8"), bucket + metadata, hashlib.sha3_512).hexdigest()


def v1_headers(user: str, key: str, metadata: bytes, unix_time: float | None = None) -> dict:
    t = time.time() if unix_time is None else unix_time
    return {"Authorization": f"Bearer {user}:{v1_hmac(key, t, metadata)}", "Connection": "close"}


def v2_headers(user: str, key: str, method: str, path: str, metadata: bytes, media: bytes,
               unix_time: float | None = None, nonce: str | None = None) -> dict:
    ts = str(int(time.time() if unix_time is None else unix_time))
    nonce = nonce or secrets.token_hex(16)
    meta_sha = hashlib.sha256(metadata).hexdigest()
    media_sha = hashlib.sha256(media).hexdigest()
    message = "\n".join(["SKYFLEET-HMAC-SHA256", method, path, ts, nonce, meta_sha, media_sha]).encode()
    sig = hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return {"Authorization": f"SKYFLEET-HMAC-SHA256 {user}:{sig}", "X-Skyfleet-Date": ts,
            "X-Skyfleet-Nonce": nonce, "X-Skyfleet-Metadata-SHA256": meta_sha,
            "X-Skyfleet-Media-SHA256": media_sha}


def sized(meta: dict, media: bytes) -> dict:
    """Add file_size last, as the indi-allsky client does just before signing."""
    out = dict(meta)
    out["file_size"] = len(media)
    return out


class Sender:
    """Sends signed SyncAPI requests through a Flask test client (or anything with .open)."""

    def __init__(self, client, user: str = EXAMPLE_USER, key: str = EXAMPLE_KEY, scheme: str = "v1"):
        self.client, self.user, self.key, self.scheme = client, user, key, scheme

    def send(self, method: str, segment: str, meta: dict | None, media: bytes | None = b"",
             media_name: str = "image.jpg", add_size: bool = True, headers: dict | None = None,
             raw_metadata: bytes | None = None, media_first: bool = False, scheme: str | None = None,
             v1_time: float | None = None):
        """`v1_time`: sign a v1 request at that time (e.g. 300 s ago, the previous bucket, which the
        server still accepts), so its MAC differs from an earlier request with the same metadata: the
        server refuses one v1 MAC with another method or other media as a replay."""
        if raw_metadata is None and meta is not None:
            raw_metadata = dumps(sized(meta, media or b"") if add_size else meta)
        body, ctype = multipart(raw_metadata, media, media_name, media_first=media_first)
        path = f"{BASE}/sync/v1/{segment}"
        auth = {}
        if (scheme or self.scheme) == "v1":
            auth = v1_headers(self.user, self.key, raw_metadata or b"", v1_time)
        else:
            auth = v2_headers(self.user, self.key, method, path, raw_metadata or b"", media or b"")
        auth.update(headers or {})
        return self.client.open(path, method=method, data=body, content_type=ctype, headers=auth)
