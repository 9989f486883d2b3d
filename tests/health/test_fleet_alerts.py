"""Alerts on a fleet site: several web nodes check their health against one PostgreSQL database.

A condition about the shared data (a silent camera) is one incident whichever node sees it, announced
once even when both nodes' timers fire at the same second; a condition about one node's own disk or
certificate is that node's incident: another node, whose disk is fine, does not declare it over, and
when the node leaves the site for good, `forget-host` on another node does.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest
from sqlalchemy import select

from skyfleet.db_setup import session_factory
from skyfleet.extensions import db, skyfleet_state
from skyfleet.health import alerts, collect
from skyfleet.health.config import HealthSettings
from skyfleet.housekeeping.policy import from_table as retention_from_table
from skyfleet.models import AlertState
from tests.conftest import PG_URL

from .conftest import NOW, Webhook, add_camera, add_image, free_port, health, minutes

pytestmark = pytest.mark.skipif(not PG_URL, reason="a database several hosts share is PostgreSQL "
                                                   "(SKYFLEET_TEST_DATABASE_URL)")

FULL = retention_from_table({"floor_mb": 10**9, "emergency_floor_mb": 10**9})  # every disk is below it


class Node:
    """One web node's health check: its own host name and database connection, the site's database."""

    def __init__(self, app, host: str):
        self.app, self.host = app, host
        self.sessions = session_factory(skyfleet_state(app).settings.database_url)
        self.sent = []

    def send(self, notice) -> None:
        time.sleep(0.3)  # an SMTP server or webhook takes a moment: the other node's check runs meanwhile
        self.sent.append(notice)

    def check(self, now, retention=None, start: threading.Barrier | None = None):
        state = skyfleet_state(self.app)
        with self.sessions() as session:
            snap = collect.collect(session, state.settings, HealthSettings(), retention or state.retention, now,
                                   host=self.host)
            if start is not None:
                start.wait(timeout=10)
            return alerts.check(session, snap, self.send, now)


def notices(*nodes) -> list:
    return sorted((n.alert, n.subject, n.state) for node in nodes for n in node.sent)


def checked_together(now, *nodes) -> None:
    """Each node's check in a thread of its own, their snapshots taken, then both checks at once."""
    start, errors = threading.Barrier(len(nodes)), []

    def check(node):
        try:
            node.check(now, start=start)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=check, args=(node,)) for node in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors


def test_two_nodes_checking_at_the_same_moment_announce_a_silent_camera_once(remote_host):
    camera = add_camera("north")
    add_image(camera, NOW - minutes(45))
    web1, web2 = Node(remote_host, "web1"), Node(remote_host, "web2")
    checked_together(NOW, web1, web2)
    assert notices(web1, web2) == [("camera_silent", "north", "firing")]
    rows = db.session.scalars(select(AlertState).where(AlertState.name == "camera_silent")).all()
    assert [(r.subject, r.active, r.notified_at) for r in rows] == [("north", True, NOW)]
    add_image(camera, NOW + minutes(1))  # back: the recovery too goes out once, whichever node sees it
    checked_together(NOW + minutes(5), web1, web2)
    assert notices(web1, web2) == [("camera_silent", "north", "firing"), ("camera_silent", "north", "resolved")]


def test_one_nodes_full_disk_is_its_own_incident_and_the_other_node_does_not_end_it(remote_host):
    web1, web2 = Node(remote_host, "web1"), Node(remote_host, "web2")
    for later in (0, 5, 10, 15):
        web1.check(NOW + minutes(later), retention=FULL)
        web2.check(NOW + minutes(later + 1))
    disk = str(skyfleet_state(remote_host).settings.storage_dir)
    assert notices(web1) == [("disk_floor", f"{disk} on web1", "firing")]
    assert notices(web2) == []
    web1.check(NOW + minutes(20))  # web1's disk has room again
    assert notices(web1)[-1] == ("disk_floor", f"{disk} on web1", "resolved")
    assert len(web1.sent) == 2
    assert "Free space for" in web1.sent[-1].message and "on web1 is back above the floor" in web1.sent[-1].message


def failing_send(notice) -> None:
    raise ConnectionRefusedError("the mail server is down")


def test_a_node_taken_out_of_the_site_has_its_incidents_closed_from_another_node(remote_host):
    web1, web2 = Node(remote_host, "web1"), Node(remote_host, "web2")
    web1.check(NOW, retention=FULL)  # web1's disk is full, then web1 is switched off for good
    disk = str(skyfleet_state(remote_host).settings.storage_dir)
    web2.check(NOW + minutes(5))
    with web2.sessions() as session:  # the incident outlives its node: web2 does not decide it
        assert session.scalar(select(AlertState.active).where(AlertState.subject == f"{disk} on web1")) is True

    with web2.sessions() as session:
        failed = alerts.forget_host(session, "web1", "web2", failing_send, NOW + minutes(6))
    assert [(n.alert, n.subject, n.state) for n, _ in failed.failed] == [("disk_floor", f"{disk} on web1", "resolved")]
    assert failed.sent == []
    with web2.sessions() as session:  # nothing announced: the incident stays for the next try
        assert session.scalar(select(AlertState.active).where(AlertState.subject == f"{disk} on web1")) is True

    with web2.sessions() as session:
        result = alerts.forget_host(session, "web1", "web2", web2.send, NOW + minutes(7))
    assert notices(web2) == [("disk_floor", f"{disk} on web1", "resolved")]
    assert (result.sent[0].host, result.failed) == ("web2", [])
    assert "'web1' was taken out of the site" in result.sent[0].message
    web2.check(NOW + minutes(10))
    with web2.sessions() as session:
        assert session.scalars(select(AlertState.subject).where(AlertState.name == "disk_floor")).all() == []
    assert len(web2.sent) == 1


def test_forgetting_a_host_leaves_the_other_nodes_incidents_and_the_shared_ones(remote_host):
    camera = add_camera("north")
    add_image(camera, NOW - minutes(45))
    web1, web10 = Node(remote_host, "web1"), Node(remote_host, "web10")
    web1.check(NOW, retention=FULL)
    web10.check(NOW, retention=FULL)
    disk = str(skyfleet_state(remote_host).settings.storage_dir)
    with web1.sessions() as session:
        alerts.forget_host(session, "web1", "web2", web1.send, NOW + minutes(1))
    with web1.sessions() as session:
        left = session.execute(select(AlertState.name, AlertState.subject, AlertState.active)
                               .order_by(AlertState.name, AlertState.subject)).all()
    assert [tuple(r) for r in left] == [("camera_silent", "north", True), ("disk_floor", f"{disk} on web10", True)]


def test_forget_host_from_the_shell(host, monkeypatch):
    app = host()
    web1 = Node(app, "web1")
    web1.check(NOW, retention=FULL)
    disk = str(skyfleet_state(app).settings.storage_dir)
    itself = health("forget-host", socket.gethostname())
    assert itself.exit_code == 2
    assert "is this host: run forget-host on another node" in itself.stderr
    result = health("forget-host", "web1")
    assert result.exit_code == 0, result.output + result.stderr
    assert (f"sent resolved disk_floor {disk} on web1 (no channel configured in [alerts]: recorded only)"
            in result.output)
    assert "host web1: 1 incident(s) closed, 0 not (notice failed)" in result.output
    again = health("forget-host", "web1")
    assert again.exit_code == 0 and "host web1: 0 incident(s) closed" in again.output


def test_forget_host_exits_1_while_the_webhook_is_down_and_keeps_the_incident(host):
    port = free_port()
    app = host(alerts={"webhook_url": f"http://127.0.0.1:{port}/hook", "timeout_seconds": 2})
    Node(app, "web1").check(NOW, retention=FULL)
    disk = str(skyfleet_state(app).settings.storage_dir)
    down = health("forget-host", "web1")
    assert down.exit_code == 1, down.output + down.stderr
    assert f"not sent resolved disk_floor {disk} on web1 (its incident stays; run again)" in down.stderr
    hook = Webhook(port)
    try:
        up = health("forget-host", "web1")
        assert up.exit_code == 0, up.output + up.stderr
        assert [(r["json"]["alert"], r["json"]["state"], r["json"]["subject"]) for r in hook.requests] == [
            ("disk_floor", "resolved", f"{disk} on web1")]
        assert "host web1: 1 incident(s) closed" in up.output
    finally:
        hook.stop()
