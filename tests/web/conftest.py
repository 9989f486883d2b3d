"""Fixtures of the web UI tests: users, logged-in clients, and a night uploaded through the SyncAPI."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import insert

from skyfleet import accounts
from skyfleet.extensions import db
from skyfleet.models import Asset
from tests.conftest import add_api_user
from tests.helpers import metadata as mdh
from tests.helpers.wire import Sender

ADMIN, ADMIN_PW = "astro-admin", "admin password 1"
VIEWER, VIEWER_PW = "viewer", "viewer password 1"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def add_user(app, username: str, password: str, admin: bool = False, active: bool = True) -> int:
    with app.app_context():
        user = accounts.add(db.session, username, password, admin=admin)
        user.is_active = active
        db.session.commit()
        return user.id


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no csrf_token in the page"
    return m.group(1) or m.group(2)


def csrf_token(client, url: str = "/login") -> str:
    return csrf_from(client.get(url).get_data(as_text=True))


def login(client, username: str, password: str, next_url: str | None = None):
    token = csrf_token(client)
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"csrf_token": token, "username": username, "password": password})


@pytest.fixture
def admin_client(app, client):
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    assert login(client, ADMIN, ADMIN_PW).status_code == 302
    return client


@pytest.fixture
def viewer_client(app):
    add_user(app, VIEWER, VIEWER_PW)
    client = app.test_client()
    assert login(client, VIEWER, VIEWER_PW).status_code == 302
    return client


@dataclass
class Night:
    """What `night` uploaded: ids by kind, and the metadata sent."""
    images: list = field(default_factory=list)
    thumbnails: dict = field(default_factory=dict)  # image id -> thumbnail url
    products: dict = field(default_factory=dict)    # kind -> (id, url)
    metas: list = field(default_factory=list)


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


def upload_night(sender, count: int = 5, step: int = 60, start: int = mdh.NIGHT_START, thumbs: bool = True,
                 products: bool = True) -> Night:
    night = Night()
    for i in range(count):
        when = start + i * step
        extra = {"exposure": 15.0 - i, "adu": 60.0 + i, "temp": -3.0 - i / 10, "stars": 400 + i, "sqm": 7400.0 + i}
        if thumbs:
            tmeta = mdh.asset("thumbnail", when=when)
            resp = sender.send("POST", "thumbnail", tmeta, media=JPEG + bytes([i]))
            assert resp.status_code == 200, resp.get_json()
            extra["thumbnail_uuid"] = tmeta["uuid"]
            thumb_url = "/indi-allsky/" + resp.get_json()["url"]
        meta = mdh.asset("image", when=when, **extra)
        resp = sender.send("POST", "image", meta, media=JPEG + bytes([100 + i]))
        assert resp.status_code == 200, resp.get_json()
        night.images.append(resp.get_json()["id"])
        night.metas.append(meta)
        if thumbs:
            night.thumbnails[resp.get_json()["id"]] = thumb_url
    if products:
        for kind in ("keogram", "startrail", "video", "minivideo"):
            name = "x.mp4" if kind in ("video", "minivideo") else "x.jpg"
            resp = sender.send("POST", kind, mdh.asset(kind, when=start), media=MP4 if name.endswith("mp4") else JPEG,
                               media_name=name)
            assert resp.status_code == 200, resp.get_json()
            night.products[kind] = (resp.get_json()["id"], "/indi-allsky/" + resp.get_json()["url"])
    return night


@pytest.fixture
def night(sender, camera) -> Night:
    return upload_night(sender)


@pytest.fixture
def private_app(app_factory):
    return app_factory(web={"public": False})


@pytest.fixture
def private_night(private_app) -> Night:
    add_api_user(private_app)
    sender = Sender(private_app.test_client())
    assert sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 200
    return upload_night(sender)


def bulk_images(app, camera_id: int, count: int, start: dt.datetime, step_seconds: float = 30.0,
                day: dt.date = dt.date(2024, 12, 31), same_time: bool = False) -> None:
    """Rows without files, inserted in one statement: for paging and speed tests."""
    rows = []
    for i in range(count):
        t = start if same_time else start + dt.timedelta(seconds=i * step_seconds)
        rows.append({"kind": "image", "camera_id": camera_id, "natural_key": f"bulk-{uuid.uuid4().hex}",
                     "create_date_utc": t, "create_date": t - dt.timedelta(hours=5), "utc_offset": -18000,
                     "day_date": day, "night": True, "filename": None, "file_size": 0, "data": {},
                     "exposure": 15.0, "uploaded_at": t})
    with app.app_context():
        db.session.execute(insert(Asset), rows)
        db.session.commit()
