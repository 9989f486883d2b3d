"""Login throttle: failed logins are counted per (user name, client) and per client within a window.

Counting per pair, not per account alone, means nobody can lock the admin out from another address;
the per-client limit stops one client from trying many names. A client is an IPv4 address or an IPv6
/64 (one host usually has a whole /64 to pick addresses from). The counts live in the database, so
every gunicorn worker sees the same ones.

Every attempt is written (and committed) before it is checked and before the password is: a row stays
when the password was wrong, goes when it was right or when the attempt had to wait. Because each
attempt counts the rows committed before its own check, N parallel guesses cannot all pass a check
that none of them has been counted in yet: at most the limit of them are tried.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Optional, Tuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import LoginFailure, utcnow
from ..settings import WebSettings

ADDRESS_LENGTH = 64  # the column


def client_key(address: str) -> str:
    """What the per-client count is kept under: an IPv4 address, or the /64 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:ADDRESS_LENGTH]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(((int(ip) >> 64) << 64, 64)))
    return str(ip)


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
                     now: Optional[dt.datetime] = None, exclude: Optional[int] = None) -> int:
        """0 when a login may be tried now, else the seconds until the oldest counted failure expires.
        `exclude`: the row of the attempt asking, which does not count against itself."""
        now = now or utcnow()
        since = now - self.window
        recent = select(LoginFailure.failed_at).where(LoginFailure.address == address,
                                                      LoginFailure.failed_at > since)
        if exclude is not None:
            recent = recent.where(LoginFailure.id != exclude)
        waits = []
        for query, limit in ((recent.where(LoginFailure.username == username), self.per_account),
                             (recent, self.per_address)):
            times = session.scalars(query.order_by(LoginFailure.failed_at.desc()).limit(limit)).all()
            if len(times) >= limit:
                waits.append((times[-1] + self.window - now).total_seconds())
        return max(1, int(max(waits)) + 1) if waits else 0

    def attempt(self, session: Session, username: str, address: str,
                now: Optional[dt.datetime] = None) -> Tuple[int, int]:
        """Record an attempt (committed), then check it: (its row id, seconds to wait or 0).
        After a wait call `waited`, after a wrong password nothing (the row is the failure), after a
        right one `succeeded`."""
        now = now or utcnow()
        session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - self.window))
        row = LoginFailure(username=username, address=address, failed_at=now)
        session.add(row)
        session.commit()
        return row.id, self.wait_seconds(session, username, address, now, exclude=row.id)

    def waited(self, session: Session, attempt_id: int) -> None:
        """The attempt was refused before its password was looked at: it is no failure."""
        session.execute(delete(LoginFailure).where(LoginFailure.id == attempt_id))

    def failed(self, session: Session, username: str, address: str, now: Optional[dt.datetime] = None) -> None:
        """Record a failure directly (what `attempt` leaves behind after a wrong password)."""
        now = now or utcnow()
        session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - self.window))
        session.add(LoginFailure(username=username, address=address, failed_at=now))

    def succeeded(self, session: Session, username: str, address: str) -> None:
        session.execute(delete(LoginFailure).where(LoginFailure.username == username,
                                                   LoginFailure.address == address))
