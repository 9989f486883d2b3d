"""Outside the SyncAPI a request body is small (forms): a bigger one gets 413 before it is read.

Measured by counting the bytes the app pulls from wsgi.input: werkzeug spools a multipart file part
over 500 KiB to an unlinked temporary file, so reading nothing is the proof nothing was written.
"""
from __future__ import annotations

import io
import uuid

import pytest

from skyfleet.settings import WebSettings
from tests.helpers import metadata as mdh
from tests.helpers import rawhttp
from tests.helpers.live import running_server

from .conftest import JPEG, csrf_token

MB = 1024 * 1024
FORM_LIMIT = 64 * 1024


class CountingStream(io.RawIOBase):
    """`size` bytes of a multipart body with one file part, produced on demand; counts what is read."""

    def __init__(self, size: int, boundary: str, fields: dict):
        head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                        for k, v in fields.items())
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n' \
                "Content-Type: application/octet-stream\r\n\r\n".encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        self.head, self.tail, self.fill = head, tail, size - len(head) - len(tail)
        self.size, self.pos = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the length by seeking to the end and back
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buf) -> int:
        start = self.pos
        end = min(self.size, start + len(buf))
        body_end = self.size - len(self.tail)
        data = bytearray(self.head[start:min(end, len(self.head))])
        data += b"x" * max(0, min(end, body_end) - max(start, len(self.head)))
        if end > body_end:
            data += self.tail[max(start, body_end) - body_end:end - body_end]
        buf[:len(data)] = data
        self.pos = end
        return len(data)


def big_post(client, url: str, size: int = 30 * MB, chunked: bool = False, fields: dict | None = None):
    boundary = uuid.uuid4().hex
    stream = CountingStream(size, boundary, fields or {})
    kwargs = {"input_stream": stream, "content_type": f"multipart/form-data; boundary={boundary}"}
    if chunked:
        kwargs["headers"] = {"Transfer-Encoding": "chunked"}
        kwargs["environ_overrides"] = {"wsgi.input_terminated": True}
    return client.post(url, **kwargs), stream


def test_the_default_form_limit_is_64_kib():
    assert WebSettings().max_form_kb == 64


@pytest.mark.parametrize("url", ["/login", "/logout", "/", "/no/such/page"])
def test_a_30_mb_anonymous_post_is_refused_before_its_body_is_read(client, url):
    token = csrf_token(client)
    resp, stream = big_post(client, url, fields={"csrf_token": token, "username": "x", "password": "y"})
    assert resp.status_code == 413
    assert stream.pos == 0
    assert "Request too large" in resp.get_data(as_text=True)


def test_a_30_mb_admin_form_is_refused_before_its_body_is_read(admin_client):
    token = csrf_token(admin_client, "/admin/users")
    resp, stream = big_post(admin_client, "/admin/users", fields={"csrf_token": token})
    assert resp.status_code == 413 and stream.pos == 0


def test_a_chunked_body_without_length_is_cut_at_the_limit(client):
    token = csrf_token(client)
    resp, stream = big_post(client, "/login", chunked=True, fields={"csrf_token": token})
    assert resp.status_code == 413
    assert stream.pos <= FORM_LIMIT + 64 * 1024  # at most the limit and one read buffer


def test_the_limit_comes_from_the_settings(app_factory):
    app = app_factory(web={"max_form_kb": 1})
    client = app.test_client()
    token = csrf_token(client)
    ok = client.post("/login", data={"csrf_token": token, "username": "x", "password": "y" * 200})
    assert ok.status_code == 401
    resp, stream = big_post(client, "/login", size=2048, fields={"csrf_token": token})
    assert resp.status_code == 413 and stream.pos == 0


def test_the_largest_admin_form_fits(app, admin_client):
    token = csrf_token(admin_client, "/admin/users")
    pw = "p" * 1024  # the longest password the form takes, twice
    resp = admin_client.post("/admin/users", data={"csrf_token": token, "username": "u" * 64, "password": pw,
                                                   "confirm": pw, "admin": "y"})
    assert resp.status_code == 302


def test_a_20_mb_syncapi_upload_still_works(sender, camera):
    media = JPEG[:-2] + b"\x00" * (20 * MB) + b"\xff\xd9"
    resp = sender.send("POST", "image", mdh.asset("image"), media=media)
    assert resp.status_code == 200, resp.get_json()


def test_a_real_server_answers_413_without_waiting_for_the_body(tmp_path):
    """gunicorn on loopback: only the head of a 30 MB POST is sent, the answer comes anyway."""
    with running_server(tmp_path / "srv", workers=1) as srv:
        head = rawhttp.request_head("POST", "/login", {
            "Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(30 * MB),
            "Connection": "close"})
        reply = rawhttp.exchange("127.0.0.1", srv.port, head, close_write=False, timeout=10)
    assert reply.status == 413
