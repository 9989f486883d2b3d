"""Server-side authentication of SyncAPI requests, in two steps.

`begin()` runs as soon as the headers arrive: user, key and (for skyfleet signatures) the signature,
time window and nonce are checked before any of the body is read.  `check_metadata()` runs when the
metadata part has arrived (the v1 MAC covers it), `check_media()` when the media has been staged.
"""
from __future__ import annotations

import datetime as dt
import hmac
import re
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..apikeys import ApiKeyError, KeyBox
from ..core import signing
from ..core.errors import AuthFailed, BadRequest
from ..core.signing import USERNAME_RE
from ..models import SyncNonce, User, utcnow

HEX_RE = re.compile(r"[0-9a-f]+")
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
# ASCII digits only (str.isdigit() also takes '²' or Arabic-Indic digits, which int() refuses or
# reads), and few enough that the time stays a small number.
UNIX_SECONDS_RE = re.compile(r"[0-9]{1,12}")


@dataclass
class AuthState:
    user: User
    api_key: str
    scheme: str  # "v1" or "skyfleet"
    signature: str
    metadata_sha256: str = ""
    media_sha256: str = ""


class Authenticator:
    def __init__(self, session: Session, keybox: KeyBox, *, accept_v1: bool, clock_skew: int,
                 nonce_ttl: int, clock: Callable[[], float] = time.time):
        self.session = session
        self.keybox = keybox
        self.accept_v1 = accept_v1
        self.clock_skew = clock_skew
        self.nonce_ttl = max(nonce_ttl, 2 * clock_skew)
        self.clock = clock

    def begin(self, method: str, path: str, headers: Mapping[str, str]) -> AuthState:
        header = headers.get("Authorization", "")
        pieces = header.split(" ")
        if len(pieces) != 2:
            raise AuthFailed("missing or malformed Authorization header")
        scheme_word, credentials = pieces
        user_sig = credentials.split(":")
        if len(user_sig) != 2 or not USERNAME_RE.fullmatch(user_sig[0]):
            raise AuthFailed("malformed credentials in Authorization header")
        username, signature = user_sig
        if scheme_word == signing.V2_SCHEME:
            state = self._load_user(username, signature, "skyfleet")
            self._check_v2_headers(state, method, path, headers)
            return state
        if not self.accept_v1:
            raise AuthFailed(f"user {username}: v1 signatures are switched off on this server",
                             message="v1 signatures are not accepted by this server")
        return self._load_user(username, signature, "v1")

    def _load_user(self, username: str, signature: str, scheme: str) -> AuthState:
        if not HEX_RE.fullmatch(signature):
            raise AuthFailed(f"user {username}: signature is not lowercase hex")
        user = self.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise AuthFailed(f"unknown user {username!r}")
        if not user.is_active:
            raise AuthFailed(f"user {username} is inactive")
        if not user.api_key_encrypted:
            raise AuthFailed(f"user {username} has no API key (skyfleet user apikey {username})")
        try:
            key = self.keybox.open(user.api_key_encrypted)
        except ApiKeyError as exc:
            raise AuthFailed(f"user {username}: {exc}") from None
        return AuthState(user=user, api_key=key, scheme=scheme, signature=signature)

    def _check_v2_headers(self, state: AuthState, method: str, path: str, headers: Mapping[str, str]) -> None:
        name = state.user.username
        raw_date = headers.get(signing.HEADER_DATE, "")
        nonce = headers.get(signing.HEADER_NONCE, "")
        meta_sha = headers.get(signing.HEADER_METADATA_SHA256, "")
        media_sha = headers.get(signing.HEADER_MEDIA_SHA256, "")
        if not UNIX_SECONDS_RE.fullmatch(raw_date):
            raise AuthFailed(f"user {name}: {signing.HEADER_DATE} missing or not unix seconds",
                             message=f"{signing.HEADER_DATE} header missing or not an integer")
        if not NONCE_RE.fullmatch(nonce):
            raise AuthFailed(f"user {name}: bad {signing.HEADER_NONCE}",
                             message=f"{signing.HEADER_NONCE} must be 16-64 characters [A-Za-z0-9_-]")
        for header_name, digest in ((signing.HEADER_METADATA_SHA256, meta_sha),
                                    (signing.HEADER_MEDIA_SHA256, media_sha)):
            if len(digest) != 64 or not HEX_RE.fullmatch(digest):
                raise AuthFailed(f"user {name}: bad {header_name}",
                                 message=f"{header_name} must be a lowercase hex sha256")
        timestamp = int(raw_date)
        expected = signing.v2_signature(state.api_key, method, path, timestamp, nonce, meta_sha, media_sha)
        if not hmac.compare_digest(expected, state.signature):
            raise AuthFailed(f"user {name}: skyfleet signature mismatch for {method} {path}")
        skew = timestamp - self.clock()
        if abs(skew) > self.clock_skew:
            raise AuthFailed(f"user {name}: request time off by {skew:+.0f} s",
                             message=f"request time is {skew:+.0f} s from the server's clock "
                                     f"(allowed {self.clock_skew} s): check NTP on both hosts",
                             code="clock_skew")
        self._remember_nonce(state.user, nonce)
        state.metadata_sha256, state.media_sha256 = meta_sha, media_sha

    def _remember_nonce(self, user: User, nonce: str) -> None:
        cutoff = utcnow() - dt.timedelta(seconds=self.nonce_ttl)
        self.session.execute(delete(SyncNonce).where(SyncNonce.seen_at < cutoff))
        self.session.add(SyncNonce(user_id=user.id, nonce=nonce))
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()
            raise AuthFailed(f"user {user.username}: nonce {nonce} replayed",
                             message="this request was already received (nonce replayed)",
                             code="replayed") from None

    def check_metadata(self, state: AuthState, metadata: bytes, digest: str) -> None:
        if state.scheme == "skyfleet":
            if digest != state.metadata_sha256:
                raise BadRequest("metadata does not match X-Skyfleet-Metadata-SHA256", code="digest_mismatch",
                                 log_detail=f"user {state.user.username}: metadata digest mismatch")
            return
        if not signing.v1_matches(state.api_key, metadata, state.signature, self.clock()):
            raise AuthFailed(f"user {state.user.username}: v1 HMAC matches no time bucket "
                             "(wrong key, or clock more than ~5 min ahead / ~25 min behind)")

    def check_media(self, state: AuthState, digest: str) -> None:
        if state.scheme == "skyfleet" and digest != state.media_sha256:
            raise BadRequest("media does not match X-Skyfleet-Media-SHA256", code="digest_mismatch",
                             log_detail=f"user {state.user.username}: media digest mismatch")
