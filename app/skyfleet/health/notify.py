"""Telling the operator: e-mail (smtplib: STARTTLS, TLS or plain, optional login) and a JSON webhook.

A notice goes to every configured channel; `Notifier.send` raises NotifyError naming the channels that
failed (the caller retries the notice at the next check).  Passwords and tokens are read from their
files at each send and never logged or put in an error message.
"""
from __future__ import annotations

import json
import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

import requests

from .alerts import FIRING, Notice
from .collect import iso
from .config import AlertSettings

log = logging.getLogger(__name__)


class NotifyError(RuntimeError):
    """One or more channels did not take a notice; the message says which and why (never a secret)."""


def _secret(path: str, what: str) -> str:
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise NotifyError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not value:
        raise NotifyError(f"{what} {path} is empty")
    return value


def _where(url: str) -> str:
    """Host and port of a URL: webhook URLs often carry a secret in their path, which is never logged."""
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname}" + (f":{parsed.port}" if parsed.port else "")


def payload(notice: Notice) -> dict:
    return {"alert": notice.alert, "subject": notice.subject, "state": notice.state, "message": notice.message,
            "since": iso(notice.since), "host": notice.host}


class Notifier:
    def __init__(self, cfg: AlertSettings, host: Optional[str] = None):
        self.cfg = cfg
        self.host = host or socket.gethostname()

    @property
    def channels(self) -> tuple:
        return self.cfg.channels

    def send(self, notice: Notice) -> None:
        errors = []
        for channel, fn in (("email", self.send_email), ("webhook", self.send_webhook)):
            if channel not in self.channels:
                continue
            try:
                fn(notice)
            except (NotifyError, OSError, smtplib.SMTPException, requests.RequestException, ssl.SSLError) as exc:
                reason = str(exc) or type(exc).__name__
                log.warning("alert %s %s (%s): %s notification failed: %s", notice.alert, notice.subject,
                            notice.state, channel, reason)
                errors.append(f"{channel}: {reason}")
        if errors:
            raise NotifyError("; ".join(errors))

    def email_message(self, notice: Notice) -> EmailMessage:
        cfg = self.cfg
        msg = EmailMessage()
        label = "FIRING" if notice.state == FIRING else "RESOLVED"
        msg["Subject"] = f"[skyfleet {self.host}] {label} {notice.alert}: {notice.subject}"
        msg["From"] = cfg.email_from or f"skyfleet@{self.host}"
        msg["To"] = ", ".join(cfg.email_to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.host if "." in self.host else None)
        msg.set_content(
            f"{notice.message}\n\n"
            f"alert:   {notice.alert}\nsubject: {notice.subject}\nstate:   {notice.state}\n"
            f"since:   {iso(notice.since) or '-'}\nhost:    {notice.host}\n")
        return msg

    def send_email(self, notice: Notice) -> None:
        cfg = self.cfg
        msg = self.email_message(notice)
        context = ssl.create_default_context()
        if cfg.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_seconds)
        with smtp:
            if cfg.smtp_security == "starttls":
                smtp.starttls(context=context)
            if cfg.smtp_username:
                password = _secret(cfg.smtp_password_file, "alerts.smtp_password_file") \
                    if cfg.smtp_password_file else ""
                try:
                    smtp.login(cfg.smtp_username, password)
                except smtplib.SMTPAuthenticationError as exc:
                    raise NotifyError(f"SMTP login as {cfg.smtp_username!r} refused ({exc.smtp_code})") from None
            refused = smtp.send_message(msg)
        if refused:
            raise NotifyError(f"SMTP server refused {', '.join(sorted(refused))}")

    def send_webhook(self, notice: Notice) -> None:
        cfg = self.cfg
        headers = {"Content-Type": "application/json", "User-Agent": "skyfleet-alerts"}
        if cfg.webhook_token_file:
            headers["Authorization"] = "Bearer " + _secret(cfg.webhook_token_file, "alerts.webhook_token_file")
        try:
            resp = requests.post(cfg.webhook_url, data=json.dumps(payload(notice)), headers=headers,
                                 timeout=cfg.timeout_seconds, allow_redirects=False)
        except requests.RequestException as exc:
            raise NotifyError(f"webhook at {_where(cfg.webhook_url)} unreachable: {type(exc).__name__}") from None
        if not 200 <= resp.status_code < 300:
            raise NotifyError(f"webhook at {_where(cfg.webhook_url)} answered HTTP {resp.status_code}")
