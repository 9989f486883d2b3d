"""The protocol document's worked examples, checked against the test helper and the live server."""
import hashlib
import hmac

import pytest

from skyfleet.syncapi import views
from tests.helpers import metadata as mdh
from tests.helpers.wire import EXAMPLE_KEY, EXAMPLE_USER, multipart, v1_hmac

EXAMPLE_TIME = 1735689845
KEOGRAM_META = (b'{"type": 4, "createDate": 1735689600, "utc_offset": -18000.0, "dayDate": "20241231", '
                b'"night": true, "camera_uuid": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "height": 720, '
                b'"width": 1440, "frames": 1440, "fileSize": 245760, "data": {"max_kpindex": 2.33, '
                b'"avg_stars": 412}, "file_size": 245760}')
KEOGRAM_HMAC = ("8cb0788226989a4ae5a8dc02405ddd376a3f59837c4e1ed15ab6bdfc9a06be1f05aeca31271be55b2b33f3c32142f9"
                "366069d174c29d2d837bda953729437cd8")
CAMERA_META = (b'{"type": 1, "name": "ZWO ASI462MC", "driver": "indi_asi_ccd", "uuid": '
               b'"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "file_size": 0}')
CAMERA_HMAC = ("a4c8806369cafe8a4a698722560ee11456980cc48c33db4260c70fb826e5ebd26d1021c41187991a3e6d583d6a75c9e2b"
               "a841f2920cb7ad2212b09e4bc6e255c")


def test_helper_reproduces_protocol_examples():
    assert len(KEOGRAM_META) == 290
    assert v1_hmac(EXAMPLE_KEY, EXAMPLE_TIME, KEOGRAM_META) == KEOGRAM_HMAC
    assert v1_hmac(EXAMPLE_KEY, EXAMPLE_TIME, CAMERA_META) == CAMERA_HMAC
    assert v1_hmac(EXAMPLE_KEY, EXAMPLE_TIME - 300, KEOGRAM_META).startswith("9d6e6c5d3ec93a394fb7e64440661bb6")
    assert v1_hmac(EXAMPLE_KEY, EXAMPLE_TIME + 300, KEOGRAM_META).startswith("5d8fbdba6fb01a1bff678c47f2125b6a")


def _send(client, segment, meta, media, sig):
    body, ctype = multipart(meta, media, "keogram.jpg" if media else "bogus.ext")
    return client.put(f"/indi-allsky/sync/v1/{segment}", data=body, content_type=ctype,
                      headers={"Authorization": f"Bearer {EXAMPLE_USER}:{sig}"})


def test_server_accepts_the_exact_example_requests(client, api_user, monkeypatch):
    monkeypatch.setattr(views, "clock", lambda: EXAMPLE_TIME)
    resp = _send(client, "camera", CAMERA_META, b"", CAMERA_HMAC)
    assert resp.status_code == 200, resp.get_json()
    resp = _send(client, "keogram", KEOGRAM_META, b"\xff\xd8" + b"\xff" * 245758, KEOGRAM_HMAC)  # JPEG SOI, then fill
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"id", "url"}
    # createDate 1735689600 at UTC-5 belongs to the night of 2024-12-31
    assert body["url"] == ("images/ccd_6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/timelapse/20241231/"
                           "allsky-keogram_ccd1_20241231_night_1735689600.jpg")


@pytest.mark.parametrize("server_offset_buckets,accepted", [
    (0, True), (1, True), (2, True), (3, True), (4, True), (-1, True), (5, False), (-2, False)])
def test_v1_time_buckets(client, api_user, monkeypatch, server_offset_buckets, accepted):
    """The server tries T, T-1, T+1, T-2, T-3, T-4: a signature up to 4 buckets old or 1 ahead passes."""
    monkeypatch.setattr(views, "clock", lambda: EXAMPLE_TIME + 300 * server_offset_buckets)
    resp = _send(client, "camera", CAMERA_META, b"", CAMERA_HMAC)
    assert (resp.status_code == 200) is accepted, resp.get_json()
    if not accepted:
        assert resp.status_code == 401
        assert resp.get_json()["error"] == "authentication failed"


def test_uppercase_hex_signature_is_rejected(client, api_user, monkeypatch):
    monkeypatch.setattr(views, "clock", lambda: EXAMPLE_TIME)
    resp = _send(client, "camera", CAMERA_META, b"", CAMERA_HMAC.upper())
    assert resp.status_code == 401


def test_v2_signature_covers_method_and_path(client, api_user):
    from tests.helpers.wire import dumps, v2_headers
    meta = dumps({**mdh.camera(), "file_size": 0})
    body, ctype = multipart(meta, b"", "bogus.ext")
    headers = v2_headers(EXAMPLE_USER, EXAMPLE_KEY, "PUT", "/indi-allsky/sync/v1/camera", meta, b"")
    # same signature, other endpoint: refused
    resp = client.put("/indi-allsky/sync/v1/image", data=body, content_type=ctype, headers=headers)
    assert resp.status_code == 401
    # same signature, other method: refused
    resp = client.post("/indi-allsky/sync/v1/camera", data=body, content_type=ctype, headers=headers)
    assert resp.status_code == 401
    resp = client.put("/indi-allsky/sync/v1/camera", data=body, content_type=ctype, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    expected = hmac.new(EXAMPLE_KEY.encode(), "\n".join([
        "SKYFLEET-HMAC-SHA256", "PUT", "/indi-allsky/sync/v1/camera", headers["X-Skyfleet-Date"],
        headers["X-Skyfleet-Nonce"], hashlib.sha256(meta).hexdigest(), hashlib.sha256(b"").hexdigest()]).encode(),
        hashlib.sha256).hexdigest()
    assert headers["Authorization"].endswith(expected)
