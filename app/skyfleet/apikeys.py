"""API keys: the indi-allsky format (32 random bytes as 64 lowercase hex), encrypted at rest.

The HMAC check needs the key text itself, so keys are stored Fernet-encrypted with the server's
secret (a 0600 file), never in plain text.  A short fingerprint identifies a key without revealing it.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

API_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class ApiKeyError(ValueError):
    pass


def generate() -> str:
    return secrets.token_hex(32)


def validate(key: str) -> str:
    key = key.strip()
    if not API_KEY_RE.match(key):
        raise ApiKeyError("an API key is 64 lowercase hexadecimal characters (32 random bytes)")
    return key


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def load_or_create_secret(path: Path) -> bytes:
    """The server secret (a Fernet key); created 0600 on first use, never overwritten."""
    path = Path(path)
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key + b"\n")
    except BaseException:
        os.close(fd)
        path.unlink()
        raise
    os.close(fd)
    return key


class KeyBox:
    """Encrypts and decrypts API keys with the server secret."""

    def __init__(self, secret: bytes):
        try:
            self._fernet = Fernet(secret)
        except (ValueError, TypeError):
            raise ApiKeyError("the secret key file does not hold a valid key (44 urlsafe base64 characters)") from None

    def seal(self, key: str) -> str:
        return self._fernet.encrypt(key.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ApiKeyError("stored API key cannot be decrypted with this server's secret key") from None
