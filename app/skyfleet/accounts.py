"""Users, passwords, admin rights, API keys and web login sessions (used by the CLI and the web app)."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Optional, Tuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session
from werkzeug.security import check_password_hash, generate_password_hash

from . import apikeys
from .apikeys import KeyBox
from .core.signing import USERNAME_RE
from .models import LoginSession, User, utcnow

MIN_PASSWORD_LENGTH = 8
# OWASP Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1, or one of its equivalents that trade memory
# for parallelism. N=2^14 (16 MiB), r=8, p=5 costs the same CPU time with an eighth of the memory, so eight
# concurrent logins on a Raspberry Pi need 128 MiB, not 1 GiB.
PRODUCTION_PASSWORD_HASH = "scrypt:16384:8:5"
# What new hashes use; the tests lower it (tests/web/conftest.py), never a deployment.
PASSWORD_HASH_METHOD = PRODUCTION_PASSWORD_HASH


class AccountError(ValueError):
    pass


def get(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"no user named {username!r}")
    return user


def add(session: Session, username: str, password: str, *, admin: bool = False) -> User:
    if not USERNAME_RE.match(username):
        raise AccountError("a username is 1-64 characters of A-Z a-z 0-9 _ @ . - (no spaces or ':')")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} already exists")
    user = User(username=username, is_admin=admin, is_active=True)
    set_password(user, password)
    session.add(user)
    return user


def password_hash_method() -> str:
    return PASSWORD_HASH_METHOD


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=password_hash_method())


def set_password(user: User, password: str) -> None:
    """A new password ends every web session of the user."""
    check_password(password)
    user.password_hash = hash_password(password)
    end_sessions(user)


def set_active(user: User, active: bool) -> None:
    """Deactivating a user ends every web session of theirs (activating again does not revive them)."""
    user.is_active = active
    if not active:
        end_sessions(user)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def verify_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def needs_rehash(user: User) -> bool:
    """The stored hash was made with other parameters (older, weaker defaults)."""
    return user.password_hash.partition("$")[0] != password_hash_method()


def rehash(user: User, password: str) -> None:
    """After a successful login: the same password under the current method (sessions stay)."""
    user.password_hash = hash_password(password)


def set_api_key(user: User, key: str, keybox: KeyBox) -> bool:
    """Store `key` for the user; returns False (and changes nothing) when it is already the key."""
    key = apikeys.validate(key)
    if user.api_key_encrypted and user.api_key_fingerprint == apikeys.fingerprint(key):
        if keybox.open(user.api_key_encrypted) == key:
            return False
    user.api_key_encrypted = keybox.seal(key)
    user.api_key_fingerprint = apikeys.fingerprint(key)
    user.api_key_created_at = utcnow()
    return True


def revoke_api_key(user: User) -> bool:
    changed = user.api_key_encrypted is not None
    user.api_key_encrypted = user.api_key_fingerprint = user.api_key_created_at = None
    return changed


# --- web login sessions: the cookie carries a random token, the table only its sha256 ---------------------

TOKEN_MAX_LENGTH = 128


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def start_session(session: Session, user: User, idle: dt.timedelta, now: Optional[dt.datetime] = None) -> str:
    """A new login session for `user`; returns the token for the cookie. Prunes idle sessions of everyone."""
    now = now or utcnow()
    session.execute(delete(LoginSession).where(LoginSession.last_seen_at < now - idle))
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(user_id=user.id, token_sha256=_digest(token), created_at=now, last_seen_at=now))
    return token


def find_session(session: Session, token: object, idle: dt.timedelta,
                 now: Optional[dt.datetime] = None) -> Optional[Tuple[LoginSession, User]]:
    """The live session of `token` and its active user, else None; an idle or orphaned row is deleted
    (the caller commits)."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    now = now or utcnow()
    row = session.scalar(select(LoginSession).where(LoginSession.token_sha256 == _digest(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active or row.last_seen_at < now - idle:
        session.delete(row)
        return None
    return row, user


def end_session(session: Session, token: object) -> None:
    if isinstance(token, str) and token and len(token) <= TOKEN_MAX_LENGTH:
        session.execute(delete(LoginSession).where(LoginSession.token_sha256 == _digest(token)))


def end_sessions(user: User) -> int:
    """Delete every login session of `user` (in the session the user is loaded in); returns how many."""
    session = object_session(user)
    if session is None or user.id is None:
        return 0
    return session.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount or 0
