"""The whole appliance: a frame captured on the camera host shows up on the web server."""
import datetime as dt
import os
import tomllib

import pytest
from skyfleet_testinfra import (
    BASE_PATH,
    CONFIG_DIR,
    JPEG_MAGIC,
    curl,
    file_magic,
    first_name_of_group,
    first_of_group,
    latest_asset,
    only_on,
    variables,
    wait_for,
)

from skyfleet.capture.sky import is_night, sky_state

CHAIN_TIMEOUT = 180  # seconds: capture period 15 s, processing, upload queue
# script/test-ansible places each scenario's camera where it is noon or midnight at the start of the run
SITE_LONGITUDES = {"noon": "SKYFLEET_TEST_NOON_LONGITUDE", "midnight": "SKYFLEET_TEST_MIDNIGHT_LONGITUDE"}


@pytest.fixture(autouse=True)
def _local_only(host):
    only_on(host, "local")


def test_captured_frame_appears_on_the_remote_and_is_served_over_https(host):
    remote = first_of_group(host, "remote")
    remote_name = first_name_of_group(host, "remote")
    camera = variables(host).get("skyfleet_camera_name")

    def frame_from_this_camera():
        asset = latest_asset(remote, "image")
        return asset if asset and (camera is None or asset["camera"] == camera) else None

    asset = wait_for(frame_from_this_camera, CHAIN_TIMEOUT)
    assert asset, (f"no image from camera {camera!r} on {remote_name} after {CHAIN_TIMEOUT} s "
                   f"(skyfleet asset latest --kind image: {latest_asset(remote, 'image')})")

    _assert_taken_in_the_period_the_sun_gives(host, asset)

    out = "/tmp/skyfleet-latest.jpg"
    code, err = curl(host, f"https://{remote_name}{BASE_PATH}/{asset['url']}",
                     "--cacert", f"{CONFIG_DIR}/remote-remote-ca.pem", output=out)
    assert code == "200", err
    assert file_magic(host, out) == JPEG_MAGIC


def _assert_taken_in_the_period_the_sun_gives(host, asset):
    capture = tomllib.loads(host.file(f"{CONFIG_DIR}/skyfleet.toml").content_string)["capture"]
    taken = dt.datetime.fromisoformat(asset["create_date_utc"]).replace(tzinfo=dt.timezone.utc)
    sun = sky_state(capture["latitude"], capture["longitude"], capture.get("elevation", 0.0), taken).sun_alt
    assert asset["night"] == is_night(sun, capture.get("night_sun_alt", -6.0)), (asset, sun)
    placed = {when: float(os.environ[var]) for when, var in SITE_LONGITUDES.items() if os.environ.get(var)}
    if placed:  # run by script/test-ansible: the site really was moved to noon or midnight
        when = next((w for w, lon in placed.items() if abs(lon - capture["longitude"]) < 0.05), None)
        assert when is not None, (capture["longitude"], placed)
        assert asset["night"] == (when == "midnight"), (when, asset, sun)
