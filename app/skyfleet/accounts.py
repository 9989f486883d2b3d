"""Users, passwords, admin rights and API keys (used by the CLI and, later, the admin pages)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from . import apikeys
from .apikeys import KeyBox
from .core.signing import USERNAME_RE
from .models import User, utcnow

MIN_PASSWORD_LENGTH = 8


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


def set_password(user: User, password: str) -> None:
    check_password(password)
    user.password_hash = generate_password_hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def verify_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


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
