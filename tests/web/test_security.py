"""Security headers, strict CSP without inline code, CSRF, and no resource from another host."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import skyfleet.web
from tests.helpers import metadata as mdh
from tests.helpers.storage import storage_root

from .conftest import csrf_token, upload_night

STATIC = Path(skyfleet.web.__file__).parent / "static"
TEMPLATES = Path(skyfleet.web.__file__).parent / "templates"
EXTERNAL_RE = re.compile(rb"https?://(?!localhost[:/\"']|127\.0\.0\.1[:/\"'])", re.I)
PROTOCOL_RELATIVE_RE = re.compile(rb"""(?:src|href|action|poster)\s*=\s*["']?//""", re.I)


def site_pages(client, night) -> list:
    return ["/", "/api/now", "/cameras", "/camera/1", "/camera/1/nights", "/camera/1/night/2024-12-31",
            "/camera/1/night/2024-12-31/charts", f"/camera/1/image/{night.images[1]}", "/login",
            "/admin/", "/admin/users", "/no/such/page"]


@pytest.fixture
def crawled(admin_client, sender, camera):
    night = upload_night(sender)
    pages = {url: admin_client.get(url) for url in site_pages(admin_client, night)}
    token = csrf_token(admin_client, "/admin/users")
    pages["POST apikey"] = admin_client.post("/admin/users/1/apikey", data={"csrf_token": token})
    pages["media"] = admin_client.get(night.products["video"][1])
    return pages


def test_every_response_carries_the_security_headers(crawled, client):
    from tests.helpers.wire import Sender
    crawled["syncapi"] = Sender(client).send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext")
    for name, resp in crawled.items():
        h = resp.headers
        assert h["X-Content-Type-Options"] == "nosniff", name
        assert h["X-Frame-Options"] == "DENY", name
        assert h["Referrer-Policy"] == "same-origin", name
        csp = h["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, name


def test_pages_have_no_inline_script_style_or_event_handler(crawled):
    for name, resp in crawled.items():
        if not resp.content_type.startswith("text/html"):
            continue
        html = resp.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), name
        assert "<style" not in html and not re.search(r"\sstyle\s*=", html), name
        assert not re.search(r"\son[a-z]+\s*=", html), name


def test_no_rendered_page_refers_to_another_host(crawled):
    for name, resp in crawled.items():
        if resp.content_type.startswith(("text/", "application/json")):
            assert not EXTERNAL_RE.search(resp.data), (name, EXTERNAL_RE.search(resp.data))
            assert not PROTOCOL_RELATIVE_RE.search(resp.data), name


def test_no_static_file_or_template_refers_to_another_host():
    files = [p for p in list(STATIC.rglob("*")) + list(TEMPLATES.rglob("*")) if p.is_file()]
    assert any(p.suffix == ".css" for p in files) and any(p.suffix == ".js" for p in files)
    for path in files:
        data = path.read_bytes()
        assert not EXTERNAL_RE.search(data), path
        assert not PROTOCOL_RELATIVE_RE.search(data), path
        assert b"@import" not in data and b"fonts.g" not in data, path


def test_static_files_are_served_with_their_types(client):
    assert client.get("/static/css/skyfleet.css").content_type.startswith("text/css")
    assert "javascript" in client.get("/static/js/now.js").content_type
    assert client.get("/static/favicon.png").content_type == "image/png"


def test_admin_forms_without_csrf_token_are_rejected(admin_client):
    for url in ("/admin/users", "/admin/users/1/admin", "/admin/users/1/active", "/admin/users/1/apikey",
                "/admin/users/1/apikey/revoke", "/logout"):
        resp = admin_client.post(url, data={"username": "x", "admin": "1", "active": "0"})
        assert resp.status_code == 400, url


def test_session_cookie_is_httponly_and_samesite(app, client):
    from .conftest import ADMIN, ADMIN_PW, add_user, login
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    resp = login(client, ADMIN, ADMIN_PW)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_media_refuses_hidden_paths(app, client, night):
    root = storage_root(app)
    staged = root / ".staging" / "upload-in-progress.part"
    staged.parent.mkdir(exist_ok=True)
    staged.write_bytes(b"half of someone's upload")
    (root / "visible-copy.part").write_bytes(staged.read_bytes())
    assert client.get("/indi-allsky/images/visible-copy.part").status_code == 200  # the same bytes, not hidden
    refused = client.get("/indi-allsky/images/.staging/upload-in-progress.part")
    assert refused.status_code == 404 and staged.read_bytes() not in refused.data


@pytest.mark.parametrize("path", ["../secret.key", "%2e%2e/secret.key", "ccd_x/../../secret.key"])
def test_media_refuses_paths_out_of_storage(app, client, night, path):
    secret = app.extensions["skyfleet"].settings.secret_key_file
    assert secret.is_file() and secret.parent == storage_root(app).parent  # a working traversal would serve it
    refused = client.get(f"/indi-allsky/images/{path}")
    assert refused.status_code == 404 and secret.read_bytes().strip() not in refused.data
