"""The recorded requests of indi-allsky's own SyncAPI client (shared/fixtures/indi-allsky-v2026.08.1/).

The fixtures live beside the repository (`<repo>/../shared/`), in CI too; a missing folder fails the
tests that need it instead of skipping them.  Requests are built here the way that client sends them:
the metadata part is the file's exact bytes, signed with the v1 HMAC computed from the protocol text
(tests.helpers.wire: HMAC-SHA3-512 keyed by the API key text over ASCII(floor(t / 300)) + metadata
bytes), never by the server's signing module.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import media, wire

RELEASE = "indi-allsky-v2026.08.1"
FIXTURES_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / RELEASE


@dataclass(frozen=True)
class Fixture:
    file: str
    segment: str
    media_name: str   # the basename indi-allsky sends; its suffix picks the media builder
    empty: bool = False

    @property
    def raw(self) -> bytes:
        return fixtures_dir().joinpath(self.file).read_bytes()

    @property
    def meta(self) -> dict:
        return json.loads(self.raw)

    def media(self, size: int | None = None) -> bytes:
        if self.empty:
            return b""
        return media.of_size(Path(self.media_name).suffix, self.meta["file_size"] if size is None else size)


# In the order indi-allsky queues them: the camera at capture start, each thumbnail before its parent.
FIXTURES = (
    Fixture("camera.json", "camera", "bogus.ext", empty=True),
    Fixture("thumbnail-for-image.json", "thumbnail", "66435c63-2fea-4022-818f-ba7cc142038f.jpg"),
    Fixture("image.json", "image", "ccd1_20261201_070742.jpg"),
    Fixture("image-for-empty_file.json", "image", "ccd1_20261201_070956.jpg", empty=True),
    Fixture("rawimage.json", "rawimage", "raw_ccd1_20261201_070742.png"),
    Fixture("fitsimage.json", "fitsimage", "ccd1_20261201_070742.fit"),
    Fixture("panoramaimage.json", "panoramaimage", "panorama_ccd1_20261201_070742.jpg"),
    Fixture("thumbnail-for-keogram.json", "thumbnail", "857a1c00-ac6f-4a7a-bdbc-b55b971d0fc6.jpg"),
    Fixture("keogram.json", "keogram", "allsky-keogram_ccd1_20261130_night_1796109162.jpg"),
    Fixture("thumbnail-for-startrail.json", "thumbnail", "dbb90bc0-ed00-4c20-8e59-5ea49e80eb75.jpg"),
    Fixture("startrail.json", "startrail", "allsky-startrail_ccd1_20261130_night_1796109162.jpg"),
    Fixture("startrailvideo.json", "startrailvideo", "allsky-startrail_timelapse_ccd1_20261130_night1796109162.mp4"),
    Fixture("video.json", "video", "allsky-timelapse_ccd1_20261130_night_1796109162.mp4"),
    Fixture("panoramavideo.json", "panoramavideo", "allsky-panorama_timelapse_ccd1_20261130_night1796109162.mp4"),
    Fixture("thumbnail-for-minivideo.json", "thumbnail", "a2e0d933-8610-4bcd-a080-af36ef91f073.jpg"),
    Fixture("minivideo.json", "minivideo", "allsky-minitimelapse_ccd1_20261130_night_1796109162.mp4"),
)
BY_FILE = {f.file: f for f in FIXTURES}
CAMERA = BY_FILE["camera.json"]


def fixtures_dir() -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.fail(f"indi-allsky fixtures missing: {FIXTURES_DIR.resolve()} (copy shared/ beside the repository)",
                    pytrace=False)
    return FIXTURES_DIR


def request_parts(username: str, api_key: str, metadata: bytes, media_bytes: bytes,
                  media_name: str) -> tuple[bytes, dict]:
    """(body, headers) as indi-allsky's requests-based client sends a PUT: a 32-hex boundary, the exact
    metadata bytes, the v1 HMAC over them (tests.helpers.wire, checked against the protocol's examples)."""
    body, ctype = wire.multipart(metadata, media_bytes, media_name)
    headers = {"Authorization": f"Bearer {username}:{wire.v1_hmac(api_key, time.time(), metadata)}",
               "Content-Type": ctype, "Connection": "close"}
    return body, headers
