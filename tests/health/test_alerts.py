"""Alerts: each incident announced once when it starts and once when it ends, through a real SMTP
server and a real webhook receiver; a failed notice is retried at the next check and sent once."""
import datetime as dt

import pytest

from skyfleet.extensions import db
from skyfleet.health import alerts
from skyfleet.health.config import alerts_from_table
from skyfleet.health.notify import Notifier
from skyfleet.housekeeping.policy import from_table as retention_from_table
from skyfleet.models import AlertState

from .certs import write_certificate
from .conftest import (
    HOST,
    NOW,
    SMTP_PASSWORD,
    SMTP_USER,
    Webhook,
    add_camera,
    add_image,
    add_job,
    add_prune,
    free_port,
    minutes,
    snapshot,
)

HOOK_TOKEN = "hook-token-abcdef"


def run(app, notifier, now, retention=None, **health):
    return alerts.check(db.session, snapshot(app, now, retention, **health), notifier.send, now)


def mailer(server, **extra) -> Notifier:
    return Notifier(alerts_from_table({"email_to": ["operator@example.org"], "smtp_host": "127.0.0.1",
                                       "smtp_port": server.port, "smtp_security": "none", **extra}), HOST)


def hooker(url, **extra) -> Notifier:
    return Notifier(alerts_from_table({"webhook_url": url, "timeout_seconds": 2, **extra}), HOST)


def test_a_silent_camera_gets_one_mail_when_it_starts_and_one_when_it_ends(remote_host, smtp_server):
    cam = add_camera("north")
    add_image(cam, NOW - minutes(45))
    notifier, inbox = mailer(smtp_server), smtp_server.inbox.messages
    first = run(remote_host, notifier, NOW)
    assert [(n.alert, n.subject, n.state) for n in first.sent] == [("camera_silent", "north", "firing")]
    for later in (5, 10, 15):
        assert run(remote_host, notifier, NOW + minutes(later)).sent == []
    assert len(inbox) == 1
    mail = inbox[0]
    assert mail["Subject"] == "[skyfleet testhost] FIRING camera_silent: north"
    assert mail["To"] == "operator@example.org" and mail["From"] == "skyfleet@testhost"
    body = mail.get_content()
    assert "Camera 'north' is silent" in body and "2026-06-01 11:15 UTC" in body and "skyfleet-capture" in body

    add_image(cam, NOW + minutes(18))
    back = run(remote_host, notifier, NOW + minutes(20))
    assert [(n.alert, n.state) for n in back.sent] == [("camera_silent", "resolved")]
    assert run(remote_host, notifier, NOW + minutes(25)).sent == []
    assert len(inbox) == 2
    assert inbox[1]["Subject"] == "[skyfleet testhost] RESOLVED camera_silent: north"
    assert "sending frames again" in inbox[1].get_content()
    row = db.session.query(AlertState).filter_by(name="camera_silent", subject="north").one()
    assert not row.active and row.notified_at == NOW + minutes(20)


def test_a_new_incident_after_a_recovery_is_announced_again(remote_host, smtp_server):
    cam = add_camera("north")
    add_image(cam, NOW - minutes(45))
    notifier = mailer(smtp_server)
    run(remote_host, notifier, NOW)
    add_image(cam, NOW + minutes(1))
    run(remote_host, notifier, NOW + minutes(5))
    run(remote_host, notifier, NOW + minutes(40))  # silent again
    assert [m["Subject"].split()[2] for m in smtp_server.inbox.messages] == ["FIRING", "RESOLVED", "FIRING"]


def test_mail_with_login_and_the_password_from_its_file(remote_host, smtp_server, tmp_path):
    secret = tmp_path / "smtp.password"
    secret.write_text(SMTP_PASSWORD + "\n")
    add_image(add_camera("north"), NOW - minutes(45))
    ok = run(remote_host, mailer(smtp_server, smtp_username=SMTP_USER, smtp_password_file=str(secret)), NOW)
    assert len(ok.sent) == 1 and len(smtp_server.inbox.messages) == 1


def test_a_refused_smtp_login_is_retried_and_names_no_password(remote_host, smtp_server, tmp_path):
    secret = tmp_path / "smtp.password"
    secret.write_text("wrong password 99")
    add_image(add_camera("north"), NOW - minutes(45))
    # (aiosmtpd answers PLAIN with 535, then lets smtplib's LOGIN attempt time out: either is a failure)
    result = run(remote_host, mailer(smtp_server, smtp_username=SMTP_USER, smtp_password_file=str(secret),
                                     timeout_seconds=1), NOW)
    assert result.sent == [] and len(result.failed) == 1
    assert result.failed[0][1].startswith("email: ") and "wrong password" not in result.failed[0][1]
    secret.write_text(SMTP_PASSWORD)
    again = run(remote_host, mailer(smtp_server, smtp_username=SMTP_USER, smtp_password_file=str(secret)),
                NOW + minutes(5))
    assert len(again.sent) == 1 and len(smtp_server.inbox.messages) == 1


def test_the_webhook_gets_the_json_notice_with_the_bearer_token(remote_host, webhook, tmp_path):
    token = tmp_path / "hook.token"
    token.write_text(HOOK_TOKEN + "\n")
    huge = retention_from_table({"floor_mb": 10**9, "emergency_floor_mb": 10**9})
    result = run(remote_host, hooker(webhook.url, webhook_token_file=str(token)), NOW, retention=huge)
    assert len(result.sent) == 1
    [req] = webhook.requests
    assert req["headers"]["Authorization"] == f"Bearer {HOOK_TOKEN}"
    assert req["headers"]["Content-Type"] == "application/json"
    body = req["json"]
    assert set(body) == {"alert", "subject", "state", "message", "since", "host"}
    assert body["alert"] == "disk_floor" and body["state"] == "firing" and body["host"] == HOST
    assert body["since"] == "2026-06-01T12:00:00Z"
    assert body["subject"] == str(snapshot(remote_host).disk.path)
    assert "below the EMERGENCY floor" in body["message"]
    run(remote_host, hooker(webhook.url, webhook_token_file=str(token)), NOW + minutes(5))  # floor back to normal
    assert [r["json"]["state"] for r in webhook.requests] == ["firing", "resolved"]


def test_a_webhook_answering_500_is_retried_at_the_next_check_and_sent_once(remote_host, webhook):
    add_image(add_camera("north"), NOW - minutes(45))
    notifier = hooker(webhook.url)
    webhook.status = 500
    failed = run(remote_host, notifier, NOW)
    assert failed.sent == [] and "HTTP 500" in failed.failed[0][1]
    assert "secret-path" not in failed.failed[0][1]  # webhook URLs often carry a secret
    webhook.status = 204
    sent = run(remote_host, notifier, NOW + minutes(5))
    assert [(n.alert, n.state) for n in sent.sent] == [("camera_silent", "firing")]
    assert run(remote_host, notifier, NOW + minutes(10)).sent == []
    assert [r["json"]["state"] for r in webhook.requests] == ["firing", "firing"]  # the 500 one, then the good one


def test_a_webhook_that_is_down_gets_the_notice_when_it_is_back(remote_host):
    port = free_port()
    add_image(add_camera("north"), NOW - minutes(45))
    notifier = hooker(f"http://127.0.0.1:{port}/hook")
    down = run(remote_host, notifier, NOW)
    assert down.sent == [] and "unreachable" in down.failed[0][1]
    assert run(remote_host, notifier, NOW + minutes(5)).failed  # still down: still pending
    hook = Webhook(port)
    try:
        back = run(remote_host, notifier, NOW + minutes(10))
        assert len(back.sent) == 1 and back.failed == []
        assert run(remote_host, notifier, NOW + minutes(15)).sent == []
        assert len(hook.requests) == 1 and hook.requests[0]["json"]["since"] == "2026-06-01T11:15:00Z"
    finally:
        hook.stop()


def test_an_incident_over_before_its_notice_went_out_gets_only_the_recovery(remote_host, webhook):
    cam = add_camera("north")
    add_image(cam, NOW - minutes(45))
    notifier = hooker(webhook.url)
    webhook.status = 500
    run(remote_host, notifier, NOW)
    add_image(cam, NOW + minutes(2))
    webhook.status = 200
    webhook.requests.clear()
    run(remote_host, notifier, NOW + minutes(5))
    assert [r["json"]["state"] for r in webhook.requests] == ["resolved"]
    assert "11:15 UTC" in webhook.requests[0]["json"]["message"]


def test_a_stalled_queue_is_announced(camera_host, webhook):
    cam = add_camera("north")
    add_image(cam, NOW - minutes(1))
    add_job(cam, add_image(cam, NOW - minutes(90)), "pending", NOW - minutes(90))
    result = run(camera_host, hooker(webhook.url), NOW)
    assert [(n.alert, n.subject) for n in result.sent] == [("queue_stalled", "web1")]
    assert "1 job(s) waiting" in webhook.requests[0]["json"]["message"]


@pytest.mark.parametrize("days, alerted", [(10, True), (100, False)])
def test_certificate_expiry(remote_host, webhook, tmp_path, days, alerted):
    cert = write_certificate(tmp_path / "cert.pem", NOW + dt.timedelta(days=days))
    result = run(remote_host, hooker(webhook.url), NOW, certificate_file=str(cert))
    assert [n.alert for n in result.sent] == (["certificate_expiry"] if alerted else [])
    if alerted:
        assert "expires in 10 day(s)" in webhook.requests[0]["json"]["message"]


def test_an_unreadable_certificate_is_an_alert(remote_host, webhook, tmp_path):
    (tmp_path / "cert.pem").write_text("not a certificate")
    result = run(remote_host, hooker(webhook.url), NOW, certificate_file=str(tmp_path / "cert.pem"))
    assert [n.alert for n in result.sent] == ["certificate_expiry"]
    assert "not a PEM certificate" in result.sent[0].message


def test_undelivered_assets_dropped_are_announced_once_per_prune(remote_host, webhook):
    cam = add_camera("north", created=NOW)  # not silent within the test's 25 minutes
    add_prune(cam, "emergency", 10, undelivered=0, at=NOW - minutes(50))
    notifier = hooker(webhook.url)
    assert [n.alert for n in run(remote_host, notifier, NOW).sent] == []
    add_prune(cam, "emergency", 10, undelivered=4, at=NOW + minutes(1))
    first = run(remote_host, notifier, NOW + minutes(5))
    assert [(n.alert, n.state) for n in first.sent] == [("undelivered_dropped", "firing")]
    assert "4 asset(s) not yet delivered" in first.sent[0].message and "north" in first.sent[0].message
    assert run(remote_host, notifier, NOW + minutes(10)).sent == []
    webhook.status = 500
    add_prune(cam, "emergency", 3, undelivered=3, at=NOW + minutes(11))
    assert run(remote_host, notifier, NOW + minutes(15)).failed
    webhook.status = 200
    add_prune(cam, "emergency", 2, undelivered=2, at=NOW + minutes(16))
    again = run(remote_host, notifier, NOW + minutes(20))
    assert len(again.sent) == 1 and "5 asset(s)" in again.sent[0].message  # the failed one and the new one
    assert run(remote_host, notifier, NOW + minutes(25)).sent == []
    assert [r["json"]["alert"] for r in webhook.requests] == ["undelivered_dropped"] * 3


def test_without_a_channel_incidents_are_recorded(remote_host):
    add_image(add_camera("north"), NOW - minutes(45))
    result = run(remote_host, Notifier(alerts_from_table({}), HOST), NOW)
    assert len(result.sent) == 1
    row = db.session.query(AlertState).filter_by(name="camera_silent").one()
    assert row.active and row.since == NOW - minutes(45) and "north" in row.message
    assert snapshot(remote_host, NOW + minutes(1)).active_alerts == [("camera_silent", "north")]
