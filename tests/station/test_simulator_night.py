"""The whole camera-host chain on a real INDI simulator: capture -> process -> record -> night products."""
import datetime as dt
import json
import shutil
import subprocess
import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from skyfleet.capture.loop import CaptureLoop
from skyfleet.capture.settings import CaptureSettings
from skyfleet.db_setup import session_factory
from skyfleet.factory import create_app
from skyfleet.imaging.pipeline import ProcessingSettings
from skyfleet.local_assets import storage_for
from skyfleet.models import Asset, UploadJob
from skyfleet.station.night import build_night
from skyfleet.station.recorder import FrameRecorder
from tests.capture.indi_sim import CCD, IndiSim
from tests.capture.test_loop import fixed_sky

pytestmark = pytest.mark.slow
FRAMES = 6


@pytest.fixture
def sim(tmp_path):
    with IndiSim(tmp_path / "indi") as s:
        yield s


@pytest.mark.parametrize("sun_alt, products_wanted", [
    (-30.0, {"keogram", "startrail", "video"}),  # a night: star trail too
    (30.0, {"keogram", "video"}),  # a day (daytime capture): no star trail
], ids=["night", "day"])
def test_simulator_frames_become_a_night_with_keogram_startrail_and_timelapse(sim, tmp_path, sun_alt,
                                                                              products_wanted):
    app = create_app({"data_dir": str(tmp_path / "data")})
    with app.app_context():
        upgrade()
    settings = app.extensions["skyfleet"].settings
    sessions = session_factory(settings.database_url)
    storage = storage_for(settings.storage_dir)
    recorder = FrameRecorder(sessions, storage, "Simulator", ["remote"], ProcessingSettings())
    capture = CaptureSettings(latitude=52.0, longitude=5.0, indi_port=sim.port, ccd_device=CCD, period=1.2,
                              exposure_min_day=0.5, exposure_max_day=0.5, exposure_min_night=0.5,
                              exposure_max_night=0.5, blob_margin=10.0)
    done = threading.Event()
    seen = []

    def on_frame(frame, context):
        recorder(frame, context)
        seen.append(context.night)
        if len(seen) >= FRAMES:
            done.set()

    loop = CaptureLoop(capture, on_frame=on_frame, sky=fixed_sky(sun_alt))
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    try:
        assert done.wait(90), f"only {len(seen)} frames captured"
    finally:
        loop.stop()
        runner.join(15)
    with sessions() as s:
        images = list(s.scalars(select(Asset).where(Asset.kind == "image").order_by(Asset.create_date_utc)))
    assert len(images) >= FRAMES
    assert all((storage.root / i.filename).read_bytes()[:3] == b"\xff\xd8\xff" for i in images)
    assert {(i.width, i.height) for i in images} == {(1280, 1024)}
    assert {i.night for i in images} == {sun_alt < 0}
    # the simulator draws the (stand-in) catalogue's stars in both periods: every frame counts some, and
    # measures a pseudo-SQM; its stars only drift, so no frame holds a line
    assert all(i.stars > 0 for i in images), [i.stars for i in images]
    assert all(i.sqm and i.sqm != 0.0 for i in images) and all(i.detections == 0 for i in images)
    day, night = images[0].day_date, images[0].night
    products = {a.kind: a for a in build_night(sessions, storage, recorder.camera, day, ["remote"], night=night)}
    assert set(products) == products_wanted
    same_period = [i for i in images if i.day_date == day and i.night == night]
    assert products["keogram"].frames == len(same_period)
    exe = shutil.which("ffprobe")
    assert exe, "ffprobe is missing: script/test installs Debian's ffmpeg package"
    probe = json.loads(subprocess.run(
        [exe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,pix_fmt,nb_read_frames", "-of", "json", str(storage.root / products["video"].filename)],
        capture_output=True, text=True, check=True).stdout)["streams"][0]
    assert (probe["codec_name"], probe["pix_fmt"]) == ("h264", "yuv420p")
    assert int(probe["nb_read_frames"]) == len(same_period)
    with sessions() as s:
        queued = s.scalars(select(UploadJob).where(UploadJob.asset_id.in_([a.id for a in products.values()])))
        assert len(list(queued)) == len(products)
    assert images[-1].create_date_utc - images[0].create_date_utc < dt.timedelta(minutes=5)
