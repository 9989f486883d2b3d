"""What a user may see of an API key: its fingerprint, computed here from the definition, never the key.

The fingerprint is defined (skyfleet.apikeys) as the first 16 hex digits of the SHA-256 of the key
text; it is computed here with hashlib, so a server that fingerprints wrongly cannot agree with itself.
"""
from __future__ import annotations

import hashlib

FRAGMENT_LENGTH = 8  # shorter runs of hex digits turn up by chance in ids and tokens


def expected_fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def key_fragments(key: str, length: int = FRAGMENT_LENGTH) -> set[str]:
    return {key[i:i + length] for i in range(len(key) - length + 1)}


def assert_no_part_of_key(key: str, shown: str) -> None:
    """No run of FRAGMENT_LENGTH characters of `key` appears anywhere in `shown`."""
    leaked = sorted(f for f in key_fragments(key) if f in shown)
    assert not leaked, f"{len(leaked)} fragments of the key are shown, e.g. {leaked[0]!r}"


def assert_key_shown_once(key: str, shown: str) -> None:
    """The whole key appears exactly once (where it is handed out) and no part of it anywhere else."""
    assert shown.count(key) == 1, f"the key appears {shown.count(key)} times, expected once"
    assert_no_part_of_key(key, shown.replace(key, "", 1))
