"""The whole appliance: a frame captured on the camera host shows up on the web server."""
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

CHAIN_TIMEOUT = 180  # seconds: capture period 15 s, processing, upload queue


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

    out = "/tmp/skyfleet-latest.jpg"
    code, err = curl(host, f"https://{remote_name}{BASE_PATH}/{asset['url']}",
                     "--cacert", f"{CONFIG_DIR}/remote-remote-ca.pem", output=out)
    assert code == "200", err
    assert file_magic(host, out) == JPEG_MAGIC
