"""The UI in a real headless Chromium (Debian's), driven by Playwright, against gunicorn.

Content is real: synthetic sky JPEGs, thumbnails and an H.264 timelapse uploaded through the SyncAPI.
Screenshots of each page go to artifacts/screenshots/.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.helpers.apikey_display import assert_key_shown_once, assert_no_part_of_key, expected_fingerprint
from tests.helpers.live import running_server
from tests.helpers.wire import Sender

from .livesite import (
    CameraSite,
    HttpClient,
    add_longterm_months,
    last_complete_night,
    register,
    upload_frame,
    upload_night,
)
from .skydata import Sky

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ADMIN, ADMIN_PW = "admin", "admin password for the browser"

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("web-live")
    with running_server(root, extra_settings="[web]\npublic = false\n") as srv:
        srv.cli("user", "add", ADMIN, "--admin", "--password-stdin", stdin=ADMIN_PW + "\n")
        sender = Sender(HttpClient(srv.url), user=srv.user, key=srv.key)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        main = CameraSite("ZWO ASI462MC", "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", -18000, "America/New_York",
                          40.1, Sky("ZWO ASI462MC", latitude=40.1, seed=7))
        second = CameraSite("Backyard ASI120MC", "0b7c4d2e-1f3a-4b5c-9d6e-7f8091a2b3c4", 3600, "Europe/Berlin",
                            52.5, Sky("Backyard ASI120MC", latitude=52.5, seed=11, stars=1800))
        for cam in (main, second):
            register(sender, cam)
        upload_night(sender, main, last_complete_night(main.offset, now), step_minutes=8)
        upload_night(sender, second, last_complete_night(second.offset, now), step_minutes=20, fps=8.0,
                     meteor_at=20)
        yield {"server": srv, "sender": sender, "main": main, "second": second}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser tab that records console errors (CSP violations show up there) and takes screenshots."""

    def __init__(self, context):
        self.context = context
        self.tab = context.new_page()
        self.errors = []
        self.tab.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.tab.on("pageerror", lambda e: self.errors.append(str(e)))

    def shot(self, name: str, full_page: bool = False) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def new_page(browser, site, **context_args) -> Page:
    context = browser.new_context(base_url=site["server"].url, **{"viewport": {"width": 1280, "height": 860},
                                                                  **context_args})
    return Page(context)


def log_in(page: Page, path: str = "/") -> None:
    tab = page.tab
    tab.goto(path)
    assert "/login" in tab.url  # [web] public = false
    tab.fill("input[name=username]", ADMIN)
    tab.fill("input[name=password]", ADMIN_PW)
    tab.click("button[type=submit]")
    tab.wait_for_load_state()
    assert "/login" not in tab.url


@pytest.fixture
def page(browser, site):
    page = new_page(browser, site)
    yield page
    page.context.close()
    assert page.errors == [], page.errors


def test_login_then_the_latest_image_updates_without_reloading(page, site):
    tab = page.tab
    log_in(page, "/?refresh=2")
    assert tab.url.endswith("/?refresh=2")
    main = site["main"]
    card = tab.locator(f'[data-camera-id="{main.camera_id}"]')
    before = card.get_attribute("data-image-id")
    assert before == str(main.image_ids[-1])
    tab.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert tab.locator(".now-card").count() == 2
    page.shot("now")
    tab.evaluate("() => { window.__sameDocument = true; }")
    upload_frame(site["sender"], main, main.last_local + dt.timedelta(minutes=8), 999, main.day)
    tab.wait_for_function(
        f"() => document.querySelector('[data-camera-id=\"{main.camera_id}\"]').dataset.imageId === "
        f"'{main.image_ids[-1]}'", timeout=20000)
    assert tab.evaluate("() => window.__sameDocument") is True  # no page reload
    src = card.locator("img").get_attribute("src")  # the stable latest URL, versioned by the image's id
    assert src == f"/latest/{main.camera_id}/image?v={main.image_ids[-1]}"
    status, canonical = tab.evaluate("src => fetch(src).then(r => [r.status, r.headers.get('Link')])", src)
    assert status == 200 and main.last_local.strftime("%Y%m%d_%H%M%S") in canonical
    assert main.last_local.strftime("%Y-%m-%d %H:%M:%S UTC-05:00") in card.inner_text()
    # a camera that syncs for the first time appears as a new card, still without a reload
    roof = CameraSite("Roof camera", "5d6e7f80-91a2-4b3c-8d4e-5f60718293a4", 0, "UTC", 48.0,
                      Sky("Roof camera", latitude=48.0, seed=3, stars=1200))
    register(site["sender"], roof)
    upload_frame(site["sender"], roof, dt.datetime(2025, 1, 2, 1, 0), 0, dt.date(2025, 1, 1))
    new_card = tab.locator(f'[data-camera-id="{roof.camera_id}"]')
    new_card.locator("img").wait_for(state="visible", timeout=20000)
    assert "Roof camera" in new_card.inner_text() and "2025-01-02 01:00:00 UTC+00:00" in new_card.inner_text()
    assert tab.evaluate("() => window.__sameDocument") is True


def test_a_night_with_its_timelapse_playing(page, site):
    tab = page.tab
    main = site["main"]
    log_in(page, f"/camera/{main.camera_id}/nights")
    page.shot("nights")
    tab.click(f'a[href="/camera/{main.camera_id}/night/{main.day.isoformat()}"] >> nth=0')
    tab.wait_for_load_state()
    assert tab.locator(".thumbs li").count() > 50
    tab.wait_for_function("() => [...document.querySelectorAll('.thumbs img')].slice(0, 12)"
                          ".every(i => i.complete && i.naturalWidth === 320)")
    video = tab.locator("#timelapse")
    assert video.get_attribute("src") == main.video_url
    tab.evaluate("() => { const v = document.getElementById('timelapse'); v.muted = true; return v.play(); }")
    tab.wait_for_function("() => { const v = document.getElementById('timelapse');"
                          " return v.readyState >= 2 && v.currentTime > 1.0; }", timeout=20000)
    tab.evaluate("() => document.getElementById('timelapse').pause()")
    assert tab.evaluate("() => document.getElementById('timelapse').videoWidth") > 0
    assert tab.evaluate("() => document.querySelector('img.keogram').naturalWidth") > 0
    page.shot("night")
    page.shot("night-full", full_page=True)


def test_image_viewer_steps_with_the_arrow_keys(page, site):
    tab = page.tab
    main = site["main"]
    middle = main.image_ids[len(main.image_ids) // 2]
    log_in(page, f"/camera/{main.camera_id}/image/{middle}")
    tab.wait_for_function("() => document.getElementById('viewer-image').naturalWidth > 0")
    page.shot("image")
    first_url = tab.url
    tab.keyboard.press("ArrowRight")
    tab.wait_for_url(lambda url: url != first_url)
    assert tab.url.endswith(f"/image/{main.image_ids[len(main.image_ids) // 2 + 1]}")
    tab.keyboard.press("ArrowLeft")
    tab.wait_for_url(lambda url: url.endswith(f"/image/{middle}"))


def test_charts_render_as_svg(page, site):
    tab = page.tab
    main = site["main"]
    log_in(page, f"/camera/{main.camera_id}/night/{main.day.isoformat()}/charts")
    assert tab.locator("svg.chart").count() >= 5
    box = tab.locator("#chart-exposure svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 80
    page.shot("charts", full_page=True)


def test_the_loop_plays_pauses_and_steps(page, site):
    tab = page.tab
    main = site["main"]
    log_in(page, f"/camera/{main.camera_id}/loop?n=60&fps=10")
    state = "() => document.getElementById('loop').dataset"
    tab.wait_for_function(f"() => ({state})().playing === '1'")
    first = tab.evaluate(f"() => ({state})().index")
    tab.wait_for_function(f"() => ({state})().index !== '{first}'", timeout=10000)  # it plays
    tab.click("[data-role=play]")
    assert tab.evaluate(f"() => ({state})().playing") == "0" and tab.inner_text("[data-role=play]") == "Play"
    paused_at = int(tab.evaluate(f"() => ({state})().index"))
    tab.keyboard.press("ArrowRight")
    assert int(tab.evaluate(f"() => ({state})().index")) == (paused_at + 1) % 60
    tab.wait_for_function("() => { const i = document.querySelector('[data-role=screen]');"
                          " return i.complete && i.naturalWidth === 320; }")  # thumbnails, not the full frames
    page.shot("loop")


def test_the_gallery_shows_the_month_with_products(page, site):
    tab = page.tab
    main = site["main"]
    log_in(page, f"/camera/{main.camera_id}/gallery?month={main.day:%Y-%m}")
    night = tab.locator(f'li[data-night="{main.day.isoformat()}"]')
    assert night.locator('[data-kind="keogram"] img').count() == 1
    assert night.locator('[data-kind="video"] img').count() == 1  # the timelapse's own thumbnail
    tab.wait_for_function("() => [...document.querySelectorAll('.gallery img')].every(i => i.complete"
                          " && i.naturalWidth > 0)")
    page.shot("gallery")


def test_the_long_term_keogram_of_three_months(page, site):
    main = site["main"]
    add_longterm_months(site["server"], main, nights=90)
    tab = page.tab
    log_in(page, f"/camera/{main.camera_id}/longterm")
    assert "the last 90 nights" in tab.inner_text("main")
    tab.wait_for_function("() => { const i = document.querySelector('.longterm img');"
                          " return i.complete && i.naturalWidth === 90 * 12 && i.naturalHeight === 576; }")
    page.shot("longterm")


def test_admin_creates_a_user_and_sees_their_key_once(page, site):
    tab = page.tab
    log_in(page, "/admin/")
    assert "ZWO ASI462MC" in tab.inner_text("main")
    page.shot("admin-status")
    tab.goto("/admin/users")
    tab.fill("input[name=username]", "camera-2")
    tab.fill("input[name=password]", "camera two password")
    tab.fill("input[name=confirm]", "camera two password")
    tab.click("form.stack button[type=submit]")
    tab.wait_for_load_state()
    tab.click('tr[data-user="camera-2"] button:has-text("Create key")')
    tab.wait_for_load_state()
    key = tab.input_value("#apikey")
    assert len(key) == 64
    assert_key_shown_once(key, tab.content())
    assert expected_fingerprint(key) in tab.inner_text(".keybox")
    page.shot("admin-apikey")
    tab.goto("/admin/users")
    assert_no_part_of_key(key, tab.content())
    assert expected_fingerprint(key) in tab.inner_text('tr[data-user="camera-2"]')
    page.shot("admin-users")


def test_phone_layout_has_no_horizontal_scrolling(browser, site):
    page = new_page(browser, site, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                    has_touch=True)
    try:
        main = site["main"]
        log_in(page, "/")
        for name, path in (("phone-now", "/"), ("phone-night", f"/camera/{main.camera_id}/night/{main.day}"),
                           ("phone-nights", f"/camera/{main.camera_id}/nights"),
                           ("phone-loop", f"/camera/{main.camera_id}/loop"),
                           ("phone-gallery", f"/camera/{main.camera_id}/gallery?month={main.day:%Y-%m}")):
            page.tab.goto(path)
            page.tab.wait_for_load_state("networkidle")
            assert page.tab.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), path
            page.shot(name)
        assert page.errors == []
    finally:
        page.context.close()
