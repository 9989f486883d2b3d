"""The viewing pages: Now, cameras, nights, a night, the image viewer, charts."""
from __future__ import annotations

import datetime as dt
import re

from skyfleet.extensions import db
from skyfleet.models import Camera
from tests.helpers import metadata as mdh
from tests.helpers.wire import Sender

from .conftest import bulk_images, upload_night

NIGHT_URL = "/camera/1/night/2024-12-31"


def text(resp) -> str:
    return resp.get_data(as_text=True)


def test_now_shows_the_latest_image_with_local_time_offset_and_moon(client, night):
    page = text(client.get("/"))
    newest = night.metas[-1]
    assert "2024-12-31 19:04:00 UTC-05:00" in page  # NIGHT_START + 4 min at UTC-5
    assert f'data-image-id="{night.images[-1]}"' in page
    assert f'src="/latest/1/image?v={night.images[-1]}"' in page  # the stable URL (tests/web/test_latest.py)
    assert "11 s" in page  # exposure 15 - 4
    assert "2 % lit" in page and ">Night<" in page
    assert newest["stars"] == 404 and ">404<" in page
    assert 'src="/static/js/now.js"' in page


def test_now_json_has_the_latest_image_of_each_camera(client, sender, night):
    other = "0b7c4d2e-1f3a-4b5c-9d6e-7f8091a2b3c4"
    resp = sender.send("PUT", "camera", mdh.camera("Backyard", other), media=b"", media_name="bogus.ext")
    assert resp.status_code == 200
    data = client.get("/api/now").get_json()
    by_name = {c["name"]: c for c in data["cameras"]}
    assert by_name["Backyard"]["image"] is None
    latest = by_name["ZWO ASI462MC"]["image"]
    assert latest["id"] == night.images[-1]
    assert latest["time"] == "2024-12-31 19:04:00 UTC-05:00"
    assert latest["url"].startswith("/indi-allsky/images/ccd_") and latest["night"] is True
    assert client.get(latest["url"]).status_code == 200
    upload_night(sender, count=1, start=mdh.NIGHT_START + 3600, thumbs=False, products=False)
    assert client.get("/api/now").get_json()["cameras"][1]["image"]["time"] == "2024-12-31 20:00:00 UTC-05:00"


def test_now_without_cameras_says_none_has_synced(client):
    assert "No camera has synced yet" in text(client.get("/"))
    assert client.get("/api/now").get_json()["cameras"] == []


def test_cameras_list_and_camera_page(client, night):
    page = text(client.get("/cameras"))
    assert "ZWO ASI462MC" in page and 'href="/camera/1"' in page
    page = text(client.get("/camera/1"))
    assert "America/New_York" in page and "40.100°" in page
    assert 'href="/camera/1/night/2024-12-31"' in page
    assert "5 images" in page


def test_nights_calendar_links_each_night_with_its_image_count(client, night):
    page = text(client.get("/camera/1/nights"))
    assert "December 2024" in page
    assert 'href="/camera/1/night/2024-12-31"' in page and "☾ 5" in page
    assert "Keogram" in page and "Timelapse" in page
    assert "No nights" not in page
    assert "Nothing in this month" in text(client.get("/camera/1/nights?month=2024-11"))


def test_night_page_shows_products_and_thumbnails_linking_to_the_viewer(client, night):
    page = text(client.get(NIGHT_URL))
    assert f'<video id="timelapse" controls preload="metadata" playsinline src="{night.products["video"][1]}"' in page
    assert f'src="{night.products["keogram"][1]}"' in page
    assert f'src="{night.products["startrail"][1]}"' in page
    assert night.products["minivideo"][1] in page and "meteor" in page
    for image_id, thumb in night.thumbnails.items():
        assert f'href="/camera/1/image/{image_id}"' in page
        assert f'src="{thumb}"' in page  # the thumbnail asset, not the full image
    assert "Images <span class=\"muted\">(5)</span>" in page
    assert 'href="/camera/1/night/2024-12-31/charts"' in page


def test_night_grid_falls_back_to_the_image_without_a_thumbnail(client, sender, camera):
    upload_night(sender, count=1, thumbs=False, products=False)
    page = text(client.get(NIGHT_URL))
    assert re.search(r'<img src="/indi-allsky/images/ccd_[^"]+/ccd1_20241231_190000\.jpg"', page)


def _grid_ids(html: str) -> list:
    return [int(i) for i in re.findall(r'<li id="a(\d+)">', html)]


def _link(html: str, rel: str):
    m = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return m.group(1).replace("&amp;", "&") if m else None


def test_night_grid_pages_with_a_keyset_through_all_images_and_back(app, client, camera):
    bulk_images(app, camera, 300, dt.datetime(2025, 1, 1, 0, 0))
    seen, url, pages = [], NIGHT_URL, []
    while url:
        html = text(client.get(url))
        pages.append(_grid_ids(html))
        seen.extend(pages[-1])
        url = _link(html, "next")
    assert [len(p) for p in pages] == [120, 120, 60]
    assert seen == sorted(seen) and len(set(seen)) == 300
    html = text(client.get(f"{NIGHT_URL}?last=1"))
    assert _grid_ids(html) == seen[-120:]
    back = _link(html, "prev")
    assert _grid_ids(text(client.get(back))) == seen[-240:-120]


def test_images_with_the_same_time_are_neither_skipped_nor_repeated(app, client, camera):
    bulk_images(app, camera, 250, dt.datetime(2025, 1, 1, 1, 0), same_time=True)
    html = text(client.get(NIGHT_URL))
    first = _grid_ids(html)
    rest = _grid_ids(text(client.get(_link(html, "next"))))
    assert len(first) == 120 and len(set(first) | set(rest)) == 240 and not set(first) & set(rest)


def test_image_viewer_has_metadata_and_previous_next_links(client, night):
    middle = night.images[2]
    page = text(client.get(f"/camera/1/image/{middle}"))
    assert f'<a rel="prev" href="/camera/1/image/{night.images[1]}">' in page
    assert f'<a rel="next" href="/camera/1/image/{night.images[3]}">' in page
    assert "2024-12-31 19:02:00 UTC-05:00" in page and "2025-01-01 00:02:00" in page
    assert "13 s" in page and "bin 1×1" in page and "-3.2 °C" in page and "402" in page
    assert "3 / 5" in page
    first = text(client.get(f"/camera/1/image/{night.images[0]}"))
    assert 'rel="prev"' not in first and 'rel="next"' in first


def test_charts_page_draws_an_svg_per_measured_series(client, night):
    page = text(client.get(f"{NIGHT_URL}/charts"))
    for key in ("exposure", "adu", "temp", "stars", "sqm"):
        assert f'id="chart-{key}"' in page
    assert page.count('<svg class="chart"') >= 5
    assert "<path class=\"series\" d=\"M" in page


def test_charts_of_a_night_without_images_say_so(client, camera):
    assert "No measurements" in text(client.get(f"{NIGHT_URL}/charts"))


def test_day_pages_are_separate_from_nights(client, sender, camera):
    upload_night(sender, count=2, products=False)
    meta = mdh.asset("image", when=mdh.NIGHT_START + 86400 // 2, night=False, dayDate="20250101")
    assert sender.send("POST", "image", meta, media=b"\xff\xd8\xffday").status_code == 200
    assert "(1)" in text(client.get("/camera/1/day/2025-01-01"))
    assert "(2)" in text(client.get(NIGHT_URL))
    assert "☀ 1" in text(client.get("/camera/1/nights?month=2025-01"))


def test_unknown_camera_date_period_or_image_is_404(client, night):
    for url in ("/camera/99", "/camera/99/nights", "/camera/1/night/2024-13-45", "/camera/1/dusk/2024-12-31",
                "/camera/1/image/999999", f"/camera/1/image/{night.products['keogram'][0]}",
                f"{NIGHT_URL}?kind=thumbnail"):
        assert client.get(url).status_code == 404, url


def test_hidden_camera_is_shown_to_admins_only(app, client, admin_client, night):
    anonymous = app.test_client()
    with app.app_context():
        db.session.get(Camera, 1).hidden = True
        db.session.commit()
    assert anonymous.get("/camera/1").status_code == 404
    assert "ZWO" not in text(anonymous.get("/"))
    assert anonymous.get("/api/now").get_json()["cameras"] == []
    assert admin_client.get("/camera/1").status_code == 200


def test_several_cameras_each_have_their_own_pages(client, sender, camera):
    other = "0b7c4d2e-1f3a-4b5c-9d6e-7f8091a2b3c4"
    resp = sender.send("PUT", "camera", mdh.camera("Backyard", other), media=b"", media_name="bogus.ext")
    other_id = resp.get_json()["id"]
    upload_night(sender, count=2, products=False)
    second = Sender(sender.client)
    meta = mdh.asset("image", when=mdh.NIGHT_START, camera_uuid=other)
    assert second.send("POST", "image", meta, media=b"\xff\xd8\xffother").status_code == 200
    assert "(2)" in text(client.get(NIGHT_URL))
    assert "(1)" in text(client.get(f"/camera/{other_id}/night/2024-12-31"))
    now = text(client.get("/"))
    assert "Backyard" in now and "ZWO ASI462MC" in now
