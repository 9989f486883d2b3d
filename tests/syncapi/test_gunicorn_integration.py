"""Real gunicorn on loopback: real JPEG and MP4 uploads, fetched back by the returned URL."""
import hashlib
import shutil
import subprocess

import pytest
import requests

from tests.helpers import metadata as mdh
from tests.helpers.live import peak_rss_kib, running_server
from tests.helpers.media import fake
from tests.helpers.wire import dumps, multipart, multipart_envelope, sized, v1_headers, v2_headers

pytestmark = pytest.mark.slow


def ffmpeg(*args):
    exe = shutil.which("ffmpeg")
    assert exe, "ffmpeg is missing: script/test installs Debian's ffmpeg package"
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def media_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x960:rate=1", "-frames:v", "1", "-q:v", "2", str(d / "sky.jpg"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25", "-t", "4", "-c:v", "libx264", "-pix_fmt",
           "yuv420p", "-movflags", "+faststart", str(d / "timelapse.mp4"))
    return d


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("live")) as srv:
        yield srv


def upload(server, method, segment, meta, media: bytes, name, scheme="v1"):
    raw = dumps(sized(meta, media))
    body, ctype = multipart(raw, media, name)
    path = f"/indi-allsky/sync/v1/{segment}"
    if scheme == "v1":
        headers = v1_headers(server.user, server.key, raw)
    else:
        headers = v2_headers(server.user, server.key, method, path, raw, media)
    headers["Content-Type"] = ctype
    return requests.request(method, server.url + path, data=body, headers=headers, timeout=60)


def test_jpeg_and_mp4_round_trip_through_gunicorn(server, media_files):
    cam = upload(server, "PUT", "camera", mdh.camera(), b"", "bogus.ext")
    assert cam.status_code == 200, cam.text
    jpeg = (media_files / "sky.jpg").read_bytes()
    mp4 = (media_files / "timelapse.mp4").read_bytes()
    assert jpeg[:3] == b"\xff\xd8\xff" and mp4[4:8] == b"ftyp"
    img = upload(server, "PUT", "image", mdh.asset("image"), jpeg, "sky.jpg")
    assert img.status_code == 200, img.text
    vid = upload(server, "PUT", "video", mdh.asset("video"), mp4, "timelapse.mp4", scheme="skyfleet")
    assert vid.status_code == 200, vid.text
    for resp, original, ctype in ((img, jpeg, "image/jpeg"), (vid, mp4, "video/mp4")):
        got = requests.get(f"{server.url}/indi-allsky/{resp.json()['url']}", timeout=30)
        assert got.status_code == 200 and got.content == original
        assert got.headers["Content-Type"] == ctype
    # browsers seek in videos with Range requests
    part = requests.get(f"{server.url}/indi-allsky/{vid.json()['url']}", headers={"Range": "bytes=100-199"},
                        timeout=30)
    assert part.status_code == 206 and part.content == mp4[100:200]
    page = requests.get(server.url + "/", timeout=10)
    assert f'src="/latest/1/image?v={img.json()["id"]}"' in page.text  # the Now page: the stable latest URL
    latest = requests.get(f"{server.url}/latest/1/image", timeout=10)
    assert latest.content == jpeg and latest.headers["Link"] == f'</indi-allsky/{img.json()["url"]}>; rel="canonical"'


def test_large_upload_is_streamed_not_held_in_memory(server):
    upload(server, "PUT", "camera", mdh.camera(), b"", "bogus.ext")
    warm = upload(server, "POST", "startrailvideo", mdh.asset("startrailvideo"), fake(".mp4", b"w" * 1000), "w.mp4")
    assert warm.status_code == 200, warm.text
    before = {pid: peak_rss_kib(pid) for pid in server.worker_pids()}
    size = 200 * 1024 * 1024
    meta = dumps(dict(mdh.asset("video", when=mdh.NIGHT_START + 86400, dayDate="20250101"), file_size=size))
    head, tail, ctype = multipart_envelope(meta, "big.mp4")
    chunk = bytes(range(256)) * 4096  # 1 MiB
    first = fake(".mp4", chunk)[:len(chunk)]  # an MP4's first bytes, for the server's type check
    digest = hashlib.sha256()

    def body():
        yield head
        for i in range(size // len(chunk)):
            block = first if i == 0 else chunk
            digest.update(block)
            yield block
        yield tail

    headers = v1_headers(server.user, server.key, meta)
    headers["Content-Type"] = ctype
    resp = requests.post(f"{server.url}/indi-allsky/sync/v1/video", data=body(), headers=headers, timeout=300)
    assert resp.status_code == 200, resp.text
    after = {pid: peak_rss_kib(pid) for pid in server.worker_pids()}
    grown = max(after[p] - before.get(p, after[p]) for p in after)
    assert grown < 48 * 1024, f"a worker's peak RSS grew by {grown} KiB for a 200 MiB upload"
    stored = server.root / "data" / "images" / resp.json()["url"].removeprefix("images/")
    assert stored.stat().st_size == size
    h = hashlib.sha256()
    with open(stored, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == digest.hexdigest()
    assert list((server.root / "data" / "images" / ".staging").iterdir()) == []
