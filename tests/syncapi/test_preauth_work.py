"""What a request makes the server do before it is authenticated (issue 13, item 2).

With only a user name (skyfleet's Ansible default `skyfleet-sync` is public) a v1 request must not
make the server hold much memory or store media: the multipart framing it buffers is capped, the
metadata part (which the v1 MAC covers) must come before anything else, and an unknown user is
answered exactly like a wrong key, after the same reads and the same computations.
"""
from __future__ import annotations

import io
import statistics
import time
import tracemalloc

import pytest

from skyfleet.apikeys import KeyBox
from skyfleet.core import signing
from skyfleet.syncapi import multipart
from tests.conftest import add_api_user
from tests.helpers import metadata as mdh
from tests.helpers.storage import assert_nothing_stored, stored_files
from tests.helpers.wire import BASE, EXAMPLE_KEY, EXAMPLE_USER, dumps, sized, v1_headers, v2_headers
from tests.helpers.wire import multipart as build_multipart

IMAGE = f"{BASE}/sync/v1/image"
MiB = 1024 * 1024
BOUNDARY = "0123456789abcdef0123456789abcdef"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"
WRONG_KEY = "9" * 64


def jpeg_bytes(size: int, fill: bytes = b"z") -> bytes:
    """JPEG's first bytes and filler: enough for a content check on the claimed type."""
    return b"\xff\xd8\xff\xe0" + fill * (size - 4)


class Body(io.RawIOBase):
    """A request body made on the fly from (block, count) pieces, counting what the server reads.

    It holds no copy of its own (a 200 MiB body costs nothing), so tracemalloc sees the server."""

    def __init__(self, *pieces):
        self.pieces = [p if isinstance(p, tuple) else (p, 1) for p in pieces]
        self.length = sum(len(block) * count for block, count in self.pieces)
        self.consumed = 0
        self._at = 0  # offset in the first piece's block
        self._pos = 0  # what tell() says: the test client seeks to the end and back to learn the length

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = self.length + offset if whence == 2 else offset
        return self._pos

    def readinto(self, out) -> int:
        assert self._pos == self.consumed, "only the test client's length probe seeks"
        n = 0
        while n < len(out) and self.pieces:
            block, count = self.pieces[0]
            take = min(len(out) - n, len(block) - self._at)
            out[n:n + take] = memoryview(block)[self._at:self._at + take]
            n += take
            self._at += take
            if self._at == len(block):
                self._at = 0
                self.pieces[0] = (block, count - 1)
                if count == 1:
                    self.pieces.pop(0)
        self.consumed += n
        self._pos = self.consumed
        return n


def part_head(name: str, filename: str, ctype: str = "application/octet-stream") -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {ctype}\r\n\r\n").encode()


CLOSE = f"--{BOUNDARY}--\r\n".encode()
JUNK = (b"j" * MiB, 200)  # 200 MiB, made as it is read


def metadata_part(meta: bytes) -> bytes:
    return part_head("metadata", "metadata.json", "application/json") + meta + b"\r\n"


def framing_cases(meta: bytes) -> dict:
    media = part_head("media", "a.jpg") + jpeg_bytes(10) + b"\r\n"
    return {
        "preamble": (JUNK, b"\r\n", metadata_part(meta), media, CLOSE),
        "part header": (f"--{BOUNDARY}\r\nX-Long: ".encode(), JUNK, b"\r\n\r\n", meta, b"\r\n", media, CLOSE),
        "epilogue": (metadata_part(meta), media, CLOSE, JUNK),
    }


def post(client, body: Body, headers: dict, path: str = IMAGE, method: str = "PUT"):
    return client.open(path, method=method, input_stream=body, content_length=body.length, content_type=CTYPE,
                       headers=headers)


def media_meta(media: bytes) -> bytes:
    return dumps(sized(mdh.asset("image"), media))


# -- (a) the framing the parser buffers is capped ------------------------------------------------

@pytest.mark.parametrize("where", ["preamble", "part header", "epilogue"])
def test_200_mb_of_framing_is_refused_after_reading_little_and_holding_less(tmp_path, where):
    meta = media_meta(jpeg_bytes(10))
    body = Body(*framing_cases(meta)[where])
    tracemalloc.start()
    try:
        with pytest.raises(multipart.BadRequest) as refused:
            multipart.read_upload(body, CTYPE, tmp_path, max_metadata=256 * 1024, max_media=1 << 32,
                                  on_metadata=lambda raw, digest: len(jpeg_bytes(10)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.code == "multipart_invalid"
    assert body.consumed <= 2 * MiB, body.consumed
    assert peak < 2 * MiB, f"the parser held {peak / MiB:.1f} MiB for 200 MiB of {where}"
    assert list(tmp_path.rglob("*.part")) == []  # nothing staged


@pytest.mark.parametrize("where", ["preamble", "part header", "epilogue"])
def test_200_mb_of_framing_through_the_app_is_a_json_400(app, client, camera, where):
    meta = media_meta(jpeg_bytes(10))
    body = Body(*framing_cases(meta)[where])
    tracemalloc.start()
    try:
        resp = post(client, body, v1_headers(EXAMPLE_USER, EXAMPLE_KEY, meta))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert resp.status_code == 400 and resp.get_json()["error"] == "multipart_invalid", resp.get_data()[:300]
    assert body.consumed <= 2 * MiB and peak < 4 * MiB, (body.consumed, peak)
    assert [f for f in stored_files(app) if not f.startswith(".staging/")] == []


# -- (b) nothing is stored before the metadata part ----------------------------------------------

@pytest.fixture
def staged_bytes(monkeypatch):
    """Every media byte the server writes to staging, and every staging file it opens."""
    seen = {"files": 0, "bytes": 0}
    real_init, real_write = multipart._MediaWriter.__init__, multipart._MediaWriter.write

    def init(self, *args, **kw):
        seen["files"] += 1
        real_init(self, *args, **kw)

    def write(self, data):
        seen["bytes"] += len(data)
        real_write(self, data)

    monkeypatch.setattr(multipart._MediaWriter, "__init__", init)
    monkeypatch.setattr(multipart._MediaWriter, "write", write)
    return seen


@pytest.mark.parametrize("key", [EXAMPLE_KEY, WRONG_KEY], ids=["right key", "wrong key"])
def test_v1_media_before_metadata_is_refused_before_a_byte_is_staged(app, client, camera, staged_bytes, key):
    media = jpeg_bytes(20 * MiB)
    meta = media_meta(media)
    body, ctype = build_multipart(meta, media, "a.jpg", media_first=True)
    resp = client.put(IMAGE, data=body, content_type=ctype, headers=v1_headers(EXAMPLE_USER, key, meta))
    assert resp.status_code == 400 and resp.get_json()["error"] == "metadata_missing", resp.get_data()[:300]
    assert "first part must be 'metadata'" in resp.get_json()["message"]
    assert staged_bytes == {"files": 0, "bytes": 0}
    assert_nothing_stored(app)


def test_v1_other_part_before_metadata_is_refused_before_it_is_read(app, client, camera, staged_bytes):
    media = jpeg_bytes(1000)
    meta = media_meta(media)
    body = Body(part_head("padding", "x.bin"), (b"p" * MiB, 50), b"\r\n", metadata_part(meta),
                part_head("media", "a.jpg"), media, b"\r\n", CLOSE)
    resp = post(client, body, v1_headers(EXAMPLE_USER, EXAMPLE_KEY, meta))
    assert resp.status_code == 400 and resp.get_json()["error"] == "metadata_missing", resp.get_data()[:300]
    assert body.consumed <= 2 * MiB, body.consumed
    assert staged_bytes["bytes"] == 0
    assert_nothing_stored(app)


def test_skyfleet_media_before_metadata_is_refused_too(app, client, camera, staged_bytes):
    """The skyfleet signature is checked before the body, so this is not work before authentication;
    one rule for both schemes keeps the parser simple and file_size a limit from the first byte."""
    media = jpeg_bytes(5000)
    meta = media_meta(media)
    body, ctype = build_multipart(meta, media, "a.jpg", media_first=True)
    headers = v2_headers(EXAMPLE_USER, EXAMPLE_KEY, "PUT", IMAGE, meta, media)
    resp = client.put(IMAGE, data=body, content_type=ctype, headers=headers)
    assert resp.status_code == 400 and resp.get_json()["error"] == "metadata_missing", resp.get_data()[:300]
    assert staged_bytes == {"files": 0, "bytes": 0}
    assert_nothing_stored(app)


# -- (c) an unknown user is answered like a wrong key, after the same work -------------------------

@pytest.fixture
def steps(monkeypatch):
    """What the authentication computed: API keys opened, v1 MACs and skyfleet signatures made."""
    count = {"keys opened": 0, "v1 macs": 0, "skyfleet signatures": 0}
    real_open, real_v1, real_v2 = KeyBox.open, signing.v1_signature, signing.v2_signature

    def opened(self, token):
        count["keys opened"] += 1
        return real_open(self, token)

    def v1(*args):
        count["v1 macs"] += 1
        return real_v1(*args)

    def v2(*args):
        count["skyfleet signatures"] += 1
        return real_v2(*args)

    monkeypatch.setattr(KeyBox, "open", opened)
    monkeypatch.setattr(signing, "v1_signature", v1)
    monkeypatch.setattr(signing, "v2_signature", v2)
    return count


@pytest.fixture
def users(app, api_user):
    """remote-sync (the right key), plus an inactive account and one without a key."""
    add_api_user(app, "sleeping", EXAMPLE_KEY, active=False)
    from skyfleet import accounts
    from skyfleet.extensions import db
    with app.app_context():
        accounts.add(db.session, "keyless", "correct horse battery")
        db.session.commit()
    return {"wrong key": (EXAMPLE_USER, WRONG_KEY), "unknown user": ("nobody-here", EXAMPLE_KEY),
            "inactive user": ("sleeping", EXAMPLE_KEY), "user without a key": ("keyless", EXAMPLE_KEY)}


def attempt(client, scheme: str, user: str, key: str, media: bytes):
    meta = media_meta(media)
    raw, _ = build_multipart(meta, media, "a.jpg", boundary=BOUNDARY)
    if scheme == "v1":
        headers = v1_headers(user, key, meta)
    else:
        headers = v2_headers(user, key, "PUT", IMAGE, meta, media)
    body = Body(raw)
    resp = post(client, body, headers)
    return resp, body.consumed


@pytest.mark.parametrize("scheme", ["v1", "skyfleet"])
def test_unknown_user_gets_the_wrong_key_answer_after_the_same_reads_and_steps(app, client, users, steps,
                                                                               scheme):
    media = jpeg_bytes(2 * MiB)  # bigger than one read: stopping at the metadata shows in `consumed`
    seen = {}
    for case, (user, key) in users.items():
        for name in steps:
            steps[name] = 0
        resp, consumed = attempt(client, scheme, user, key, media)
        seen[case] = (resp.status_code, resp.get_json(), consumed, dict(steps))
    expected = seen["wrong key"]
    assert expected[0] == 401 and expected[1] == {"error": "authentication failed",
                                                   "message": "authentication failed"}
    if scheme == "v1":  # the metadata part was read (and no further), then six MACs over it
        assert 0 < expected[2] < len(media)
        assert expected[3] == {"keys opened": 1, "v1 macs": 6, "skyfleet signatures": 0}
    else:  # refused at the headers: the signature was computed, nothing of the body read
        assert expected[2] == 0
        assert expected[3] == {"keys opened": 1, "v1 macs": 0, "skyfleet signatures": 1}
    for case, outcome in seen.items():
        assert outcome == expected, (case, outcome, expected)


def test_unknown_user_and_wrong_key_take_the_same_time(app, client, api_user):
    """Medians of interleaved runs, with bounds far wider than noise: before, the unknown user was
    refused at the headers, while a wrong key read and MACed ~200 KB of metadata six times."""
    padding = "p" * (200 * 1024)
    meta = dumps(sized(dict(mdh.asset("image"), data={"padding": padding}), b""))
    body, _ = build_multipart(meta, b"", "a.jpg", boundary=BOUNDARY)
    cases = {"wrong key": v1_headers(EXAMPLE_USER, WRONG_KEY, meta),
             "unknown user": v1_headers("nobody-here", EXAMPLE_KEY, meta)}
    times = {case: [] for case in cases}
    for _ in range(25):
        for case, headers in cases.items():
            started = time.perf_counter()
            resp = post(client, Body(body), headers)
            times[case].append(time.perf_counter() - started)
            assert resp.status_code == 401
    ratio = statistics.median(times["unknown user"]) / statistics.median(times["wrong key"])
    assert 0.6 < ratio < 1.6, (ratio, {c: statistics.median(t) for c, t in times.items()})
