"""A frame with a streak: counted as one detection, and a mini timelapse around it is built and queued."""
import datetime as dt
import io
import json
import shutil
import subprocess

import cv2
import numpy as np
from astropy.io import fits
from sqlalchemy import select

from skyfleet.capture.indi_client import Frame
from skyfleet.models import Asset, UploadJob
from skyfleet.station import minivideo
from skyfleet.upload.metadata import for_asset

from .test_pipeline import UTC, context, station  # noqa: F401 (fixture)

START = dt.datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def sky_with(streak: bool) -> bytes:
    rng = np.random.default_rng(3)  # the same sky every frame: only the streak differs
    img = rng.normal(800, 30, (240, 320)).clip(0, 65535).astype(np.uint16)
    img[rng.integers(5, 235, 40), rng.integers(5, 315, 40)] = 60000
    if streak:
        cv2.line(img, (60, 50), (230, 160), 40000, 2)
    buf = io.BytesIO()
    fits.PrimaryHDU(img).writeto(buf)
    return buf.getvalue()


def shoot(recorder, n: int, streak: bool = False) -> None:
    at = START + dt.timedelta(minutes=n)
    recorder(Frame(fits_bytes=sky_with(streak), received_at=at, exposure=10.0, gain=50.0, binning=1,
                   temperature=-2.5, exp_to_blob=10.4), context(n))


def frame_count(path) -> int:
    exe = shutil.which("ffprobe")
    assert exe, "ffprobe is missing: script/test installs Debian's ffmpeg package"
    out = subprocess.run([exe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_frames", "-of", "json", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return int(json.loads(out)["streams"][0]["nb_read_frames"])


def test_a_streak_is_one_detection_and_its_mini_timelapse_follows(station):  # noqa: F811
    _, sessions, storage, recorder = station
    events = []
    recorder.on_detection = events.append
    for n in range(7):
        shoot(recorder, n)
    shoot(recorder, 7, streak=True)
    for n in range(8, 8 + minivideo.FRAMES_AFTER - 1):
        shoot(recorder, n)
    assert events == []  # not before FRAMES_AFTER frames after the event are in
    shoot(recorder, 8 + minivideo.FRAMES_AFTER - 1)
    with sessions() as s:
        images = list(s.scalars(select(Asset).where(Asset.kind == "image").order_by(Asset.create_date_utc)))
    assert [i.detections for i in images] == [0] * 7 + [1] + [0] * minivideo.FRAMES_AFTER
    assert events == [images[7].id]

    made = minivideo.build_minivideo(sessions, storage, recorder.camera, events[0], ["remote"])
    with sessions() as s:
        video = s.get(Asset, made.id)
        thumb = s.scalar(select(Asset).where(Asset.kind == "thumbnail", Asset.natural_key == video.thumbnail_uuid))
        jobs = {j.asset_id for j in s.scalars(select(UploadJob))}
    window = images[7 - minivideo.FRAMES_BEFORE:]
    assert video.kind == "minivideo" and video.frames == len(window) == frame_count(storage.root / video.filename)
    assert (video.start_date, video.target_date, video.end_date) == (
        window[0].create_date_utc, images[7].create_date_utc, window[-1].create_date_utc)
    assert video.note == "1 line detection" and video.day_date == images[7].day_date and video.night
    assert thumb is not None and thumb.origin == minivideo.MINIVIDEO
    assert cv2.imread(str(storage.root / thumb.filename)).shape[1] == 320
    assert {video.id, thumb.id} <= jobs  # both queued for the remote
    assert list(storage.staging.iterdir()) == []


def test_frames_without_detections_make_no_event(station):  # noqa: F811
    _, sessions, storage, recorder = station
    events = []
    recorder.on_detection = events.append
    for n in range(8):
        shoot(recorder, n)
    assert events == []


def test_nothing_is_built_for_a_missing_or_lone_frame(station):  # noqa: F811
    _, sessions, storage, recorder = station
    assert minivideo.build_minivideo(sessions, storage, recorder.camera, 12345, ["remote"]) is None
    recorder.on_detection = lambda _: None
    shoot(recorder, 0, streak=True)
    with sessions() as s:
        only = s.scalar(select(Asset.id).where(Asset.kind == "image"))
    assert minivideo.build_minivideo(sessions, storage, recorder.camera, only, ["remote"]) is None
    with sessions() as s:
        assert s.scalar(select(Asset).where(Asset.kind == "minivideo")) is None


def test_the_built_video_goes_out_as_indi_allsky_expects(station):  # noqa: F811
    _, sessions, storage, recorder = station
    recorder.on_detection = lambda _: None
    for n in range(3):
        shoot(recorder, n, streak=(n == 1))
    with sessions() as s:
        event = s.scalar(select(Asset.id).where(Asset.kind == "image", Asset.detections == 1))
    made = minivideo.build_minivideo(sessions, storage, recorder.camera, event, ["remote"])
    with sessions() as s:
        meta = for_asset(s.get(Asset, made.id), recorder.camera)
    assert meta["type"] == 16 and {"targetDate", "startDate", "endDate", "note", "framerate", "frames"} <= set(meta)
    assert meta["startDate"] < meta["targetDate"] < meta["endDate"]
