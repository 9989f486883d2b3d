"""Failed logins are throttled per (user name, address) and per address, in the database."""
import datetime as dt
import threading

import pytest
import requests
from sqlalchemy import func, select

from skyfleet.extensions import db
from skyfleet.models import LoginFailure
from skyfleet.settings import WebSettings
from skyfleet.web.throttle import Throttle, client_key
from tests.helpers.live import running_server

from .conftest import ADMIN, ADMIN_PW, add_user, csrf_from, csrf_token

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


def test_ipv6_clients_are_counted_per_64(app):
    """One host has a whole /64 to pick addresses from: a new address per guess must not reset the count."""
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    client = app.test_client()
    for n in range(5):
        assert login_from(client, f"2001:db8:1:2::{n + 10:x}", ADMIN, "guess").status_code == 401
    assert login_from(client, "2001:db8:1:2:ffff:1:2:3", ADMIN, ADMIN_PW).status_code == 429
    assert login_from(client, "2001:db8:1:3::1", ADMIN, ADMIN_PW).status_code == 302


@pytest.mark.parametrize("address,key", [
    ("198.51.100.7", "198.51.100.7"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:0DB8:0001:0002::1", "2001:db8:1:2::/64"),
    ("::ffff:198.51.100.7", "198.51.100.7"),
    ("fe80::1%eth0", "fe80::/64"),
    ("unknown", "unknown"),
    ("x" * 100, "x" * 64),
])
def test_client_keys(address, key):
    assert client_key(address) == key


def test_parallel_wrong_logins_cannot_exceed_the_limit(app):
    """Twenty guesses at once from one address: at most five are tried, the others wait (429); the
    password is then still accepted once the guesses are over."""
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    clients = [app.test_client() for _ in range(20)]
    tokens = []
    for c in clients:
        c.environ_base["REMOTE_ADDR"] = HOME
        tokens.append(csrf_token(c))
    start = threading.Barrier(len(clients))
    statuses = []

    def guess(c, token):
        start.wait()
        resp = c.post("/login", data={"csrf_token": token, "username": ADMIN, "password": "guess"})
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(statuses) == 20 and set(statuses) <= {401, 429}, statuses
    # at most five are tried; when all twenty are recorded before any is checked, none is (never more)
    assert statuses.count(401) <= 5, statuses
    with app.app_context():
        assert db.session.scalar(select(func.count(LoginFailure.id))) == statuses.count(401)
    if statuses.count(401) < 5:
        assert login_from(clients[0], HOME, ADMIN, ADMIN_PW).status_code == 302


def test_parallel_wrong_logins_against_a_real_server_cannot_exceed_the_limit(tmp_path):
    """gunicorn with two worker processes and the production password hash: the check and the record
    of an attempt happen in different processes, yet no more than five guesses are tried."""
    with running_server(tmp_path / "srv") as srv:
        sessions = [requests.Session() for _ in range(16)]
        tokens = [csrf_from(s.get(srv.url + "/login", timeout=10).text) for s in sessions]
        start = threading.Barrier(len(sessions))
        statuses = []

        def guess(s, token):
            start.wait()
            statuses.append(s.post(srv.url + "/login", data={"csrf_token": token, "username": srv.user,
                                                             "password": "guess"},
                                   timeout=60, allow_redirects=False).status_code)

        threads = [threading.Thread(target=guess, args=pair) for pair in zip(sessions, tokens)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert len(statuses) == 16 and set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 5, statuses
