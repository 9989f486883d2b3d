"""Two web nodes of one fleet site (issue 18, item 3): one database, one bucket, one server secret.

Nothing a request leaves behind may live in one node only: an upload through one is served by the
other, a captured v1 request is refused as a replay by the other, a login on one is a login on the
other.  A node with a secret of its own opens no API key and no session of the site: the secret is
what the nodes must share (the Ansible role copies it from the vault to every remote).
"""
from __future__ import annotations

import os

import pytest
import requests
from sqlalchemy import select

from skyfleet.extensions import db
from skyfleet.models import Asset
from tests.conftest import PG_URL, add_api_user, drop_everything, make_app
from tests.helpers import metadata as mdh
from tests.helpers.media import fake
from tests.helpers.wire import CAMERA_UUID, Sender
from tests.objectstore.conftest import s3_table
from tests.syncapi.test_v1_replay import Captured, refused
from tests.web.conftest import add_user, login


@pytest.fixture
def site(tmp_path, seaweed, bucket, prefix):
    """(node A, node B): the same database, bucket and prefix, and the same server secret file."""
    shared = {"secret_key_file": str(tmp_path / "site-secret.key"),
              "storage": s3_table(seaweed, bucket, prefix, tmp_path)}
    if not PG_URL:
        shared["database_url"] = f"sqlite:///{tmp_path / 'site.db'}"
    nodes = [make_app(tmp_path / name, **shared) for name in ("node-a", "node-b")]
    add_api_user(nodes[0])
    yield nodes
    for node in nodes:
        drop_everything(node)  # the shared database: emptied (PostgreSQL) or dropped, once per node


def test_an_upload_through_one_node_is_served_and_listed_by_the_other(site):
    a, b = site
    sender = Sender(a.test_client())
    assert sender.send("PUT", "camera", mdh.camera(), b"", media_name="bogus.ext").status_code == 200
    jpeg = fake(".jpg", os.urandom(20_000))
    resp = sender.send("POST", "image", mdh.asset("image"), jpeg)
    assert resp.status_code == 200, resp.get_json()
    other = b.test_client()
    served = other.get("/indi-allsky/" + resp.get_json()["url"])
    assert served.status_code == 302
    assert requests.get(served.headers["Location"], timeout=30).content == jpeg  # from the bucket
    with b.app_context():
        camera_id = db.session.scalar(select(Asset.camera_id))
    assert other.get(f"/camera/{camera_id}").status_code == 200
    latest = other.get(f"/api/latest/{camera_id}/image")
    assert latest.status_code == 200 and latest.get_json()["url"].endswith(resp.get_json()["url"])
    # and the same camera host goes on through the other node: the duplicate answers the same id
    again = Sender(other).send("POST", "image", mdh.asset("image"), jpeg)
    assert again.status_code == 200 and again.get_json()["id"] == resp.get_json()["id"]


def test_a_request_captured_at_one_node_is_a_replay_at_the_other(site):
    a, b = site
    synced = Sender(a.test_client()).send("PUT", "camera", mdh.camera(), b"", media_name="bogus.ext")
    assert synced.status_code == 200
    captured = Captured(mdh.asset("image", camera_uuid=CAMERA_UUID), fake(".jpg", b"a" * 3000))
    assert captured.send(a.test_client(), "POST").status_code == 200
    refused(captured.send(b.test_client(), "PUT", media=fake(".jpg", b"b" * 3000)), 401, "replayed")


def test_a_login_at_one_node_is_a_login_at_the_other(site):
    a, b = site
    add_user(a, "ops", "correct horse battery staple", admin=True)
    first, second = a.test_client(), b.test_client()
    assert login(first, "ops", "correct horse battery staple").status_code in (302, 303)
    cookie = first.get_cookie("session")
    assert cookie is not None
    second.set_cookie("session", cookie.value)
    assert second.get("/admin/").status_code == 200
    assert b.test_client().get("/admin/").status_code in (302, 401)  # without the cookie: not logged in


def test_a_node_with_a_secret_of_its_own_opens_no_key_of_the_site(site, tmp_path, seaweed, bucket, prefix):
    a, _ = site
    own = {"secret_key_file": str(tmp_path / "another-secret.key"),
           "storage": s3_table(seaweed, bucket, prefix, tmp_path)}
    if not PG_URL:
        own["database_url"] = f"sqlite:///{tmp_path / 'site.db'}"
    stray = make_app(tmp_path / "node-stray", **own)
    resp = Sender(stray.test_client()).send("PUT", "camera", mdh.camera(), b"", media_name="bogus.ext")
    assert resp.status_code == 401, resp.get_json()
    with stray.app_context():
        db.session.remove()
        db.engine.dispose()
