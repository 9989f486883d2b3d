"""Login throttle: failed logins are counted per (user name, address) and per address within a window.

Counting per pair, not per account alone, means nobody can lock the admin out from another address;
the per-address limit stops one address from trying many names. The counts live in the database,
so every gunicorn worker sees the same ones. Callers pass names and addresses that fit the columns
(the login form allows 64 characters, the view cuts the address to 64).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import LoginFailure, utcnow
from ..settings import WebSettings


@dataclass(frozen=True)
class Throttle:
    per_account: int
    per_address: int
    window: dt.timedelta

    @classmethod
    def from_settings(cls, web: WebSettings) -> Throttle:
        return cls(web.login_failures_per_account, web.login_failures_per_address,
                   dt.timedelta(minutes=web.login_throttle_minutes))

    def wait_seconds(self, session: Session, username: str, address: str,
                     now: Optional[dt.datetime] = None) -> int:
        """0 when a login may be tried now, else the seconds until the oldest counted failure expires."""
        now = now or utcnow()
        since = now - self.window
        recent = select(LoginFailure.failed_at).where(LoginFailure.address == address,
                                                      LoginFailure.failed_at > since)
        waits = []
        for query, limit in ((recent.where(LoginFailure.username == username), self.per_account),
                             (recent, self.per_address)):
            times = session.scalars(query.order_by(LoginFailure.failed_at.desc()).limit(limit)).all()
            if len(times) >= limit:
                waits.append((times[-1] + self.window - now).total_seconds())
        return max(1, int(max(waits)) + 1) if waits else 0

    def failed(self, session: Session, username: str, address: str, now: Optional[dt.datetime] = None) -> None:
        now = now or utcnow()
        session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - self.window))
        session.add(LoginFailure(username=username, address=address, failed_at=now))

    def succeeded(self, session: Session, username: str, address: str) -> None:
        session.execute(delete(LoginFailure).where(LoginFailure.username == username,
                                                   LoginFailure.address == address))
