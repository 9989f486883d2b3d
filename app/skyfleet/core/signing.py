"""Signatures of SyncAPI requests; pure functions shared by the server and skyfleet's client.

v1 (indi-allsky): HMAC-SHA3-512 keyed with the API key text over ASCII(floor(t/300)) followed by the
raw metadata bytes, sent as ``Authorization: Bearer <user>:<hex>``.

skyfleet (stronger): HMAC-SHA256 keyed with the API key text over

    SKYFLEET-HMAC-SHA256\\n<METHOD>\\n<path>\\n<unix time>\\n<nonce>\\n<sha256 metadata>\\n<sha256 media>

sent as ``Authorization: SKYFLEET-HMAC-SHA256 <user>:<hex>`` with the time, nonce and both digests in
X-Skyfleet-* headers, so the server checks the signature, time and nonce before reading the body.
"""
from __future__ import annotations

import hashlib
import hmac
import re

# The user part of both Authorization forms (`<user>:<hex>`): no ':' and no spaces.  Anchored, since
# accounts.py uses .match() when a user is created.
USERNAME_RE = re.compile(r"^[A-Za-z0-9_@.-]{1,64}\Z")

V1_BUCKET_SECONDS = 300
# The server's bucket, then older ones for slow uploads and one newer for a fast client clock.
V1_BUCKET_OFFSETS = (0, -1, 1, -2, -3, -4)
# How long one v1 MAC stays acceptable: a MAC for bucket B passes while the server is in buckets B-1 to
# B+4, six buckets; first seen at the start of B-1, it is still accepted 30 minutes later.  A server
# that remembers MACs to refuse replays keeps them that long.
V1_MAC_LIFETIME_SECONDS = (max(V1_BUCKET_OFFSETS) - min(V1_BUCKET_OFFSETS) + 1) * V1_BUCKET_SECONDS

V2_SCHEME = "SKYFLEET-HMAC-SHA256"
HEADER_DATE = "X-Skyfleet-Date"
HEADER_NONCE = "X-Skyfleet-Nonce"
HEADER_METADATA_SHA256 = "X-Skyfleet-Metadata-SHA256"
HEADER_MEDIA_SHA256 = "X-Skyfleet-Media-SHA256"

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Sent on every SyncAPI answer of a skyfleet server, so clients can switch to skyfleet signatures.
SERVER_HEADER = "X-Skyfleet-SyncAPI"
SERVER_VERSION = "1"


def v1_bucket(unix_time: float) -> int:
    return int(unix_time // V1_BUCKET_SECONDS)


def v1_signature(api_key: str, bucket: int, metadata: bytes) -> str:
    return hmac.new(api_key.encode(), str(bucket).encode() + metadata, hashlib.sha3_512).hexdigest()


def v1_matches(api_key: str, metadata: bytes, signature: str, server_time: float) -> bool:
    now = v1_bucket(server_time)
    found = False
    for offset in V1_BUCKET_OFFSETS:  # no early exit: the time taken must not tell which bucket matched
        found |= hmac.compare_digest(v1_signature(api_key, now + offset, metadata), signature)
    return found


def v2_string_to_sign(method: str, path: str, timestamp: int, nonce: str,
                      metadata_sha256: str, media_sha256: str) -> bytes:
    return "\n".join(
        (V2_SCHEME, method.upper(), path, str(timestamp), nonce, metadata_sha256, media_sha256)
    ).encode()


def v2_signature(api_key: str, method: str, path: str, timestamp: int, nonce: str,
                 metadata_sha256: str, media_sha256: str) -> str:
    message = v2_string_to_sign(method, path, timestamp, nonce, metadata_sha256, media_sha256)
    return hmac.new(api_key.encode(), message, hashlib.sha256).hexdigest()
