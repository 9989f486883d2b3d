"""`skyfleet health show` and `skyfleet health check` through click's CliRunner, with SKYFLEET_CONFIG
pointing at a TOML file and the command's clock set to NOW."""
import json

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from skyfleet.cli import cli_group
from skyfleet.extensions import db
from tests.conftest import PG_URL

from .conftest import NOW, REMOTE, add_camera, add_image, add_job, free_port, health, minutes, to_toml


def test_show_on_a_healthy_host_exits_0(host):
    app = host()
    with app.app_context():
        add_image(add_camera("north"), NOW - minutes(3))
    result = health("show")
    assert result.exit_code == 0, result.output + result.stderr
    assert "camera north: last frame 3 min ago" in result.output
    assert "alert conditions: none" in result.output


def test_show_exits_1_when_an_alert_condition_holds_and_says_which(host):
    app = host(upload={"remotes": [REMOTE]})
    with app.app_context():
        cam = add_camera("north")
        add_image(cam, NOW - minutes(3))
        add_job(cam, add_image(cam, NOW - minutes(100)), "pending", NOW - minutes(100))
    result = health("show", "--json")
    assert result.exit_code == 1, result.output + result.stderr
    doc = json.loads(result.output)
    assert doc["healthy"] is False and doc["tier"] == "camera"
    assert doc["remotes"][0]["depth"] == 1 and doc["remotes"][0]["stalled"] is True
    assert [c["alert"] for c in doc["conditions"]] == ["queue_stalled"]
    assert doc["cameras"][0]["age_seconds"] == 180
    text = health("show")
    assert text.exit_code == 1 and "remote web1: 1 waiting" in text.output and "STALLED" in text.output


def test_check_mails_once_and_writes_the_textfile(host, smtp_server, tmp_path):
    textfile = tmp_path / "node" / "skyfleet.prom"
    textfile.parent.mkdir()
    app = host(health={"textfile": str(textfile)},
               alerts={"email_to": ["op@example.org"], "smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                       "smtp_security": "none"})
    with app.app_context():
        add_image(add_camera("north"), NOW - minutes(40))
    result = health("check")
    assert result.exit_code == 0, result.output + result.stderr
    assert "sent firing camera_silent north" in result.output
    assert health("check").exit_code == 0
    assert len(smtp_server.inbox.messages) == 1
    samples = {(s.name, tuple(s.labels.items())): s.value
               for fam in text_string_to_metric_families(textfile.read_text()) for s in fam.samples}
    assert samples[("skyfleet_camera_last_frame_age_seconds", (("camera", "north"),))] == 2400
    assert samples[("skyfleet_alert_active", (("alert", "camera_silent"), ("subject", "north")))] == 1
    assert [p.name for p in textfile.parent.iterdir()] == ["skyfleet.prom"]  # no temporary file left


def test_check_exits_1_when_the_webhook_is_down_and_0_once_it_went_out(host):
    from .conftest import Webhook
    port = free_port()
    app = host(alerts={"webhook_url": f"http://127.0.0.1:{port}/hook", "timeout_seconds": 2})
    with app.app_context():
        add_image(add_camera("north"), NOW - minutes(40))
    down = health("check")
    assert down.exit_code == 1 and "not sent firing camera_silent north" in down.stderr
    hook = Webhook(port)
    try:
        assert health("check").exit_code == 0
        assert health("check").exit_code == 0
        assert len(hook.requests) == 1
    finally:
        hook.stop()
    with app.app_context():
        assert db.session.execute(db.text("SELECT count(*) FROM alert_state")).scalar() == 1


@pytest.mark.parametrize("table, key", [({"health": {"camera_silent_minutes": 0}}, "health.camera_silent_minutes"),
                                        ({"alerts": {"smtp_security": "ssl"}}, "alerts.smtp_security")])
def test_bad_settings_exit_2_naming_the_key(tmp_path, monkeypatch, table, key):
    path = tmp_path / "skyfleet.toml"
    path.write_text(to_toml({"data_dir": str(tmp_path / "data"), **table}))
    monkeypatch.setenv("SKYFLEET_CONFIG", str(path))
    for command in ("show", "check"):
        result = health(command)
        assert result.exit_code == 2 and key in result.stderr


def test_health_is_listed_in_the_operator_command(host):
    result = CliRunner().invoke(cli_group, ["--help"])
    assert "health" in result.output


@pytest.mark.skipif(bool(PG_URL), reason="the refusal is SQLite's (tests/health/test_fleet_alerts.py: PostgreSQL)")
def test_forget_host_on_a_database_of_one_host_is_refused(host):
    host()
    result = health("forget-host", "web1")
    assert result.exit_code == 2
    assert "this host's database is SQLite, its own" in result.stderr
