"""Health test fixtures: a database filled with cameras, frames, upload jobs and prunes of known ages,
a real SMTP server (aiosmtpd) and a real webhook receiver (http.server), all on 127.0.0.1.

Every time is relative to NOW, passed to the code under test as its clock: no wall clock, no sun."""
from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from skyfleet import health_cli
from skyfleet.cli import cli_group
from skyfleet.extensions import db, skyfleet_state
from skyfleet.health import collect
from skyfleet.health.config import HealthSettings
from skyfleet.models import Camera, Image, PruneEvent, UploadJob
from tests.conftest import app_config

NOW = dt.datetime(2026, 6, 1, 12, 0, 0)
HOST = "testhost"
REMOTE = {"name": "web1", "url": "https://remote.example/indi-allsky", "username": "cam", "api_key": "k" * 64}
SMTP_USER, SMTP_PASSWORD = "alerts", "smtp secret 1"


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def add_camera(name: str, created: dt.datetime = NOW - dt.timedelta(days=30), **data) -> int:
    cam = Camera(uuid=str(uuid.uuid4()), name=name, data=data, created_at=created)
    db.session.add(cam)
    db.session.commit()
    return cam.id


def add_image(camera_id: int, at: dt.datetime, size: int = 1000, night: bool = True) -> int:
    key = uuid.uuid4().hex
    img = Image(camera_id=camera_id, natural_key=key, create_date_utc=at, create_date=at, day_date=at.date(),
                night=night, filename=f"ccd_x/exposures/{key}.jpg", file_size=size)
    db.session.add(img)
    db.session.commit()
    return img.id


def add_job(camera_id: int, asset_id: int, state: str, sort_time: dt.datetime, remote: str = "web1",
            done_at: dt.datetime | None = None) -> None:
    db.session.add(UploadJob(remote=remote, action="asset", camera_id=camera_id, asset_id=asset_id, state=state,
                             sort_time=sort_time, done_at=done_at, next_attempt_at=sort_time))
    db.session.commit()


def add_prune(camera_id: int | None, reason: str, assets: int, size: int = 0, undelivered: int = 0,
              at: dt.datetime | None = None, day: dt.date = dt.date(2026, 5, 1)) -> None:
    at = at or NOW - minutes(30)
    db.session.add(PruneEvent(at=at, camera_id=camera_id, prune_class="night_frames", day_date=day, reason=reason,
                              assets=assets, bytes=size, undelivered=undelivered))
    db.session.commit()


def snapshot(app, now: dt.datetime = NOW, retention=None, **health) -> collect.Snapshot:
    """The snapshot at `now` (inside the app's context) with these [health] settings."""
    state = skyfleet_state(app)
    return collect.collect(db.session, state.settings, HealthSettings(**health), retention or state.retention,
                           now, host=HOST)


@pytest.fixture
def camera_host(app_factory):
    """An app whose settings have a remote: the camera tier."""
    app = app_factory(upload={"remotes": [REMOTE]})
    with app.app_context():
        yield app


@pytest.fixture
def remote_host(app):
    with app.app_context():
        yield app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER \
        and auth_data.password.decode() == SMTP_PASSWORD
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (plain, AUTH allowed without TLS); .inbox.messages, .port."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=_authenticate,
                            auth_require_tls=False)
    controller.start()
    controller.inbox = inbox
    yield controller
    controller.stop()


class Webhook:
    """A real HTTP server on 127.0.0.1 that records POSTs; `status` is what it answers."""

    def __init__(self, port: int = 0):
        self.requests = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.requests.append({"headers": dict(self.headers), "json": json.loads(body)})
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-path"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.stop()


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def to_toml(config: dict) -> str:
    lines = [f"{k} = {toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    for table, values in config.items():
        if not isinstance(values, dict):
            continue
        lines.append(f"[{table}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items() if not isinstance(v, list) or
                  not v or not isinstance(v[0], dict)]
        for k, v in values.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines.append(f"[[{table}.{k}]]")
                    lines += [f"{ik} = {toml_value(iv)}" for ik, iv in item.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def host(app_factory, tmp_path, monkeypatch):
    """host(**settings) -> the app (migrated database) whose settings file SKYFLEET_CONFIG names."""
    monkeypatch.setattr(health_cli, "clock", lambda: NOW)

    def make(**overrides):
        path = tmp_path / "skyfleet.toml"
        path.write_text(to_toml(app_config(tmp_path, **overrides)))
        monkeypatch.setenv("SKYFLEET_CONFIG", str(path))
        return app_factory(**overrides)

    return make


def health(*args):
    """`skyfleet health ARGS...` through click's CliRunner (SKYFLEET_CONFIG from the `host` fixture)."""
    return CliRunner(mix_stderr=False).invoke(cli_group, ["health", *args])
