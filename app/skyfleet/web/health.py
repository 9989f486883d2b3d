"""`GET /healthz` and `GET /metrics`: for load balancers, Prometheus and the operator.

Both are open whatever `[web] public` says and need no login or form token (the blueprint has no
before_request gate).  Who sees what:

- /metrics: loopback clients (127.0.0.1, ::1, or the unix socket, whose address is empty) and clients
  sending `Authorization: Bearer <token>` with the token of `[health] metrics_token_file`; 401 with
  `WWW-Authenticate: Bearer` without a token, 403 with a wrong one (or when the token file is missing).
- /healthz: 200 {"status": "ok"} or 503 {"status": "degraded"} with each check's name and ok flag;
  details (cameras, remotes, paths, numbers) only for the same clients as /metrics.

Behind the proxy, ProxyFix (`trust_proxy_headers`) makes remote_addr the real client (the address the
proxy appended to X-Forwarded-For, which a client cannot forge): a client elsewhere is not loopback,
one on the web server itself is (it is local).  Without ProxyFix a forwarded request (X-Forwarded-For
or Forwarded) never counts as local.
"""
from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Callable, Optional

from flask import Blueprint, Flask, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..extensions import app_settings, db, skyfleet_state
from ..health import alerts, collect, metrics
from ..health.config import HealthSettings
from ..models import utcnow

bp = Blueprint("health", __name__)
STATE_KEY = "skyfleet.health"


@dataclass
class HealthWeb:
    settings: HealthSettings
    registry: CollectorRegistry
    clock: Callable = utcnow  # naive UTC; tests replace it


def init_app(app: Flask, health: HealthSettings) -> None:
    """Bind the [health] settings and a metrics registry of this app's own."""

    def snapshot() -> collect.Snapshot:
        return _snapshot(app)

    app.extensions[STATE_KEY] = HealthWeb(health, metrics.registry_for(snapshot))


def _state(app: Optional[Flask] = None) -> HealthWeb:
    return (app or current_app).extensions[STATE_KEY]


def _snapshot(app: Flask) -> collect.Snapshot:
    state = skyfleet_state(app)
    try:
        return collect.collect(db.session, state.settings, _state(app).settings, state.retention,
                               _state(app).clock())
    finally:
        db.session.rollback()


def is_loopback() -> bool:
    if not app_settings().web.trust_proxy_headers and (
            request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")):
        return False
    addr = request.remote_addr
    if not addr:
        return True  # the unix socket gunicorn listens on
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


def _bearer() -> Optional[str]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None if not header else ""
    return token.strip()


def token_ok(sent: Optional[str]) -> bool:
    if not sent:
        return False
    cfg = _state().settings
    if not cfg.metrics_token_file:
        return False
    try:
        expected = cfg.load_token()
    except (OSError, UnicodeDecodeError) as exc:
        current_app.logger.error("health.metrics_token_file: cannot read %s (%s): refusing /metrics with a token",
                                 cfg.metrics_token_file, getattr(exc, "strerror", None) or exc)
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/metrics")
def metrics_view():
    if not is_loopback():
        sent = _bearer()
        if sent is None:
            resp = jsonify(error="unauthorized", message="send Authorization: Bearer <token>")
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = 'Bearer realm="skyfleet metrics"'
            return _no_store(resp)
        if not token_ok(sent):
            return _no_store(jsonify(error="forbidden")), 403
    body = generate_latest(_state().registry)
    return _no_store(current_app.response_class(body, status=200, content_type=CONTENT_TYPE_LATEST))


def checks(snap: collect.Snapshot) -> dict:
    """Check name -> {"ok": ..., details}; the names are the alert rules that hold per subject."""
    holding = alerts.conditions(snap)
    failing: dict = {}
    for cond in holding:
        failing.setdefault(cond.name, []).append(cond.subject)
    out = {
        "cameras": {"ok": alerts.CAMERA_SILENT not in failing, "silent": failing.get(alerts.CAMERA_SILENT, []),
                    "count": len(snap.cameras)},
        "disk": {"ok": alerts.DISK_FLOOR not in failing,
                 **({"path": snap.disk.path, "free_bytes": snap.disk.free_bytes,
                     "floor_bytes": snap.disk.floor_bytes} if snap.disk else {})},
    }
    if snap.tier == collect.CAMERA_TIER:
        out["upload"] = {"ok": alerts.QUEUE_STALLED not in failing and not snap.errors,
                         "stalled": failing.get(alerts.QUEUE_STALLED, []), "errors": snap.errors,
                         "waiting": sum(r.depth for r in snap.remotes)}
    if snap.certificate is not None:
        out["certificate"] = {"ok": alerts.CERTIFICATE_EXPIRY not in failing,
                              "days_left": snap.certificate.days_left}
    return out


@bp.route("/healthz")
def healthz():
    detailed = is_loopback() or token_ok(_bearer())
    try:
        found = checks(_snapshot(current_app._get_current_object()))
    except Exception:  # noqa: BLE001 - a health check answers, whatever broke
        current_app.logger.exception("health snapshot failed")
        found = {"database": {"ok": False}}
    ok = all(c["ok"] for c in found.values())
    if not detailed:
        found = {name: {"ok": c["ok"]} for name, c in found.items()}
    resp = jsonify(status="ok" if ok else "degraded", checks=found)
    resp.status_code = 200 if ok else 503
    return _no_store(resp)
