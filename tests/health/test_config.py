"""[health] and [alerts]: defaults, and every bad value stops with the key's name."""
import pytest

from skyfleet.health.config import (
    AlertSettings,
    HealthConfigError,
    HealthSettings,
    alerts_from_table,
    health_from_table,
)


def test_empty_tables_give_the_defaults():
    assert health_from_table({}) == HealthSettings()
    assert health_from_table(None).camera_silent_minutes == 30
    cfg = alerts_from_table({})
    assert cfg == AlertSettings() and cfg.channels == () and cfg.smtp_security == "starttls"


def test_every_key_is_read():
    h = health_from_table({"metrics_token_file": "/etc/skyfleet/metrics.token", "certificate_file": "/c.pem",
                           "camera_silent_minutes": 45, "queue_stalled_minutes": 90, "certificate_warn_days": 14,
                           "textfile": "/var/lib/node_exporter/skyfleet.prom"})
    assert (h.camera_silent_minutes, h.queue_stalled_minutes, h.certificate_warn_days) == (45, 90, 14)
    a = alerts_from_table({"webhook_url": "https://hooks.example/x", "webhook_token_file": "/t",
                           "email_to": ["a@example.org", "b@example.org"], "email_from": "cam@example.org",
                           "smtp_host": "mail.example.org", "smtp_port": 587, "smtp_security": "tls",
                           "smtp_username": "u", "smtp_password_file": "/p", "timeout_seconds": 5})
    assert a.email_to == ("a@example.org", "b@example.org") and a.timeout_seconds == 5.0
    assert a.channels == ("email", "webhook")


@pytest.mark.parametrize("table, key", [
    ({"camera_silent_minute": 30}, "health.camera_silent_minute"),
    ({"camera_silent_minutes": 0}, "health.camera_silent_minutes"),
    ({"camera_silent_minutes": "30"}, "health.camera_silent_minutes"),
    ({"queue_stalled_minutes": True}, "health.queue_stalled_minutes"),
    ({"certificate_warn_days": -1}, "health.certificate_warn_days"),
    ({"metrics_token_file": 3}, "health.metrics_token_file"),
    ({"textfile": "relative.prom"}, "health.textfile"),
])
def test_bad_health_values_name_the_key(table, key):
    with pytest.raises(HealthConfigError, match=key.replace(".", r"\.")):
        health_from_table(table)


@pytest.mark.parametrize("table, key", [
    ({"webhook": "https://x"}, "alerts.webhook"),
    ({"webhook_url": "ftp://x/y"}, "alerts.webhook_url"),
    ({"email_to": ["not an address"], "smtp_host": "m"}, "alerts.email_to"),
    ({"email_to": ["a@example.org"]}, "alerts.smtp_host"),
    ({"smtp_port": 70000}, "alerts.smtp_port"),
    ({"smtp_security": "ssl"}, "alerts.smtp_security"),
    ({"timeout_seconds": 0}, "alerts.timeout_seconds"),
    ({"email_from": "nobody"}, "alerts.email_from"),
    ({"smtp_password_file": "/p"}, "alerts.smtp_username"),
])
def test_bad_alert_values_name_the_key(table, key):
    with pytest.raises(HealthConfigError, match=key.replace(".", r"\.")):
        alerts_from_table(table)


def test_a_typo_in_health_stops_the_web_app(app_factory):
    from skyfleet.settings import SettingsError
    with pytest.raises(SettingsError, match=r"health\.camera_silent_minutez"):
        app_factory(health={"camera_silent_minutez": 3})
