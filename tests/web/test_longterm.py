"""The long-term keogram page and its picture, from rows that arrived through the SyncAPI.

The picture is decoded with OpenCV (not with the code that wrote it) and read cell by cell: a column
per night, local noon at the top, BIN_MINUTES per cell, ROW_HEIGHT pixels each.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from skyfleet.extensions import db, skyfleet_state
from skyfleet.models import LongTermKeogram
from skyfleet.web import longterm_picture as picture
from tests.helpers import metadata as mdh

from .conftest import JPEG

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "indi-allsky-v2026.08.1"
HOUR = 3600


def send_image(sender, when: int, pixels, n: int = 0):
    meta = mdh.asset("image", when=when, keogram_pixels=pixels)
    resp = sender.send("POST", "image", meta, media=JPEG + bytes([n % 256, n // 256]))
    assert resp.status_code == 200, resp.get_json()


def decoded(resp) -> np.ndarray:
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    img = cv2.imdecode(np.frombuffer(resp.data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, "not a PNG OpenCV can read"
    return img[:, :, ::-1]  # BGR -> RGB


def cell(img: np.ndarray, night: int, local_hour: float, nights: int) -> tuple:
    width = picture.column_width(nights)
    row = int((local_hour - 12) % 24 * 60 // picture.BIN_MINUTES) * picture.ROW_HEIGHT
    return tuple(int(v) for v in img[row, night * width])


@pytest.fixture
def december(sender, camera):
    """At UTC-5: 19:00 local on the night of 2024-12-31 a bright frame, two frames at 02:00 (one bin)."""
    send_image(sender, mdh.NIGHT_START, [[200, 100, 50]] * 5, 1)
    send_image(sender, mdh.NIGHT_START + 7 * HOUR, [[10, 20, 30]] * 5, 2)
    send_image(sender, mdh.NIGHT_START + 7 * HOUR + 60, [[30, 40, 50]] * 5, 3)
    # a frame from the first night of the month: 2024-12-01, 23:00 local
    send_image(sender, mdh.NIGHT_START - 30 * 24 * HOUR + 4 * HOUR, [[0, 0, 255], [0, 0, 255], [0, 0, 255],
                                                                    [0, 0, 255], [0, 0, 255]], 4)


def test_a_month_has_a_column_per_night_and_each_frame_in_its_cell(client, december):
    img = decoded(client.get("/camera/1/longterm.png?month=2024-12"))
    assert img.shape[:2] == (picture.BINS * picture.ROW_HEIGHT, 31 * picture.column_width(31))
    assert cell(img, 30, 19, 31) == (200, 100, 50)
    assert cell(img, 30, 2, 31) == (20, 30, 40)   # the mean of the two frames in that bin
    assert cell(img, 0, 23, 31) == (0, 0, 255)
    assert cell(img, 30, 23, 31) == (0, 0, 0)     # no frame then: black
    assert cell(img, 15, 19, 31) == (0, 0, 0)


def test_the_default_is_the_last_90_nights_and_a_year_has_one_column_per_night(client, december):
    img = decoded(client.get("/camera/1/longterm.png"))
    assert img.shape[1] == 90 * picture.column_width(90)
    assert cell(img, 89, 19, 90) == (200, 100, 50)   # the newest night is the last column
    year = decoded(client.get("/camera/1/longterm.png?year=2024"))
    assert year.shape[1] == 366 * picture.column_width(366)
    assert cell(year, 365, 19, 366) == (200, 100, 50)


def test_the_picture_of_a_real_indi_allsky_upload(client, sender):
    meta = json.loads((FIXTURES / "image.json").read_text())
    camera = json.loads((FIXTURES / "camera.json").read_text())
    assert sender.send("PUT", "camera", camera, media=b"", media_name="bogus.ext").status_code == 200
    resp = sender.send("POST", "image", meta, media=JPEG)
    assert resp.status_code == 200, resp.get_json()
    expected = tuple(int(v) for v in np.array(meta["keogram_pixels"]).mean(axis=0).astype(int))
    img = decoded(client.get("/camera/1/longterm.png?month=2026-11"))
    local_hour = (meta["createDate"] + meta["utc_offset"]) % 86400 / HOUR  # 2026-11-30 23:47 at UTC+0
    assert cell(img, 29, local_hour, 30) == expected


def test_the_picture_is_cached_until_a_row_in_its_range_changes(app, client, sender, december):
    folder = Path(skyfleet_state(app).settings.data_dir) / "cache" / "longterm"
    first = client.get("/camera/1/longterm.png?month=2024-12")
    etag = first.headers["ETag"]
    assert client.get("/camera/1/longterm.png?month=2024-12", headers={"If-None-Match": etag}).status_code == 304
    assert len(list(folder.glob("1-*.png"))) == 1
    send_image(sender, mdh.NIGHT_START + 3 * HOUR, [[90, 90, 90]] * 5, 5)
    again = client.get("/camera/1/longterm.png?month=2024-12", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag
    assert cell(decoded(again), 30, 22, 31) == (90, 90, 90)
    assert len(list(folder.glob("1-*.png"))) == 2
    for n in range(picture.CACHED_PER_CAMERA + 2):  # each new row, a new picture; only the newest few stay
        send_image(sender, mdh.NIGHT_START + 4 * HOUR + 60 * n, [[n, n, n]] * 5, 10 + n)
        assert client.get("/camera/1/longterm.png?month=2024-12").status_code == 200
    assert len(list(folder.glob("1-*.png"))) == picture.CACHED_PER_CAMERA


def test_the_page_links_the_ranges_and_the_camera_page_links_the_page(client, december):
    page = client.get("/camera/1/longterm?month=2024-12").text
    assert 'src="/camera/1/longterm.png?month=2024-12"' in page
    assert "December 2024: 2024-12-01 to 2024-12-31" in page
    assert 'href="/camera/1/longterm?month=2024-11"' in page and 'href="/camera/1/longterm?year=2024"' in page
    assert 'href="/camera/1/longterm?month=2025-01"' not in page  # nothing after the newest night
    assert 'href="/camera/1/longterm"' in client.get("/camera/1").text


def test_no_rows_bad_ranges_and_unknown_cameras(app, client, camera):
    assert "No long-term keogram yet" in client.get("/camera/1/longterm").text
    assert client.get("/camera/1/longterm.png").status_code == 404
    assert client.get("/camera/2/longterm").status_code == 404
    with app.app_context():
        db.session.add(LongTermKeogram(camera_id=1, ts=mdh.NIGHT_START, pixels=[[1, 2, 3]] * 5))
        db.session.commit()
    for bad in ("month=2024-13", "month=x", "year=abc", "year=9999", "month=9999-12", "year=0"):
        assert client.get(f"/camera/1/longterm?{bad}").status_code == 404, bad
        assert client.get(f"/camera/1/longterm.png?{bad}").status_code == 404, bad


def test_a_private_site_keeps_the_picture_out_of_shared_caches(private_app, private_night):
    from .conftest import VIEWER, VIEWER_PW, add_user, login
    anonymous = private_app.test_client().get("/camera/1/longterm.png")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    add_user(private_app, VIEWER, VIEWER_PW)
    viewer = private_app.test_client()
    assert login(viewer, VIEWER, VIEWER_PW).status_code == 302
    resp = viewer.get("/camera/1/longterm.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    cache = resp.headers["Cache-Control"]
    assert "private" in cache and "no-cache" in cache and "public" not in cache, cache


def test_a_public_site_lets_shared_caches_keep_the_picture_and_ask_again(client, december):
    cache = client.get("/camera/1/longterm.png").headers["Cache-Control"]
    assert "public" in cache and "no-cache" in cache and "private" not in cache, cache
