"""Server-side login sessions, expiring form tokens and password hashing at OWASP strength."""
from __future__ import annotations

import datetime as dt

import itsdangerous.timed
import pytest
from sqlalchemy import func, select, update
from werkzeug.security import generate_password_hash

from skyfleet import accounts
from skyfleet.extensions import db
from skyfleet.models import LoginSession, User
from skyfleet.settings import WebSettings

from .conftest import ADMIN, ADMIN_PW, VIEWER, VIEWER_PW, add_user, csrf_from, csrf_token, login


def text(resp) -> str:
    return resp.get_data(as_text=True)


def logged_in(client) -> bool:
    return "Log out" in text(client.get("/"))


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def sessions_of(app, username: str) -> list:
    with app.app_context():
        return list(db.session.scalars(select(LoginSession).join(User, User.id == LoginSession.user_id)
                                       .where(User.username == username)))


def age_sessions(app, username: str, days: float) -> None:
    with app.app_context():
        uid = accounts.get(db.session, username).id
        when = dt.datetime.utcnow() - dt.timedelta(days=days)
        changed = db.session.execute(update(LoginSession).where(LoginSession.user_id == uid)
                                     .values(last_seen_at=when, created_at=when)).rowcount
        db.session.commit()
    assert changed, "no login_session row to age"


def logout(client):
    return client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


# --- the session lives in the database -----------------------------------------------------------------

def test_login_stores_only_a_digest_of_the_session_token(app, viewer_client):
    rows = sessions_of(app, VIEWER)
    assert len(rows) == 1 and len(rows[0].token_sha256) == 64
    cookie = viewer_client.get_cookie("session").value
    assert rows[0].token_sha256 not in cookie


def test_a_copied_cookie_stops_working_after_logout(app, viewer_client):
    thief = copy_of(app, viewer_client)
    assert logged_in(thief)
    assert logout(viewer_client).status_code == 302
    assert not logged_in(viewer_client)
    assert not logged_in(thief)
    assert sessions_of(app, VIEWER) == []


def test_logout_ends_only_that_session(app, viewer_client):
    laptop = app.test_client()
    assert login(laptop, VIEWER, VIEWER_PW).status_code == 302
    assert len(sessions_of(app, VIEWER)) == 2
    logout(viewer_client)
    assert logged_in(laptop) and len(sessions_of(app, VIEWER)) == 1


def test_deactivating_in_the_admin_ends_the_sessions_and_reactivating_does_not_revive_them(app, admin_client,
                                                                                          viewer_client):
    thief = copy_of(app, viewer_client)
    uid = accounts_id(app, VIEWER)
    token = csrf_token(admin_client, "/admin/users")
    assert admin_client.post(f"/admin/users/{uid}/active", data={"csrf_token": token, "active": "0"}).status_code == 302
    assert sessions_of(app, VIEWER) == []
    assert admin_client.post(f"/admin/users/{uid}/active", data={"csrf_token": token, "active": "1"}).status_code == 302
    assert not logged_in(viewer_client) and not logged_in(thief)
    assert login(app.test_client(), VIEWER, VIEWER_PW).status_code == 302  # active again: a new login works


def accounts_id(app, username: str) -> int:
    with app.app_context():
        return accounts.get(db.session, username).id


def test_a_new_password_from_the_cli_deletes_the_sessions(app, viewer_client):
    assert len(sessions_of(app, VIEWER)) == 1
    result = app.test_cli_runner().invoke(args=["user", "setpassword", VIEWER, "--password-stdin"],
                                          input="a brand new password\n")
    assert result.exit_code == 0, result.output
    assert sessions_of(app, VIEWER) == []
    assert not logged_in(viewer_client)


def test_cli_deactivate_and_logout_end_the_sessions(app, viewer_client):
    runner = app.test_cli_runner()
    laptop = app.test_client()
    login(laptop, VIEWER, VIEWER_PW)
    result = runner.invoke(args=["user", "logout", VIEWER])
    assert result.exit_code == 0 and "2 sessions ended" in result.output, result.output
    assert not logged_in(viewer_client) and not logged_in(laptop)
    login(laptop, VIEWER, VIEWER_PW)
    result = runner.invoke(args=["user", "setactive", VIEWER, "--deactivate"])
    assert result.exit_code == 0 and "deactivated" in result.output, result.output
    assert sessions_of(app, VIEWER) == [] and not logged_in(laptop)
    assert login(laptop, VIEWER, VIEWER_PW).status_code == 401
    assert runner.invoke(args=["user", "setactive", VIEWER]).exit_code == 0
    assert login(laptop, VIEWER, VIEWER_PW).status_code == 302


def test_an_idle_session_expires_after_the_default_14_days(app, viewer_client):
    assert WebSettings().session_idle_days == 14
    age_sessions(app, VIEWER, 13.9)
    assert logged_in(viewer_client)
    age_sessions(app, VIEWER, 14.1)
    assert not logged_in(viewer_client)
    assert sessions_of(app, VIEWER) == []


def test_the_idle_limit_comes_from_the_settings(app_factory):
    app = app_factory(web={"session_idle_days": 1})
    add_user(app, VIEWER, VIEWER_PW)
    client = app.test_client()
    login(client, VIEWER, VIEWER_PW)
    age_sessions(app, VIEWER, 1.1)
    assert not logged_in(client)


def test_use_keeps_a_session_alive(app, viewer_client):
    age_sessions(app, VIEWER, 10)
    assert logged_in(viewer_client)
    (row,) = sessions_of(app, VIEWER)
    assert dt.datetime.utcnow() - row.last_seen_at < dt.timedelta(minutes=1)


def test_old_session_rows_are_pruned_at_the_next_login(app, viewer_client):
    age_sessions(app, VIEWER, 30)
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    assert login(app.test_client(), ADMIN, ADMIN_PW).status_code == 302
    assert sessions_of(app, VIEWER) == []
    with app.app_context():
        assert db.session.scalar(select(func.count(LoginSession.id))) == 1


def test_a_session_of_the_old_cookie_format_is_not_accepted(app, viewer_client):
    """A cookie from before server-side sessions ("<id>:<digest of the hash>") logs nobody in."""
    with viewer_client.session_transaction() as sess:
        sess["_user_id"] = f"{accounts_id(app, VIEWER)}:0123456789abcdef"
    assert not logged_in(viewer_client)


# --- form tokens expire -----------------------------------------------------------------------------------

HOURS = 3600


@pytest.fixture
def clock(monkeypatch):
    """Moves the clock the form tokens are signed and checked with."""
    offset = {"s": 0}
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                        lambda self: real(self) + offset["s"])
    return offset


def test_form_tokens_are_valid_for_12_hours(app):
    assert WebSettings().csrf_token_hours == 12
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 12 * HOURS


def test_a_login_page_left_open_all_evening_still_works(app, client, clock):
    add_user(app, VIEWER, VIEWER_PW)
    token = csrf_token(client)
    clock["s"] = 11 * HOURS
    resp = client.post("/login", data={"csrf_token": token, "username": VIEWER, "password": VIEWER_PW})
    assert resp.status_code == 302


def test_an_expired_login_form_comes_back_fresh_with_a_clear_message(app, client, clock):
    add_user(app, VIEWER, VIEWER_PW)
    token = csrf_token(client)
    clock["s"] = 13 * HOURS
    resp = client.post("/login", data={"csrf_token": token, "username": VIEWER, "password": VIEWER_PW})
    assert resp.status_code == 400
    page = text(resp)
    assert "The login form had expired" in page and 'name="password"' in page
    fresh = csrf_from(page)
    assert fresh != token
    again = client.post("/login", data={"csrf_token": fresh, "username": VIEWER, "password": VIEWER_PW})
    assert again.status_code == 302


def test_an_expired_admin_form_changes_nothing_and_says_so(app, admin_client, clock):
    token = csrf_token(admin_client, "/admin/users")
    clock["s"] = 13 * HOURS
    resp = admin_client.post("/admin/users", data={"csrf_token": token, "username": "late", "password": "a long pw 1",
                                                   "confirm": "a long pw 1"},
                             headers={"Referer": "http://localhost/admin/users"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/admin/users")
    page = text(admin_client.get("/admin/users"))
    assert "The form had expired" in page and 'data-user="late"' not in page


def test_a_missing_form_token_is_still_refused(app, admin_client):
    resp = admin_client.post("/admin/users", data={"username": "x", "password": "a long pw 1",
                                                   "confirm": "a long pw 1"})
    assert resp.status_code == 400


def test_an_expired_form_with_a_foreign_referrer_does_not_redirect_there(app, admin_client, clock):
    token = csrf_token(admin_client, "/admin/users")
    clock["s"] = 13 * HOURS
    resp = admin_client.post(f"/admin/users/{accounts_id(app, ADMIN)}/apikey", data={"csrf_token": token},
                             headers={"Referer": "https://evil.example/admin/users"})
    assert resp.status_code in (303, 400)
    assert "evil.example" not in resp.headers.get("Location", "")


# --- password hashing -------------------------------------------------------------------------------------

def test_the_production_password_hash_is_scrypt_at_owasp_strength():
    """OWASP Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1 or an equivalent trade of memory for
    parallelism; N=2^14 (16 MiB), r=8, p=5 keeps eight concurrent logins within 128 MiB on a Pi."""
    n, r, p = (int(x) for x in accounts.PRODUCTION_PASSWORD_HASH.split(":")[1:])
    assert accounts.PRODUCTION_PASSWORD_HASH.startswith("scrypt:")
    assert (n, r, p) in {(2 ** 17, 8, 1), (2 ** 16, 8, 2), (2 ** 15, 8, 3), (2 ** 14, 8, 5), (2 ** 13, 8, 10)}


def test_new_passwords_use_the_configured_method(app):
    add_user(app, VIEWER, VIEWER_PW)
    with app.app_context():
        assert accounts.get(db.session, VIEWER).password_hash.startswith(accounts.password_hash_method() + "$")


@pytest.mark.parametrize("old_method", ["pbkdf2:sha256:260000", "scrypt:32768:8:1"])
def test_a_weaker_hash_is_replaced_at_the_next_login(app, old_method):
    add_user(app, VIEWER, VIEWER_PW)
    with app.app_context():
        user = accounts.get(db.session, VIEWER)
        user.password_hash = generate_password_hash(VIEWER_PW, method=old_method)
        db.session.commit()
    client = app.test_client()
    assert login(client, VIEWER, "wrong password").status_code == 401
    with app.app_context():
        assert accounts.get(db.session, VIEWER).password_hash.startswith(old_method + "$")
    assert login(client, VIEWER, VIEWER_PW).status_code == 302
    with app.app_context():
        user = accounts.get(db.session, VIEWER)
        assert user.password_hash.startswith(accounts.password_hash_method() + "$")
        assert accounts.verify_password(user, VIEWER_PW)
    assert logged_in(client)


def set_password_in_admin(client, uid: int, password: str):
    token = csrf_token(client, f"/admin/users/{uid}/password")
    return client.post(f"/admin/users/{uid}/password",
                       data={"csrf_token": token, "password": password, "confirm": password})


def test_a_new_password_from_the_admin_signs_the_user_out_everywhere(app, admin_client, viewer_client):
    thief = copy_of(app, viewer_client)
    assert set_password_in_admin(admin_client, accounts_id(app, VIEWER), "set by the admin").status_code == 302
    assert sessions_of(app, VIEWER) == []
    assert not logged_in(viewer_client) and not logged_in(thief)
    assert login(app.test_client(), VIEWER, VIEWER_PW).status_code == 401
    assert login(app.test_client(), VIEWER, "set by the admin").status_code == 302


def test_an_admin_setting_their_own_password_stays_signed_in_and_others_are_out(app, admin_client):
    thief = copy_of(app, admin_client)
    assert set_password_in_admin(admin_client, accounts_id(app, ADMIN), "my new admin pw").status_code == 302
    assert logged_in(admin_client) and not logged_in(thief)
    assert len(sessions_of(app, ADMIN)) == 1


def test_the_admin_password_form_refuses_short_and_differing_passwords(app, admin_client):
    uid = add_user(app, VIEWER, VIEWER_PW)
    token = csrf_token(admin_client, f"/admin/users/{uid}/password")
    short = admin_client.post(f"/admin/users/{uid}/password", data={"csrf_token": token, "password": "short",
                                                                    "confirm": "short"})
    assert short.status_code == 400 and "at least 8" in text(short)
    differ = admin_client.post(f"/admin/users/{uid}/password", data={"csrf_token": token, "password": "long enough 1",
                                                                     "confirm": "long enough 2"})
    assert differ.status_code == 400 and "passwords differ" in text(differ)
    assert admin_client.get("/admin/users/9999/password").status_code == 404
    assert login(app.test_client(), VIEWER, VIEWER_PW).status_code == 302


def test_a_login_form_whose_session_cookie_is_gone_comes_back_fresh(app):
    """The browser was restarted after the page loaded: the cookie with the form secret is gone."""
    add_user(app, VIEWER, VIEWER_PW)
    token = csrf_token(app.test_client())
    client = app.test_client()
    resp = client.post("/login", data={"csrf_token": token, "username": VIEWER, "password": VIEWER_PW})
    assert resp.status_code == 400 and "The login form could not be accepted" in text(resp)
    again = client.post("/login", data={"csrf_token": csrf_from(text(resp)), "username": VIEWER,
                                        "password": VIEWER_PW})
    assert again.status_code == 302
