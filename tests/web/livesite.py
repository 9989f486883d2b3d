"""Real content on a live server: cameras and a night of synthetic sky frames sent through the SyncAPI
(thumbnails, images, keogram, star trail, timelapse and a mini timelapse built with skyfleet.imaging)."""
from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import insert

from skyfleet.extensions import db
from skyfleet.factory import create_app
from skyfleet.imaging.keogram import keogram_pixels
from skyfleet.imaging.products import NightProducts, ProductSettings
from skyfleet.imaging.timelapse import TimelapseWriter
from skyfleet.models import LongTermKeogram
from tests.helpers import metadata as mdh
from tests.helpers.wire import Sender

from .skydata import Sky


class HttpClient:
    """What tests.helpers.wire.Sender needs (`open`), over real HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def open(self, path, method, data, content_type, headers):
        resp = self.http.request(method, self.base_url + path, data=data, timeout=120,
                                 headers={**headers, "Content-Type": content_type})
        resp.get_json = resp.json
        return resp


@dataclass
class CameraSite:
    name: str
    camera_uuid: str
    offset: int           # seconds east of UTC
    tz: str
    latitude: float
    sky: Sky
    camera_id: int = 0
    day: dt.date = None   # the night's dayDate
    image_ids: list = field(default_factory=list)
    last_local: dt.datetime = None
    video_url: str = ""


def last_complete_night(offset: int, now_utc: dt.datetime) -> dt.date:
    """The dayDate of the latest night (18:00 to 06:00 local) that has ended."""
    local_now = now_utc + dt.timedelta(seconds=offset)
    return (local_now - dt.timedelta(hours=30)).date()


def _meta(site: CameraSite, kind: str, local: dt.datetime, night: bool, day: dt.date, **extra) -> dict:
    epoch = int((local - dt.timedelta(seconds=site.offset) - dt.datetime(1970, 1, 1)).total_seconds())
    meta = mdh.asset(kind, when=epoch, camera_uuid=site.camera_uuid)
    meta.update(utc_offset=float(site.offset), dayDate=day.strftime("%Y%m%d"), night=night, **extra)
    return meta


def send(sender: Sender, kind: str, meta: dict, media: bytes, name: str) -> dict:
    resp = sender.send("POST", kind, meta, media=media, media_name=name)
    if resp.status_code != 200:
        raise AssertionError(f"{kind} upload failed: {resp.status_code} {resp.text[:300]}")
    return resp.json()


def register(sender: Sender, site: CameraSite) -> None:
    meta = mdh.camera(site.name, site.camera_uuid)
    meta.update(utc_offset=float(site.offset), tz=site.tz, latitude=site.latitude, location="Dark-sky site")
    resp = sender.send("PUT", "camera", meta, media=b"", media_name="bogus.ext")
    assert resp.status_code == 200, resp.text
    site.camera_id = resp.json()["id"]


def upload_frame(sender: Sender, site: CameraSite, local: dt.datetime, index: int, day: dt.date,
                 meteor: bool = False):
    frame = site.sky.frame(local, index=index, meteor=meteor)
    period_day = day if frame.night else local.date()
    thumb = _meta(site, "thumbnail", local, frame.night, period_day, uuid=str(uuid.uuid4()), origin=2,
                  width=320, height=320)
    send(sender, "thumbnail", thumb, frame.thumb, "thumb.jpg")
    meta = _meta(site, "image", local, frame.night, period_day, exposure=round(frame.exposure, 6),
                 exp_elapsed=round(frame.exposure + 0.4, 3), gain=250.0, temp=frame.temp, adu=round(frame.adu, 2),
                 stars=frame.stars, sqm=frame.sqm, moonphase=12.0, moonmode=False, detections=int(meteor),
                 width=site.sky.size, height=site.sky.size, thumbnail_uuid=thumb["uuid"],
                 keogram_pixels=keogram_pixels(frame.image))
    answer = send(sender, "image", meta, frame.jpeg, local.strftime("%Y%m%d_%H%M%S.jpg"))
    site.image_ids.append(answer["id"])
    site.last_local = local
    return frame, answer


def upload_night(sender: Sender, site: CameraSite, day: dt.date, step_minutes: int = 8,
                 start_hour: float = 16.5, hours: float = 13.5, meteor_at: int = 40, fps: float = 12.0) -> None:
    """A whole night of frames, then its keogram, star trail, timelapse and a mini timelapse."""
    site.day = day
    settings = ProductSettings(timelapse_fps=fps, startrail_max_brightness=0.25, fsync=False)
    with tempfile.TemporaryDirectory(prefix="skyfleet-sky-") as tmp, NightProducts(settings) as products:
        mini = TimelapseWriter(Path(tmp) / "mini.mp4", fps=6.0, fsync=False)
        first_local = dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=start_hour)
        steps = int(hours * 60 / step_minutes)
        night_start = None
        for i in range(steps + 1):
            local = first_local + dt.timedelta(minutes=i * step_minutes)
            frame, _ = upload_frame(sender, site, local, i, day, meteor=(i == meteor_at))
            if frame.night:
                night_start = night_start or local
                products.add(frame.image, night=True)
                if abs(i - meteor_at) <= 6:
                    mini.add(frame.image)
        result = products.finish(tmp, "night")
        mini_path = mini.close()
        start = night_start or first_local
        for kind, path, thumb in (("keogram", result.keogram, result.keogram_thumb),
                                  ("startrail", result.startrail, result.startrail_thumb),
                                  ("video", result.timelapse, result.timelapse_thumb)):
            tmeta = _meta(site, "thumbnail", start, True, day, uuid=str(uuid.uuid4()),
                          origin=mdh.TYPE_CODE[kind], width=320, height=240)
            send(sender, "thumbnail", tmeta, Path(thumb).read_bytes(), "thumb.jpg")
            extra = {"frames": result.night_frames, "thumbnail_uuid": tmeta["uuid"]}
            if kind == "video":
                extra.update(framerate=fps)
            meta = _meta(site, kind, start, True, day, **extra)
            meta.pop("width", None)
            meta.pop("height", None)
            answer = send(sender, kind, meta, Path(path).read_bytes(), Path(path).name)
            if kind == "video":
                site.video_url = "/indi-allsky/" + answer["url"]
        meteor_local = first_local + dt.timedelta(minutes=meteor_at * step_minutes)
        epoch = int((meteor_local - dt.timedelta(seconds=site.offset) - dt.datetime(1970, 1, 1)).total_seconds())
        mmeta = _meta(site, "minivideo", meteor_local, True, day, targetDate=epoch, startDate=epoch - 2400,
                      endDate=epoch + 2400, note="meteor", framerate=6.0)
        send(sender, "minivideo", mmeta, Path(mini_path).read_bytes(), "mini.mp4")


def add_longterm_months(server, site: CameraSite, nights: int) -> None:
    """`nights` nights of long-term keogram rows ending with the site's night, written into the server's
    database (a whole season of uploads would take the test minutes): a plausible sky, each 5 minutes,
    blue by day, dark through twilight, some nights clouded grey and the moon brightening some."""
    rows = []
    first = site.day - dt.timedelta(days=nights - 1)
    for n in range(nights):
        day = first + dt.timedelta(days=n)
        noon = dt.datetime.combine(day, dt.time(12))
        cloudy, moon = n % 7 in (2, 3), max(0.0, 1 - abs(n % 29 - 14) / 5)
        for step in range(0, 24 * 60, 5):
            local = noon + dt.timedelta(minutes=step)
            sun = site.sky.sun_altitude(local)
            light = min(1.0, max(0.0, (sun + 18) / 24))
            base = (18 + 50 * moon, 22 + 50 * moon, 40 + 60 * moon) if not cloudy else (70, 70, 75)
            colour = [int(b + (d - b) * light) for b, d in zip(base, (110, 150, 210))]
            ts = int((local - dt.timedelta(seconds=site.offset) - dt.datetime(1970, 1, 1)).total_seconds())
            rows.append({"camera_id": site.camera_id, "ts": ts, "pixels": [colour] * 5})
    app = create_app({"data_dir": str(server.root / "data")})
    with app.app_context():
        existing = {ts for (ts,) in db.session.query(LongTermKeogram.ts).filter_by(camera_id=site.camera_id)}
        db.session.execute(insert(LongTermKeogram), [r for r in rows if r["ts"] not in existing])
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
