"""Minimal valid metadata for every asset kind, as an indi-allsky client would send it."""
from __future__ import annotations

import uuid

from .wire import CAMERA_UUID

NIGHT_START = 1735689600  # 2025-01-01 00:00:00 UTC, 19:00 at the camera (UTC-5)
OFFSET = -18000.0

IMAGE_KINDS = ("image", "rawimage", "fitsimage", "panoramaimage")
NIGHT_KINDS = ("video", "keogram", "startrail", "startrailvideo", "panoramavideo")
ALL_KINDS = IMAGE_KINDS + NIGHT_KINDS + ("minivideo", "thumbnail")
TYPE_CODE = {"image": 2, "video": 3, "keogram": 4, "startrail": 5, "startrailvideo": 6, "rawimage": 7,
             "fitsimage": 8, "panoramaimage": 13, "panoramavideo": 14, "thumbnail": 15, "minivideo": 16}
EXTENSION = {"image": ".jpg", "rawimage": ".png", "fitsimage": ".fit", "panoramaimage": ".jpg",
             "video": ".mp4", "keogram": ".jpg", "startrail": ".jpg", "startrailvideo": ".mp4",
             "panoramavideo": ".mp4", "minivideo": ".mp4", "thumbnail": ".jpg"}


def camera(name: str = "ZWO ASI462MC", camera_uuid: str = CAMERA_UUID) -> dict:
    return {"type": 1, "name": name, "driver": "indi_asi_ccd", "uuid": camera_uuid,
            "utc_offset": OFFSET, "tz": "America/New_York", "latitude": 40.1, "longitude": -75.2,
            "data": {"vs_enabled": True}}


def asset(kind: str, when: int = NIGHT_START, camera_uuid: str = CAMERA_UUID, **extra) -> dict:
    meta = {"type": TYPE_CODE[kind], "createDate": when, "dayDate": "20241231", "utc_offset": OFFSET,
            "night": True, "camera_uuid": camera_uuid, "width": 1440, "height": 1080}
    if kind == "image":
        meta.update(exposure=15.0, exp_elapsed=15.62, gain=250.0, binmode=1, temp=-3.5, calibrated=True,
                    adu=61.2, adu_roi=[], stable=True, moonmode=False, moonphase=1.7, sqm=7400.3,
                    stars=412, detections=0, process_elapsed=2.31, kpindex=2.33,
                    keogram_pixels=[[12, 14, 20]] * 5, data={"uptime": 86400})
    elif kind in ("rawimage", "fitsimage", "panoramaimage"):
        meta.update(exposure=15.0, gain=250.0, binmode=1)
    elif kind in NIGHT_KINDS:
        meta.update(framerate=25.0, frames=1440, data={"max_kpindex": 2.33})
    elif kind == "minivideo":
        meta.update(targetDate=when + 600, startDate=when, endDate=when + 1200, note="meteor", framerate=25.0)
    elif kind == "thumbnail":
        meta.update(uuid=str(uuid.uuid4()), origin=2, width=320, height=240)
    meta.update(extra)
    return meta
