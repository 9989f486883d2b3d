"""Who sees what: `[web] public`, login, logout, admin-only pages, sessions."""
from __future__ import annotations

from skyfleet import accounts
from skyfleet.extensions import db
from skyfleet.models import User
from tests.helpers import metadata as mdh
from tests.helpers.wire import Sender

from .conftest import ADMIN, ADMIN_PW, VIEWER, VIEWER_PW, add_user, csrf_token, login

VIEW_PAGES = ("/", "/cameras", "/camera/1", "/camera/1/nights", "/camera/1/night/2024-12-31",
              "/camera/1/night/2024-12-31/charts")
ADMIN_PAGES = ("/admin/", "/admin/users")


def test_public_site_shows_pages_and_media_without_login(client, night):
    for url in VIEW_PAGES + (f"/camera/1/image/{night.images[0]}", "/api/now", night.products["video"][1]):
        assert client.get(url).status_code == 200, url


def test_private_site_redirects_pages_to_the_login(private_app, private_night):
    client = private_app.test_client()
    for url in VIEW_PAGES:
        resp = client.get(url)
        assert resp.status_code == 302, url
        assert resp.headers["Location"].startswith("/login?next="), url
    assert client.get("/camera/1/nights?month=2024-12").headers["Location"] == \
        "/login?next=/camera/1/nights?month%3D2024-12"


def test_private_site_answers_401_for_json_and_media(private_app, private_night):
    client = private_app.test_client()
    resp = client.get("/api/now")
    assert resp.status_code == 401 and resp.get_json()["error"] == "login_required"
    for url in (private_night.products["video"][1], private_night.thumbnails[private_night.images[0]]):
        resp = client.get(url)
        assert resp.status_code == 401 and b"ftyp" not in resp.data and b"\xff\xd8" not in resp.data


def test_private_site_after_login_shows_everything_and_media_is_not_cached_publicly(private_app, private_night):
    client = private_app.test_client()
    add_user(private_app, VIEWER, VIEWER_PW)
    resp = login(client, VIEWER, VIEWER_PW, next_url="/camera/1")
    assert resp.status_code == 302 and resp.headers["Location"] == "/camera/1"
    for url in VIEW_PAGES + ("/api/now",):
        assert client.get(url).status_code == 200, url
    media = client.get(private_night.products["keogram"][1])
    assert media.status_code == 200
    assert "private" in media.headers["Cache-Control"] and "public" not in media.headers["Cache-Control"]


def test_login_page_and_static_files_stay_reachable_on_a_private_site(private_app):
    client = private_app.test_client()
    assert client.get("/login").status_code == 200
    assert client.get("/static/css/skyfleet.css").status_code == 200
    assert client.get("/static/js/now.js").status_code == 200


def test_syncapi_needs_neither_login_nor_csrf_on_a_private_site(private_app):
    from tests.conftest import add_api_user
    add_api_user(private_app)
    sender = Sender(private_app.test_client())
    assert sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 200
    assert sender.send("POST", "image", mdh.asset("image"), media=b"\xff\xd8\xffx").status_code == 200


def test_login_with_a_wrong_password_fails(app, client):
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    resp = login(client, ADMIN, "wrong password!")
    assert resp.status_code == 401 and "Wrong user name or password" in resp.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_login_of_an_unknown_or_inactive_user_fails(app, client):
    add_user(app, VIEWER, VIEWER_PW, active=False)
    assert login(client, VIEWER, VIEWER_PW).status_code == 401
    assert login(client, "nobody", VIEWER_PW).status_code == 401


def test_login_without_csrf_token_is_rejected(app, client):
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    resp = client.post("/login", data={"username": ADMIN, "password": ADMIN_PW})
    assert resp.status_code == 400 and "The login form could not be accepted" in resp.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_login_never_redirects_to_another_host(app, client):
    add_user(app, VIEWER, VIEWER_PW)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        fresh = app.test_client()
        resp = login(fresh, VIEWER, VIEWER_PW, next_url=target)
        assert resp.status_code == 302 and resp.headers["Location"] == "/", target


def test_logout_needs_a_post_with_csrf_token(app, viewer_client):
    assert viewer_client.get("/logout").status_code == 405
    assert viewer_client.post("/logout").status_code == 400
    assert "Log out" in viewer_client.get("/").get_data(as_text=True)
    token = csrf_token(viewer_client, "/")
    assert viewer_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert "Log in" in viewer_client.get("/").get_data(as_text=True)


def test_admin_pages_redirect_anonymous_users_to_login(client):
    for url in ADMIN_PAGES:
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), url


def test_admin_pages_are_forbidden_for_non_admins(viewer_client, app):
    for url in ADMIN_PAGES:
        resp = viewer_client.get(url)
        assert resp.status_code == 403, url
        assert "admins only" in resp.get_data(as_text=True)
    token = csrf_token(viewer_client, "/")
    for url in ("/admin/users", "/admin/users/1/apikey", "/admin/users/1/apikey/revoke", "/admin/users/1/admin"):
        assert viewer_client.post(url, data={"csrf_token": token, "admin": "1"}).status_code == 403, url
    with app.app_context():
        assert not db.session.get(User, 1).is_admin


def test_admin_link_only_for_admins(app, admin_client, viewer_client):
    assert 'href="/admin/"' in admin_client.get("/").get_data(as_text=True)
    assert 'href="/admin/"' not in viewer_client.get("/").get_data(as_text=True)
    assert 'href="/admin/"' not in app.test_client().get("/").get_data(as_text=True)


def test_a_new_password_ends_existing_sessions(app, viewer_client):
    assert "Log out" in viewer_client.get("/").get_data(as_text=True)
    with app.app_context():
        accounts.set_password(accounts.get(db.session, VIEWER), "another password")
        db.session.commit()
    assert "Log in" in viewer_client.get("/").get_data(as_text=True)


def test_deactivating_a_user_ends_their_session(app, viewer_client):
    with app.app_context():
        accounts.get(db.session, VIEWER).is_active = False
        db.session.commit()
    assert "Log in" in viewer_client.get("/").get_data(as_text=True)
