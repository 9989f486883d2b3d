"""Server-side authentication of SyncAPI requests, in two steps.

`begin()` runs as soon as the headers arrive: user, key and (for skyfleet signatures) the signature,
time window and nonce are checked before any of the body is read.  `check_metadata()` runs when the
metadata part has arrived (the v1 MAC covers it), `check_media()` when the media has been staged.

An unknown, inactive or keyless user is not refused where it is found: it goes on with a dummy key
and fails where a wrong key fails (skyfleet: the signature check in `begin()`; v1: the MAC check over
the metadata part), with the same answer, after the same reads and the same computations.  So the
answer and its timing do not tell which user names exist.

A v1 MAC covers only the time bucket and the metadata, not the method or the media: each one is
remembered (table sync_v1_mac) for as long as a v1 server accepts it, with the method and media it
came with, and the same MAC with another method or other media is refused as a replay.  The same
MAC with the same method and media (a retry of the identical request) is accepted.

Ingest cost: the record of a first-seen MAC is added to the request's session without a commit of
its own; it commits with the asset (one write transaction per upload), and `settle` commits it for a
request that ends without writing (a GET) or fails after the MAC was checked (so a captured request
whose first attempt was refused cannot come back with another method).  Rows older than their
window are deleted at most once a minute per server process (`core.sweeps`), not on every request.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
import weakref
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

from sqlalchemy import bindparam, delete, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..apikeys import ApiKeyError, KeyBox
from ..core import signing
from ..core.errors import AuthFailed, BadRequest
from ..core.signing import USERNAME_RE
from ..core.sweeps import Sweeps
from ..models import SyncNonce, SyncV1Mac, User, utcnow

HEX_RE = re.compile(r"[0-9a-f]+")
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
# ASCII digits only (str.isdigit() also takes '²' or Arabic-Indic digits, which int() refuses or
# reads), and few enough that the time stays a small number.
UNIX_SECONDS_RE = re.compile(r"[0-9]{1,12}")

# The key a request of an unknown, inactive or keyless user is checked with (random: nobody has it,
# and such a request fails even if its signature matched).  It is sealed once per KeyBox
# so that opening it costs what opening a real user's key costs.
_DUMMY_KEY = secrets.token_hex(32)
_dummy_tokens: weakref.WeakKeyDictionary[KeyBox, str] = weakref.WeakKeyDictionary()


# The lookups every request makes, built once: building and keying a select cost more than running it
# (an upload makes several; tests/bench/bench_syncapi_ingest.py)
_USER_BY_NAME = select(User).where(User.username == bindparam("username"))
_V1_MAC_SINCE = select(SyncV1Mac).where(SyncV1Mac.user_id == bindparam("user_id"), SyncV1Mac.mac == bindparam("mac"),
                                        SyncV1Mac.seen_at >= bindparam("since"))


def _dummy_token(keybox: KeyBox) -> str:
    token = _dummy_tokens.get(keybox)
    if token is None:
        token = _dummy_tokens[keybox] = keybox.seal(_DUMMY_KEY)
    return token


def v1_mac_id(signature: str) -> str:
    """What sync_v1_mac stores for a v1 MAC: its sha256 (a MAC is 128 hex characters, the column 64)."""
    return hashlib.sha256(signature.encode("ascii")).hexdigest()


@dataclass
class AuthState:
    user: User
    api_key: str
    scheme: str  # "v1" or "skyfleet"
    signature: str
    metadata_sha256: str = ""
    media_sha256: str = ""
    # Why this request fails once its signature has been checked (unknown, inactive or keyless user),
    # or None; only the log says which.
    failure: Optional[str] = None
    method: str = ""
    # A first-seen v1 MAC's record, added to the session and not yet committed (`settle`).
    pending_mac: Optional[SyncV1Mac] = None


class Authenticator:
    def __init__(self, session: Session, keybox: KeyBox, *, accept_v1: bool, clock_skew: int,
                 nonce_ttl: int, clock: Callable[[], float] = time.time, sweeps: Optional[Sweeps] = None):
        self.session = session
        self.sweeps = sweeps or Sweeps(every_seconds=0)
        self.keybox = keybox
        self.accept_v1 = accept_v1
        self.clock_skew = clock_skew
        self.nonce_ttl = max(nonce_ttl, 2 * clock_skew)
        self.clock = clock
        self.v1_mac_ttl = signing.V1_MAC_LIFETIME_SECONDS

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
            state = self._load_user(username, signature, "skyfleet", method)
            self._check_v2_headers(state, method, path, headers)
            return state
        if not self.accept_v1:
            raise AuthFailed(f"user {username}: v1 signatures are switched off on this server",
                             message="v1 signatures are not accepted by this server")
        return self._load_user(username, signature, "v1", method)

    def _load_user(self, username: str, signature: str, scheme: str, method: str) -> AuthState:
        """The user and key; for a user who cannot sign, a dummy key and the reason in `failure`.

        The same work either way: one lookup, one key opened."""
        if not HEX_RE.fullmatch(signature):
            raise AuthFailed(f"user {username}: signature is not lowercase hex")
        user = self.session.scalar(_USER_BY_NAME, {"username": username})
        failure = None
        if user is None:
            failure = f"unknown user {username!r}"
        elif not user.is_active:
            failure = f"user {username} is inactive"
        elif not user.api_key_encrypted:
            failure = f"user {username} has no API key (skyfleet user apikey {username})"
        token = _dummy_token(self.keybox) if failure else user.api_key_encrypted
        try:
            key = self.keybox.open(token)
        except ApiKeyError as exc:
            failure, key = f"user {username}: {exc}", _DUMMY_KEY
        return AuthState(user=user, api_key=key, scheme=scheme, signature=signature, failure=failure,
                         method=method.upper())

    def _check_v2_headers(self, state: AuthState, method: str, path: str, headers: Mapping[str, str]) -> None:
        name = state.user.username if state.user is not None else "(unknown)"
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
        matches = hmac.compare_digest(expected, state.signature)
        if state.failure or not matches:
            raise AuthFailed(state.failure or f"user {name}: skyfleet signature mismatch for {method} {path}")
        skew = timestamp - self.clock()
        if abs(skew) > self.clock_skew:
            raise AuthFailed(f"user {name}: request time off by {skew:+.0f} s",
                             message=f"request time is {skew:+.0f} s from the server's clock "
                                     f"(allowed {self.clock_skew} s): check NTP on both hosts",
                             code="clock_skew")
        self._remember_nonce(state.user, nonce)
        state.metadata_sha256, state.media_sha256 = meta_sha, media_sha

    def _remember_nonce(self, user: User, nonce: str) -> None:
        if self.sweeps.due("sync_nonce"):
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
        matches = signing.v1_matches(state.api_key, metadata, state.signature, self.clock())
        if state.failure or not matches:
            raise AuthFailed(state.failure or f"user {state.user.username}: v1 HMAC matches no time bucket "
                             "(wrong key, or clock more than ~5 min ahead / ~25 min behind)")
        # Another method with this MAC is refused now, before any media is read; other media once
        # the media has been staged (check_media).
        self._check_v1_mac(state, self._seen_v1_mac(state), media_sha256=None)

    def check_media(self, state: AuthState, digest: str) -> None:
        if state.scheme == "skyfleet":
            if digest != state.media_sha256:
                raise BadRequest("media does not match X-Skyfleet-Media-SHA256", code="digest_mismatch",
                                 log_detail=f"user {state.user.username}: media digest mismatch")
            return
        self._remember_v1_mac(state, digest)

    # v1 replay protection ------------------------------------------------------------------------

    def _now_utc(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).replace(tzinfo=None)

    def _seen_v1_mac(self, state: AuthState) -> Optional[SyncV1Mac]:
        return self.session.scalar(_V1_MAC_SINCE, {
            "user_id": state.user.id, "mac": v1_mac_id(state.signature),
            "since": self._now_utc() - dt.timedelta(seconds=self.v1_mac_ttl)})

    def _check_v1_mac(self, state: AuthState, seen: Optional[SyncV1Mac], media_sha256: Optional[str]) -> None:
        if seen is None:
            return
        if seen.method != state.method:
            raise AuthFailed(f"user {state.user.username}: v1 MAC first seen with {seen.method}, now with "
                             f"{state.method}", code="replayed",
                             message=f"this v1 signature was already used with {seen.method}; a v1 signature "
                                     "does not cover the method, so it is not accepted with another one "
                                     "(sign again, or use skyfleet signatures)")
        if media_sha256 is not None and seen.media_sha256 != media_sha256:
            raise AuthFailed(f"user {state.user.username}: v1 MAC first seen with media {seen.media_sha256[:12]}, "
                             f"now with {media_sha256[:12]}", code="replayed",
                             message="this v1 signature was already used with other media; a v1 signature "
                                     "does not cover the media, so it is not accepted with other bytes "
                                     "(sign again, or use skyfleet signatures)")

    def _remember_v1_mac(self, state: AuthState, media_sha256: str) -> None:
        """Check this MAC against its record (a retry of the identical request passes), or add the
        record of a first-seen MAC to the session: it commits with the request's write (`settle`)."""
        seen = self._seen_v1_mac(state)
        if seen is not None:
            self._check_v1_mac(state, seen, media_sha256)
            return
        state.pending_mac = SyncV1Mac(user_id=state.user.id, mac=v1_mac_id(state.signature), method=state.method,
                                      media_sha256=media_sha256, seen_at=self._now_utc())
        self.session.add(state.pending_mac)

    def settle(self, state: AuthState, *, failed: bool) -> None:
        """Make a first-seen v1 MAC's record durable if the request's own commit did not: after a
        request that wrote nothing, or (`failed`) one whose transaction is rolled back here.  If
        another connection recorded the same MAC a moment ago, this request is checked against that
        record (AuthFailed, replayed, for other media or another method).  Then, once a minute, the
        records older than their window go (in a transaction of their own, after the request's)."""
        pending = state.pending_mac
        state.pending_mac = None
        if pending is not None:
            if failed:
                self.session.rollback()
            if not inspect(pending).persistent:  # not committed with the request's write
                self.session.add(pending)
                try:
                    self.session.commit()
                except IntegrityError:
                    self.session.rollback()
                    self._check_v1_mac(state, self._seen_v1_mac(state), pending.media_sha256)
        if state.scheme == "v1" and self.sweeps.due("sync_v1_mac"):
            self.session.rollback()
            self.session.execute(delete(SyncV1Mac).where(
                SyncV1Mac.seen_at < self._now_utc() - dt.timedelta(seconds=self.v1_mac_ttl)))
            self.session.commit()
