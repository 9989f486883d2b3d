"""/healthz and /metrics: who may read them, what they say, and that no input gives a 5xx."""
import datetime as dt
import logging

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from skyfleet.extensions import db
from skyfleet.web import health as health_web

from .certs import write_certificate
from .conftest import NOW, add_camera, add_image, minutes

TOKEN = "metrics-token-0123456789abcdef"
FAR = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "metrics.token"
    path.write_text(TOKEN + "\n")
    return path


def at_now(app):
    app.extensions[health_web.STATE_KEY].clock = lambda: NOW
    return app


def values(resp) -> dict:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"] == CONTENT_TYPE_LATEST
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(resp.get_data(as_text=True)) for s in fam.samples}


def test_loopback_reads_metrics_with_values_from_the_database(app):
    at_now(app)
    with app.app_context():
        add_image(add_camera("north"), NOW - minutes(7))
    got = values(app.test_client().get("/metrics"))
    assert got[("skyfleet_camera_last_frame_age_seconds", (("camera", "north"),))] == 420
    assert got[("skyfleet_health_collect_success", ())] == 1


def test_ipv6_loopback_and_the_unix_socket_read_metrics(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": ""}).status_code == 200


def test_a_far_client_without_a_token_gets_401_with_a_bearer_challenge(client):
    resp = client.get("/metrics", environ_base=FAR)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "skyfleet_" not in resp.get_data(as_text=True)


def test_a_client_behind_the_trusted_proxy_is_not_loopback(app_factory, token_file):
    """The proxy connects from 127.0.0.1; ProxyFix makes remote_addr the real client."""
    app = app_factory(web={"trust_proxy_headers": True}, health={"metrics_token_file": str(token_file)})
    client = app.test_client()
    proxied = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}, "headers": {"X-Forwarded-For": "198.51.100.4"}}
    resp = client.get("/metrics", environ_base=proxied["environ_base"],
                      headers={**proxied["headers"], "Authorization": "Bearer wrong"})
    assert resp.status_code == 403 and resp.get_json() == {"error": "forbidden"}
    assert client.get("/metrics", **proxied).status_code == 401
    assert client.get("/metrics", environ_base=proxied["environ_base"],
                      headers={**proxied["headers"], "Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_forwarded_request_is_not_loopback_even_without_trusting_the_proxy(client):
    resp = client.get("/metrics", environ_base={"REMOTE_ADDR": ""}, headers={"X-Forwarded-For": "198.51.100.4"})
    assert resp.status_code == 401


def test_bearer_token_lets_a_far_client_read_metrics(app_factory, token_file):
    app = app_factory(health={"metrics_token_file": str(token_file)})
    client = app.test_client()
    assert client.get("/metrics", environ_base=FAR, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    resp = client.get("/metrics", environ_base=FAR, headers={"Authorization": f"Bearer {TOKEN}x"})
    assert resp.status_code == 403 and resp.get_json() == {"error": "forbidden"}
    assert client.get("/metrics", environ_base=FAR, headers={"Authorization": "Basic abc"}).status_code == 403


def test_without_a_token_file_a_token_is_refused(client):
    assert client.get("/metrics", environ_base=FAR, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403


@pytest.fixture
def missing_token_app(app_factory, tmp_path):
    """Made before the test runs: the migrations' logging set-up would drop caplog's handler."""
    return app_factory(health={"metrics_token_file": str(tmp_path / "gone.token")})


def test_a_missing_token_file_is_403_and_a_log_line_not_500(missing_token_app, tmp_path, caplog):
    missing, app = tmp_path / "gone.token", missing_token_app
    with caplog.at_level(logging.ERROR):
        resp = app.test_client().get("/metrics", environ_base=FAR, headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 403
    assert any(str(missing) in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("header", ["Bearer", "Bearer \u00e9t\u00e9", "bearer  spaced  ", "x" * 5000, "Bearer \x00"])
def test_odd_authorization_headers_never_give_a_5xx(app_factory, token_file, header):
    app = app_factory(health={"metrics_token_file": str(token_file)})
    for url in ("/metrics", "/healthz"):
        assert app.test_client().get(url, environ_base=FAR, headers={"Authorization": header}).status_code < 500


def test_healthz_is_ok_and_detailed_for_loopback(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["checks"]["disk"]["ok"] is True
    assert "free_bytes" in body["checks"]["disk"]


def test_healthz_tells_a_far_client_only_names_and_flags(app):
    at_now(app)
    with app.app_context():
        add_image(add_camera("secret-camera-name"), NOW - minutes(120))
    resp = app.test_client().get("/healthz", environ_base=FAR)
    assert resp.status_code == 503
    body = resp.get_json()
    assert body == {"status": "degraded", "checks": {"cameras": {"ok": False}, "disk": {"ok": True}}}
    detailed = app.test_client().get("/healthz").get_json()
    assert detailed["checks"]["cameras"]["silent"] == ["secret-camera-name"]


def test_healthz_with_a_valid_token_is_detailed(app_factory, token_file):
    app = app_factory(health={"metrics_token_file": str(token_file)})
    body = app.test_client().get("/healthz", environ_base=FAR, headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert "path" in body["checks"]["disk"]


def test_healthz_is_503_below_the_floor(app_factory):
    resp = app_factory(retention={"floor_mb": 10**9, "emergency_floor_mb": 10**9}).test_client().get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["checks"]["disk"]["ok"] is False


def test_certificate_days_left_in_metrics_and_healthz(app_factory, tmp_path):
    cert = write_certificate(tmp_path / "cert.pem", NOW + dt.timedelta(days=10))
    app = at_now(app_factory(health={"certificate_file": str(cert)}))
    got = values(app.test_client().get("/metrics"))
    assert got[("skyfleet_certificate_days_left", (("path", str(cert)),))] == 10
    body = app.test_client().get("/healthz").get_json()
    assert body["checks"]["certificate"] == {"ok": False, "days_left": 10.0}


def test_a_broken_database_gives_503_and_collect_success_0_not_500(app):
    with app.app_context():
        db.session.execute(db.text("DROP TABLE prune_event"))
        db.session.commit()
    client = app.test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["checks"] == {"database": {"ok": False}}
    assert values(client.get("/metrics"))[("skyfleet_health_collect_success", ())] == 0


def test_health_routes_are_open_on_a_private_site(app_factory):
    client = app_factory(web={"public": False}).test_client()
    assert client.get("/").status_code == 302  # pages need a login
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
