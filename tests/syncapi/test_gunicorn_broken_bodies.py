"""Through real gunicorn with a raw socket: bodies a client library never sends.  Each is a 4xx JSON error
and leaves no row, no file and nothing in staging."""
from __future__ import annotations

import os

import pytest
import requests
from sqlalchemy import func, select

from skyfleet.extensions import db
from skyfleet.models import Asset
from tests.helpers import metadata as mdh
from tests.helpers.live import app_on_server_database, running_server
from tests.helpers.rawhttp import chunked, exchange, request_head
from tests.helpers.wire import dumps, multipart, sized, v1_headers, v2_headers

pytestmark = pytest.mark.slow
IMAGE = "/indi-allsky/sync/v1/image"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("broken-bodies")) as srv:
        headers = v1_headers(srv.user, srv.key, dumps(mdh.camera()))
        body, ctype = multipart(dumps(mdh.camera()), b"", "bogus.ext")
        resp = requests.put(srv.url + "/indi-allsky/sync/v1/camera", data=body,
                            headers={**headers, "Content-Type": ctype}, timeout=30)
        assert resp.status_code == 200, resp.text
        yield srv


@pytest.fixture(scope="module")
def database(server):
    """An app on the live server's database, to look at the rows it wrote."""
    with app_on_server_database(server) as app:
        yield app


def assert_nothing_stored(server, database):
    with database.app_context():
        assert db.session.scalar(select(func.count(Asset.id))) == 0
    images = server.root / "data" / "images"
    assert [p for p in images.rglob("*") if p.is_file()] == []  # staging included


def image_upload(server, media: bytes = b"\xff\xd8\xff sky \xff\xd9" * 100, when: int = mdh.NIGHT_START):
    """(headers, complete multipart body) of a valid, signed image upload."""
    meta = dumps(sized(mdh.asset("image", when=when), media))
    body, ctype = multipart(meta, media, "sky.jpg")
    return {**v1_headers(server.user, server.key, meta), "Content-Type": ctype}, body


def test_complete_multipart_shorter_than_content_length_is_not_stored(server, database):
    headers, body = image_upload(server)
    head = request_head("PUT", IMAGE, {**headers, "Content-Length": str(len(body) + 500)})
    reply = exchange("127.0.0.1", server.port, head + body)  # then the client shuts its side
    assert reply.status == 400 and reply.json()["error"] == "incomplete_body", reply
    assert_nothing_stored(server, database)


def test_body_cut_inside_the_media_is_not_stored(server, database):
    headers, body = image_upload(server, media=os.urandom(300_000))
    head = request_head("PUT", IMAGE, {**headers, "Content-Length": str(len(body))})
    reply = exchange("127.0.0.1", server.port, head + body[:200_000])
    assert reply.status == 400 and reply.json()["error"] in ("incomplete_body", "multipart_invalid"), reply
    assert_nothing_stored(server, database)


@pytest.mark.parametrize("size_line", [b"zz", b"-1", b"", b"1x", b"0x10"])
def test_invalid_chunk_size_is_a_client_error(server, database, size_line):
    headers, body = image_upload(server)
    head = request_head("PUT", IMAGE, {**headers, "Transfer-Encoding": "chunked"})
    request = head + f"{len(body):x}\r\n".encode() + body + b"\r\n" + size_line + b"\r\nxx\r\n0\r\n\r\n"
    reply = exchange("127.0.0.1", server.port, request)
    assert reply.status == 400 and reply.json()["error"] == "incomplete_body", reply
    assert_nothing_stored(server, database)


def test_invalid_first_chunk_size_is_a_json_400(server, database):
    headers, body = image_upload(server)
    head = request_head("PUT", IMAGE, {**headers, "Transfer-Encoding": "chunked"})
    reply = exchange("127.0.0.1", server.port, head + b"zz\r\n" + body + b"\r\n0\r\n\r\n")
    assert reply.status == 400 and reply.json()["error"] == "incomplete_body", reply
    assert_nothing_stored(server, database)


def test_chunked_body_closed_before_its_last_chunk_is_not_stored(server, database):
    headers, body = image_upload(server)
    head = request_head("PUT", IMAGE, {**headers, "Transfer-Encoding": "chunked"})
    reply = exchange("127.0.0.1", server.port, head + chunked(body)[:-5])  # no last-chunk
    assert reply.status == 400 and reply.json()["error"] == "incomplete_body", reply
    assert_nothing_stored(server, database)


def test_whole_chunked_body_is_stored(server, database):
    headers, body = image_upload(server, when=mdh.NIGHT_START + 3600)
    head = request_head("PUT", IMAGE, {**headers, "Transfer-Encoding": "chunked"})
    reply = exchange("127.0.0.1", server.port, head + chunked(body[:100], body[100:]))
    assert reply.status == 200, reply
    with database.app_context():
        asset = db.session.get(Asset, reply.json()["id"])
        assert (server.root / "data" / "images" / asset.filename).stat().st_size == asset.file_size
    delete_meta = dumps({"id": reply.json()["id"], "camera_uuid": mdh.asset("image")["camera_uuid"]})
    body, ctype = multipart(delete_meta, b"", "bogus.ext")
    gone = requests.delete(server.url + IMAGE, data=body, timeout=30,
                           headers={**v1_headers(server.user, server.key, delete_meta), "Content-Type": ctype})
    assert gone.status_code == 200
    assert_nothing_stored(server, database)


def test_skyfleet_date_that_is_not_ascii_digits_is_401(server, database):
    media = b"sky"
    meta = dumps(sized(mdh.asset("image"), media))
    body, ctype = multipart(meta, media, "sky.jpg")
    headers = {**v2_headers(server.user, server.key, "PUT", IMAGE, meta, media), "Content-Type": ctype,
               "X-Skyfleet-Date": "\u00b2", "Content-Length": str(len(body))}  # '²': str.isdigit() says yes
    reply = exchange("127.0.0.1", server.port, request_head("PUT", IMAGE, headers) + body)
    assert reply.status == 401 and "X-Skyfleet-Date" in reply.json()["message"], reply
    assert_nothing_stored(server, database)


@pytest.mark.parametrize("path", ["/indi-allsky/images/../secret.key", "/indi-allsky/images/%2e%2e/secret.key",
                                  "/indi-allsky/images/..%2fsecret.key", "/indi-allsky/images//..//secret.key"])
def test_media_paths_never_leave_the_storage_folder(server, path):
    secret = server.root / "data" / "secret.key"
    assert secret.is_file() and secret.stat().st_size > 0  # what a traversal would reach
    reply = exchange("127.0.0.1", server.port, request_head("GET", path, {"Connection": "close"}))
    if reply.status == 308:  # werkzeug merges the slashes first; the browser would follow
        follow = reply.headers["location"].removeprefix("http://127.0.0.1")
        reply = exchange("127.0.0.1", server.port, request_head("GET", follow, {"Connection": "close"}))
    assert reply.status in (400, 404), reply
    assert secret.read_bytes() not in reply.body
