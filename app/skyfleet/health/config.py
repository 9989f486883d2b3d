"""The [health] and [alerts] settings tables.

    [health]
    metrics_token_file = ""       # file with the bearer token for non-loopback /metrics clients ("": loopback only)
    certificate_file = ""         # PEM TLS certificate whose days left are reported ("": none)
    camera_silent_minutes = 30    # a camera without a frame this long is silent (24 h for night-only cameras)
    queue_stalled_minutes = 60    # jobs waiting this long without a successful upload: stalled
    certificate_warn_days = 21
    textfile = ""                 # `skyfleet health check` writes the metrics here (node_exporter textfile)

    [alerts]
    webhook_url = ""              # JSON POST per notice
    webhook_token_file = ""       # optional: sent as Authorization: Bearer <token>
    email_to = []
    email_from = ""               # "": skyfleet@<hostname>
    smtp_host = ""
    smtp_port = 25
    smtp_security = "starttls"    # starttls, tls or none
    smtp_username = ""
    smtp_password_file = ""
    timeout_seconds = 10
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlparse

SMTP_SECURITY = ("starttls", "tls", "none")


class HealthConfigError(ValueError):
    """A bad [health] or [alerts] value; the message names the key."""


@dataclass(frozen=True)
class HealthSettings:
    metrics_token_file: str = ""
    certificate_file: str = ""
    camera_silent_minutes: int = 30
    queue_stalled_minutes: int = 60
    certificate_warn_days: int = 21
    textfile: str = ""

    def load_token(self) -> Optional[str]:
        """The metrics bearer token; None when none is configured. Raises OSError when the file is unreadable."""
        if not self.metrics_token_file:
            return None
        token = Path(self.metrics_token_file).read_text().strip()
        if not token:
            raise OSError(f"{self.metrics_token_file} is empty")
        return token


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str = ""
    webhook_token_file: str = ""
    email_to: tuple = ()
    email_from: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password_file: str = ""
    timeout_seconds: float = 10.0

    @property
    def channels(self) -> tuple:
        """The configured notification channels: "email", "webhook"."""
        return tuple(name for name, on in (("email", bool(self.email_to)), ("webhook", bool(self.webhook_url)))
                     if on)


def _check_keys(section: str, raw: Mapping[str, Any], cls: type) -> dict:
    known = {f.name: f.default for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise HealthConfigError(f"{section}.{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")
    return known


def _string(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise HealthConfigError(f"{where} must be a string, got {value!r}")
    return value


def _whole(where: str, value: Any, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise HealthConfigError(f"{where} must be a whole number from {minimum} to {maximum}, got {value!r}")
    return value


def health_from_table(raw: Optional[Mapping[str, Any]]) -> HealthSettings:
    raw = dict(raw or {})
    _check_keys("health", raw, HealthSettings)
    values: dict = {}
    for key in ("metrics_token_file", "certificate_file", "textfile"):
        if key in raw:
            values[key] = _string(f"health.{key}", raw[key])
    for key, low, high in (("camera_silent_minutes", 1, 100000), ("queue_stalled_minutes", 1, 100000),
                           ("certificate_warn_days", 0, 3650)):
        if key in raw:
            values[key] = _whole(f"health.{key}", raw[key], low, high)
    if values.get("textfile") and not values["textfile"].startswith("/"):
        raise HealthConfigError(f"health.textfile must be an absolute path, got {values['textfile']!r}")
    return HealthSettings(**values)


def alerts_from_table(raw: Optional[Mapping[str, Any]]) -> AlertSettings:
    raw = dict(raw or {})
    _check_keys("alerts", raw, AlertSettings)
    values: dict = {}
    for key in ("webhook_url", "webhook_token_file", "email_from", "smtp_host", "smtp_username",
                "smtp_password_file", "smtp_security"):
        if key in raw:
            values[key] = _string(f"alerts.{key}", raw[key])
    if "email_to" in raw:
        to = raw["email_to"]
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to):
            raise HealthConfigError(f"alerts.email_to must be a list of e-mail addresses, got {raw['email_to']!r}")
        values["email_to"] = tuple(to)
    if "smtp_port" in raw:
        values["smtp_port"] = _whole("alerts.smtp_port", raw["smtp_port"], 1, 65535)
    if "timeout_seconds" in raw:
        t = raw["timeout_seconds"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 < t <= 600:
            raise HealthConfigError(f"alerts.timeout_seconds must be a number above 0 and at most 600, got {t!r}")
        values["timeout_seconds"] = float(t)
    cfg = AlertSettings(**values)
    if cfg.smtp_security not in SMTP_SECURITY:
        raise HealthConfigError(f"alerts.smtp_security must be one of {', '.join(SMTP_SECURITY)}, "
                                f"got {cfg.smtp_security!r}")
    if cfg.webhook_url:
        url = urlparse(cfg.webhook_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise HealthConfigError(f"alerts.webhook_url must be an http(s):// URL, got {cfg.webhook_url!r}")
    if cfg.email_to and not cfg.smtp_host:
        raise HealthConfigError("alerts.smtp_host is required when alerts.email_to is set")
    if cfg.email_from and "@" not in cfg.email_from:
        raise HealthConfigError(f"alerts.email_from must be an e-mail address, got {cfg.email_from!r}")
    if cfg.smtp_password_file and not cfg.smtp_username:
        raise HealthConfigError("alerts.smtp_username is required when alerts.smtp_password_file is set")
    return cfg
