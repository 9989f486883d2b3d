"""The camera host's pages show what skyfleet-capture says it is doing (capture-state.json).

The state file is written by a real capture loop, against a fake INDI driver that refuses every
exposure, through the same wiring as the service (capture.service.build_on_status)."""
from __future__ import annotations

import re

import pytest

from skyfleet.capture.indi_client import IndiCamera
from skyfleet.capture.loop import CaptureLoop
from skyfleet.capture.service import build_on_status
from skyfleet.capture.settings import CaptureSettings
from tests.capture.fake_indi import FakeCcd, FakeIndiServer
from tests.capture.fakes import fits_bytes
from tests.capture.test_loop import fixed_sky
from tests.helpers.wire import EXAMPLE_KEY

from .conftest import ADMIN, add_user, login


def text(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return re.sub(r"\s+", " ", resp.get_data(as_text=True))


@pytest.fixture
def camera_host(app_factory, tmp_path):
    key_file = tmp_path / "remote.key"
    key_file.write_text(EXAMPLE_KEY)
    app = app_factory(upload={"remotes": [{"name": "observatory", "url": "https://sky.invalid/indi-allsky",
                                           "username": "cam", "api_key_file": str(key_file)}]})
    client = app.test_client()
    add_user(app, ADMIN, "admin password 1", admin=True)
    login(client, ADMIN, "admin password 1")
    return app, client


def run_capture(app, mode: str, steps: int) -> None:
    srv = FakeIndiServer(FakeCcd("Roof CCD", mode=mode, frame=fits_bytes(3000.0)))
    try:
        settings = CaptureSettings(latitude=52.0, longitude=4.9, indi_port=srv.port, ccd_device="Roof CCD",
                                   period=0.01, connect_timeout=5.0, blob_margin=5.0)
        data_dir = str(app.extensions["skyfleet"].settings.data_dir)
        loop = CaptureLoop(settings, IndiCamera.from_settings, lambda f, c: None, sky=fixed_sky(-30.0),
                           on_status=build_on_status({"data_dir": data_dir}))
        for _ in range(steps):
            loop.step()
        loop.watchdog.close()
    finally:
        srv.close()


def test_before_the_capture_reports_the_admin_page_says_so(camera_host):
    _, client = camera_host
    assert "The capture service has not reported yet." in text(client.get("/admin/"))


def test_a_driver_refusing_exposures_shows_on_the_admin_and_now_pages(camera_host):
    app, client = camera_host
    run_capture(app, "refuse_all", 2)
    page = text(client.get("/admin/"))
    assert re.search(r'Capture service: <span class="pill warn">refused</span> Roof CCD refused a \S+s exposure '
                     r"\(CCD_EXPOSURE Alert\): no message from the driver; next try", page), page
    assert "driver accepts 0.001..3600 s" in page
    now = text(client.get("/"))
    assert '<span class="pill warn" data-role="capture-problem">Capture refused: Roof CCD refused a' in now


def test_a_working_capture_shows_capturing_and_no_problem(camera_host):
    app, client = camera_host
    run_capture(app, "ok", 1)
    page = text(client.get("/admin/"))
    assert 'Capture service: <span class="pill ok">capturing</span> night frames every 0.01 s' in page
    assert "1 frame(s) since start" in page
    assert "capture-problem" not in text(client.get("/"))
