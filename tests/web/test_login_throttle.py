"""Failed logins are throttled per (user name, address) and per address, in the database."""
import datetime as dt

from sqlalchemy import func, select

from skyfleet.extensions import db
from skyfleet.models import LoginFailure
from skyfleet.settings import WebSettings
from skyfleet.web.throttle import Throttle

from .conftest import ADMIN, ADMIN_PW, add_user, csrf_token

HOME = "198.51.100.7"
ELSEWHERE = "203.0.113.9"


def login_from(client, address, username, password):
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_token(client)
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password})


def test_an_account_is_throttled_from_one_address_only(app):
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(5):
        assert login_from(attacker, HOME, ADMIN, "guess").status_code == 401
    blocked = login_from(attacker, HOME, ADMIN, ADMIN_PW)  # even the right password waits
    assert blocked.status_code == 429
    assert 850 <= int(blocked.headers["Retry-After"]) <= 901
    assert "Too many failed logins from this address. Try again in 15 minutes." in blocked.get_data(as_text=True)
    assert login_from(owner, ELSEWHERE, ADMIN, ADMIN_PW).status_code == 302


def test_one_address_trying_many_names_is_throttled(app):
    client = app.test_client()
    for n in range(20):
        assert login_from(client, HOME, f"user{n}", "guess").status_code == 401
    assert login_from(client, HOME, "user-new", "guess").status_code == 429
    assert login_from(client, ELSEWHERE, "user-new", "guess").status_code == 401


def test_a_successful_login_clears_that_accounts_failures(app):
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    first, second = app.test_client(), app.test_client()
    for _ in range(4):
        login_from(first, HOME, ADMIN, "guess")
    assert login_from(first, HOME, ADMIN, ADMIN_PW).status_code == 302
    for _ in range(4):  # without the reset the second of these would be refused
        assert login_from(second, HOME, ADMIN, "guess").status_code == 401
    assert login_from(second, HOME, ADMIN, ADMIN_PW).status_code == 302


def test_limits_come_from_the_settings(app_factory):
    app = app_factory(web={"login_failures_per_account": 2, "login_throttle_minutes": 1})
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    client = app.test_client()
    login_from(client, HOME, ADMIN, "guess")
    login_from(client, HOME, ADMIN, "guess")
    blocked = login_from(client, HOME, ADMIN, ADMIN_PW)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) <= 61
    assert "Try again in 1 minute." in blocked.get_data(as_text=True)


def test_failures_expire_after_the_window_and_old_rows_are_pruned(app):
    throttle = Throttle.from_settings(WebSettings())
    start = dt.datetime(2026, 11, 30, 22, 0, 0)
    with app.app_context():
        for i in range(5):
            throttle.failed(db.session, ADMIN, HOME, now=start + dt.timedelta(seconds=i))
        db.session.commit()
        assert throttle.wait_seconds(db.session, ADMIN, HOME, now=start + dt.timedelta(minutes=14, seconds=50)) == 11
        assert throttle.wait_seconds(db.session, "someone else", HOME, now=start) == 0
        assert throttle.wait_seconds(db.session, ADMIN, HOME, now=start + dt.timedelta(minutes=15, seconds=1)) == 0
        throttle.failed(db.session, ADMIN, ELSEWHERE, now=start + dt.timedelta(minutes=20))
        db.session.commit()
        assert db.session.scalar(select(func.count(LoginFailure.id))) == 1


def test_an_overlong_address_is_throttled_like_any_other(app):
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    client = app.test_client()
    address = "fe80::1%" + "x" * 80  # longer than the column: stored and looked up under the same cut
    for _ in range(5):
        assert login_from(client, address, ADMIN, "guess").status_code == 401
    assert login_from(client, address, ADMIN, ADMIN_PW).status_code == 429
