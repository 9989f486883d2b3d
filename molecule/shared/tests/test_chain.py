"""The whole appliance: a frame captured on the camera host shows up on the web server."""
import datetime as dt
import json
import os
import secrets
import shlex
from urllib.parse import quote

import pytest
import tomllib
from skyfleet_testinfra import (
    BASE_PATH,
    CONFIG_DIR,
    JPEG_MAGIC,
    account_keys,
    curl,
    file_magic,
    first_name_of_group,
    first_of_group,
    latest_asset,
    only_on,
    skyfleet,
    skyfleet_with_stdin,
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

    asset = wait_for(lambda: _frame_from(remote, camera), CHAIN_TIMEOUT)
    assert asset, (f"no image from camera {camera!r} on {remote_name} after {CHAIN_TIMEOUT} s "
                   f"(skyfleet asset latest --kind image: {latest_asset(remote, 'image')})")

    _assert_taken_in_the_period_the_sun_gives(host, asset)

    out = "/tmp/skyfleet-latest.jpg"
    code, err = curl(host, f"https://{remote_name}{BASE_PATH}/{asset['url']}",
                     "--cacert", f"{CONFIG_DIR}/remote-remote-ca.pem", output=out)
    assert code == "200", err
    assert file_magic(host, out) == JPEG_MAGIC


def test_the_stable_latest_url_serves_that_frame_through_the_proxy_and_revalidates(host):
    """What a club site embeds: /latest/<camera>/image through the real proxy keeps the validators, so a
    poller's If-None-Match gets a 304 (a proxy that compressed or buffered it could drop the ETag)."""
    remote = first_of_group(host, "remote")
    remote_name = first_name_of_group(host, "remote")
    camera = variables(host).get("skyfleet_camera_name")
    asset = wait_for(lambda: _frame_from(remote, camera), CHAIN_TIMEOUT)
    assert asset, f"no image from {camera!r} on {remote_name}"
    url = f"https://{remote_name}/latest/{quote(asset['camera'])}/image"
    ca = ("--cacert", f"{CONFIG_DIR}/remote-remote-ca.pem")
    headers = "/tmp/skyfleet-latest.headers"
    code, err = curl(host, url, *ca, "-D", headers, output="/tmp/skyfleet-latest-url.jpg")
    assert code == "200", err
    assert file_magic(host, "/tmp/skyfleet-latest-url.jpg") == JPEG_MAGIC
    answer = {k.strip().lower(): v.strip() for k, _, v in (
        line.partition(":") for line in host.file(headers).content_string.splitlines()[1:] if ":" in line)}
    assert "no-cache" in answer.get("cache-control", ""), answer
    assert answer.get("etag") and answer.get("last-modified"), answer
    code, err = curl(host, url, *ca, "-H", f"If-None-Match: {answer['etag']}")
    assert code == "304", f"revalidating {url} with its ETag: {code} {err}"


def _frame_from(remote, camera):
    """The remote's newest image if it comes from this camera (by name), else None."""
    asset = latest_asset(remote, "image")
    return asset if asset and (camera is None or asset["camera"] == camera) else None


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


def test_each_camera_host_uploads_with_its_own_account(host):
    """The remote made an account named after this camera host, with a key; the shared one is gone."""
    remote = first_of_group(host, "remote")
    keys = account_keys(remote)
    account = variables(host).get("skyfleet_syncapi_username", variables(host)["inventory_hostname"])
    assert keys.get(account, "key:none") != "key:none", keys
    assert keys.get("skyfleet-sync", "key:none") == "key:none", keys
    assert f'username = "{account}"' in host.file(f"{CONFIG_DIR}/skyfleet.toml").content_string


# What another camera host's account may do to this host's camera: nothing. A second account (as the
# remote makes for every camera host) signs a DELETE of this camera's newest image: 403, and it stays.
DELETE_AS = """
import json, sys
from skyfleet.upload.client import SyncClient
from skyfleet.upload.config import from_table
url, user, key, ca, camera, asset = sys.argv[1:]
remote = from_table({"remotes": [{"name": "other", "url": url, "username": user, "api_key": key,
                                  "ca_file": ca, "protocol": "skyfleet"}]}).remotes[0]
client = SyncClient(remote, key)
reply = client.request("DELETE", "image", {"camera_uuid": camera, "id": int(asset)})
print(json.dumps({"status": reply.status, "outcome": reply.outcome, "message": reply.message}))
"""


def test_another_camera_hosts_account_cannot_delete_this_cameras_image(host):
    remote = first_of_group(host, "remote")
    remote_name = first_name_of_group(host, "remote")
    camera = variables(host).get("skyfleet_camera_name")
    asset = wait_for(lambda: _frame_from(remote, camera), CHAIN_TIMEOUT)
    assert asset, f"no image from camera {camera!r} on {remote_name}"

    other, key = f"other-camera-{secrets.token_hex(4)}", secrets.token_hex(32)
    for args in (["user", "add", other, "--password-stdin"], ["user", "apikey", other, "--stdin"]):
        res = skyfleet_with_stdin(remote, secrets.token_urlsafe(24) if "add" in args else key, *args)
        assert res.rc == 0, res.stdout + res.stderr
    try:
        reply = _delete_image_as(host, other, key, asset)
    finally:
        skyfleet(remote, "user", "apikey", other, "--revoke")
    assert reply["status"] == 403, reply
    code, err = curl(host, f"https://{remote_name}{BASE_PATH}/{asset['url']}", "--cacert",
                     f"{CONFIG_DIR}/remote-remote-ca.pem")
    assert code == "200", f"the image is gone after the other account's DELETE ({reply}): {err}"


def _delete_image_as(host, username: str, key: str, asset: dict) -> dict:
    """A signed SyncAPI DELETE of `asset` from this host, as `username`: the reply's status and message."""
    remote_name = first_name_of_group(host, "remote")
    res = host.run(" ".join(shlex.quote(a) for a in [
        "/opt/skyfleet/venv/bin/python", "-c", DELETE_AS, f"https://{remote_name}{BASE_PATH}", username, key,
        f"{CONFIG_DIR}/remote-remote-ca.pem", asset["camera_uuid"], str(asset["id"])]))
    assert res.rc == 0, res.stdout + res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])
