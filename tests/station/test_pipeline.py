"""Frame -> recorded, queued image; a night's stored images -> keogram, star trail, timelapse."""
import datetime as dt
import io
import json
import shutil
import subprocess
import threading

import cv2
import numpy as np
import pytest
from astropy.io import fits
from flask_migrate import upgrade
from sqlalchemy import select

from skyfleet.capture.indi_client import Frame
from skyfleet.capture.loop import FrameContext
from skyfleet.db_setup import session_factory
from skyfleet.factory import create_app
from skyfleet.imaging.pipeline import ProcessingSettings
from skyfleet.local_assets import storage_for
from skyfleet.models import Asset, UploadJob
from skyfleet.station import processing_config
from skyfleet.station.night import build_night
from skyfleet.station.observing import day_date, local_time
from skyfleet.station.recorder import FrameRecorder

UTC = dt.timezone.utc
CET = dt.timezone(dt.timedelta(hours=1))


def sky_fits(seed: int, brightness: int = 800) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.normal(brightness, 30, (240, 320)).clip(0, 65535).astype(np.uint16)
    ys, xs = rng.integers(5, 235, 40), rng.integers(5, 315, 40)
    img[ys, xs] = 60000  # stars
    buf = io.BytesIO()
    fits.PrimaryHDU(img).writeto(buf)  # astropy stores uint16 as BITPIX=16 + BZERO=32768, as INDI does
    return buf.getvalue()


def context(index: int, night: bool = True) -> FrameContext:
    return FrameContext(index=index, night=night, sun_alt=-30.0 if night else 20.0, moon_alt=-5.0,
                        moon_phase=42.0, exposure=10.0, gain=50.0, measured_adu=812.0, target_adu=1000.0,
                        stable=False, next_exposure=12.0)


@pytest.fixture
def station(tmp_path):
    config = {"data_dir": str(tmp_path / "data")}
    app = create_app(config)
    with app.app_context():
        upgrade()
    s = app.extensions["skyfleet"].settings
    sessions = session_factory(s.database_url)
    storage = storage_for(s.storage_dir)
    recorder = FrameRecorder(sessions, storage, "Backyard", ["remote"], ProcessingSettings(), tz=CET,
                             camera_fields={"latitude": 52.0, "longitude": 4.9})
    return app, sessions, storage, recorder


def frame(at: dt.datetime, seed: int = 1, brightness: int = 800) -> Frame:
    return Frame(fits_bytes=sky_fits(seed, brightness), received_at=at, exposure=10.0, gain=50.0, binning=1,
                 temperature=-2.5, exp_to_blob=10.4)


def test_observing_day_date_and_local_time():
    local, offset = local_time(dt.datetime(2025, 1, 1, 2, 30, tzinfo=UTC), CET)
    assert offset == 3600 and local.hour == 3
    assert day_date(local, night=True) == dt.date(2024, 12, 31)  # after midnight: the night began the day before
    assert day_date(local.replace(hour=21), night=True) == dt.date(2025, 1, 1)
    assert day_date(local.replace(hour=13), night=False) == dt.date(2025, 1, 1)


def test_a_frame_becomes_a_thumbnail_and_an_image_queued_for_upload(station):
    _, sessions, storage, recorder = station
    recorder(frame(dt.datetime(2025, 1, 1, 2, 30, 10, tzinfo=UTC)), context(0))
    with sessions() as s:
        assets = {a.kind: a for a in s.scalars(select(Asset))}
        jobs = list(s.scalars(select(UploadJob).order_by(UploadJob.priority)))
    assert set(assets) == {"image", "thumbnail"}
    img, thumb = assets["image"], assets["thumbnail"]
    assert img.thumbnail_uuid == thumb.uuid
    # exposure started 10 s before the BLOB arrived, 03:30:00 local (UTC+1), night of 2024-12-31
    assert str(img.create_date) == "2025-01-01 03:30:00" and img.utc_offset == 3600
    assert str(img.day_date) == "2024-12-31" and img.night is True
    assert img.filename == f"ccd_{recorder.camera.uuid}/exposures/20241231/night/01_03/ccd1_20250101_033000.jpg"
    assert (img.exposure, img.gain, img.temp, img.adu, img.moonphase) == (10.0, 50.0, -2.5, 812.0, 42.0)
    assert (img.width, img.height) == (320, 240) and img.data["sun_alt"] == -30.0
    data = (storage.root / img.filename).read_bytes()
    assert data[:3] == b"\xff\xd8\xff" and img.file_size == len(data)
    assert (storage.root / thumb.filename).exists()
    assert [j.action for j in jobs] == ["camera", "asset", "asset"]  # camera sync, thumbnail, image
    assert list(storage.staging.iterdir()) == []


def test_two_frames_in_one_second_are_both_kept(station):
    _, sessions, storage, recorder = station
    at = dt.datetime(2025, 1, 1, 2, 30, 10, 100000, tzinfo=UTC)
    recorder(frame(at, seed=1), context(0))
    recorder(frame(at + dt.timedelta(milliseconds=500), seed=2), context(1))
    with sessions() as s:
        stamps = [a.create_date_utc for a in s.scalars(select(Asset).where(Asset.kind == "image")
                                                      .order_by(Asset.create_date_utc))]
    assert [str(t) for t in stamps] == ["2025-01-01 02:30:00", "2025-01-01 02:30:01"]


def test_a_day_frame_after_night_frames_builds_that_night(station):
    _, sessions, storage, recorder = station
    ended = []
    recorder.on_night_end = ended.append
    recorder(frame(dt.datetime(2025, 1, 1, 5, 0, tzinfo=UTC)), context(0, night=True))
    recorder(frame(dt.datetime(2025, 1, 1, 9, 0, tzinfo=UTC), brightness=20000), context(1, night=False))
    for t in threading.enumerate():
        if t.name.startswith("night-"):
            t.join(10)
    assert ended == [dt.date(2024, 12, 31)]


def ffprobe(path) -> dict:
    exe = shutil.which("ffprobe")
    assert exe, "ffprobe is missing: script/test installs Debian's ffmpeg package"
    out = subprocess.run([exe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,pix_fmt,width,nb_read_frames", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["streams"][0]


@pytest.mark.slow
def test_night_build_records_keogram_startrail_and_timelapse(station):
    app, sessions, storage, recorder = station
    start = dt.datetime(2025, 1, 1, 20, 0, tzinfo=UTC)
    for i in range(12):
        recorder(frame(start + dt.timedelta(minutes=i), seed=i), context(i))
    products = build_night(sessions, storage, recorder.camera, dt.date(2025, 1, 1), ["remote"])
    kinds = {a.kind: a for a in products}
    assert set(kinds) == {"keogram", "startrail", "video"}
    keogram = cv2.imread(str(storage.root / kinds["keogram"].filename))
    assert keogram.shape[1] == 12 and kinds["keogram"].frames == 12
    probe = ffprobe(storage.root / kinds["video"].filename)
    assert (probe["codec_name"], probe["pix_fmt"], int(probe["nb_read_frames"])) == ("h264", "yuv420p", 12)
    assert kinds["video"].filename.endswith(".mp4") and "/timelapse/20250101/" in kinds["video"].filename
    with sessions() as s:
        thumbs = s.scalars(select(Asset).where(Asset.kind == "thumbnail", Asset.origin.in_((3, 4, 5)))).all()
        queued = s.scalars(select(UploadJob).where(UploadJob.asset_id.in_([a.id for a in products]))).all()
    assert len(thumbs) == 3 and len(queued) == 3
    result = app.test_cli_runner().invoke(args=["night", "build", "2025-01-01"])
    assert result.exit_code == 0, result.output
    assert "video:" in result.output  # rebuilt: the same rows are updated, not duplicated
    with sessions() as s:
        assert len(s.scalars(select(Asset).where(Asset.kind == "video")).all()) == 1


def test_processing_settings_errors_name_the_key():
    frame_settings, night_settings = processing_config.from_table({"jpeg_quality": 80, "night_timelapse_fps": 10})
    assert frame_settings.jpeg_quality == 80 and night_settings.timelapse_fps == 10
    with pytest.raises(ValueError, match="processing.jpeg_qualty"):
        processing_config.from_table({"jpeg_qualty": 80})
    with pytest.raises(ValueError, match="processing.keep_fits must be true or false"):
        processing_config.from_table({"keep_fits": "yes"})
