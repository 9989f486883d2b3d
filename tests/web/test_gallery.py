"""The loop (last N images, thumbnails, played by static/js/loop.js) and the gallery (a month of nights)."""
from __future__ import annotations

import re

from skyfleet.extensions import db
from skyfleet.models import Camera
from tests.helpers import metadata as mdh

from .conftest import JPEG, upload_night

HOUR = 3600
NIGHT_BEFORE = mdh.NIGHT_START - 24 * HOUR  # 19:00 local on 2024-12-30 (UTC-5)


def frames_in(page: str) -> list:
    return re.findall(r'<li data-id="(\d+)" data-src="([^"]+)" data-page="([^"]+)" data-time="([^"]+)"', page)


def send(sender, kind: str, when: int, day: str, media: bytes, **extra) -> int:
    resp = sender.send("POST", kind, mdh.asset(kind, when=when, dayDate=day, **extra), media=media,
                       media_name="x.mp4" if kind == "video" else "x.jpg")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["id"]


def test_the_loop_plays_the_last_images_oldest_first_as_thumbnails(client, night):
    page = client.get("/camera/1/loop").text
    frames = frames_in(page)
    assert [int(f[0]) for f in frames] == night.images
    assert [f[1] for f in frames] == [night.thumbnails[i] for i in night.images]
    assert frames[-1][2] == f"/camera/1/image/{night.images[-1]}"
    assert frames[0][3] == "2024-12-31 19:00:00"
    assert 'src="/static/js/loop.js"' in page and "<script>" not in page  # no inline script (CSP)
    assert [int(f[0]) for f in frames_in(client.get("/camera/1/loop?n=2").text)] == night.images[-2:]


def test_the_loop_counts_are_bounded_and_images_without_thumbnails_play_themselves(client, sender, night):
    assert "The last 2 images" in client.get("/camera/1/loop?n=1").text
    assert "The last 300 images" in client.get("/camera/1/loop?n=100000").text
    assert "The last 60 images" in client.get("/camera/1/loop?n=abc").text
    upload_night(sender, count=1, start=mdh.NIGHT_START + HOUR, thumbs=False, products=False)
    frames = client.get("/api/camera/1/loop?n=3").get_json()["frames"]
    assert len(frames) == 3 and frames[-1]["src"] == frames[-1]["full"]
    assert frames[-1]["full"].endswith("ccd1_20241231_200000.jpg") and client.get(frames[-1]["src"]).status_code == 200


def test_the_loop_of_a_camera_without_images_and_of_a_hidden_one(app, client, camera):
    assert "No image yet." in client.get("/camera/1/loop").text
    assert client.get("/api/camera/1/loop").get_json()["frames"] == []
    with app.app_context():
        db.session.get(Camera, 1).hidden = True
        db.session.commit()
    assert client.get("/camera/1/loop").status_code == 404
    assert client.get("/api/camera/1/loop").status_code == 404


def test_the_gallery_shows_each_night_of_the_month_with_its_best_frame_and_products(client, sender, night):
    # the night before: no frame counted stars, so the first from local midnight on stands for it
    send(sender, "image", NIGHT_BEFORE + 4 * HOUR, "20241230", JPEG + b"23h", stars=0)
    midnight = send(sender, "image", NIGHT_BEFORE + 5 * HOUR + 1800, "20241230", JPEG + b"0030", stars=0)
    send(sender, "image", NIGHT_BEFORE + 7 * HOUR, "20241230", JPEG + b"02h", stars=0)
    page = client.get("/camera/1/gallery").text
    assert "Gallery · December 2024" in page
    days = re.findall(r'<li data-night="([\d-]+)">', page)
    assert days == ["2024-12-31", "2024-12-30"]
    newest, before = page.split('<li data-night="2024-12-30">')
    best = max(zip(night.metas, night.images), key=lambda mi: mi[0]["stars"])[1]  # 404 stars: the last frame
    assert f'href="/camera/1/image/{best}"><img src="{night.thumbnails[best]}"' in newest
    assert f'href="/camera/1/image/{midnight}"' in before and "00:30" in before
    for kind in ("keogram", "startrail", "video"):
        assert f'href="{night.products[kind][1]}" data-kind="{kind}"' in newest, kind
    assert "▶ Timelapse" in newest  # the timelapse has no thumbnail here: a link, not a broken <img>
    assert 'data-kind' not in before


def test_the_gallery_pages_by_month_and_says_when_a_month_is_empty(client, sender, night):
    send(sender, "image", mdh.NIGHT_START - 40 * 24 * HOUR, "20241122", JPEG + b"nov", stars=9)
    page = client.get("/camera/1/gallery").text
    assert 'href="/camera/1/gallery?month=2024-11"' in page
    assert "gallery?month=2025-01" not in page  # nothing after the newest night
    november = client.get("/camera/1/gallery?month=2024-11").text
    assert re.findall(r'<li data-night="([\d-]+)">', november) == ["2024-11-22"]
    assert 'href="/camera/1/gallery?month=2024-12"' in november
    assert "No night in October 2024." in client.get("/camera/1/gallery?month=2024-10").text


def test_a_camera_without_nights_has_an_empty_gallery_and_the_camera_page_links_both(client, camera):
    assert "No night recorded yet." in client.get("/camera/1/gallery").text
    page = client.get("/camera/1").text
    assert 'href="/camera/1/gallery"' in page and 'href="/camera/1/loop"' in page
