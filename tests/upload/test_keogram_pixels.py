"""A skyfleet camera's frames carry their long-term keogram pixels to the remote, as indi-allsky's do."""
import datetime as dt
import os

from sqlalchemy import create_engine, select

from skyfleet.capture.indi_client import Frame
from skyfleet.imaging.pipeline import ProcessingSettings
from skyfleet.models import LongTermKeogram
from skyfleet.station.recorder import FrameRecorder
from tests.station.test_pipeline import context, sky_fits


def keogram_rows(database_url: str) -> list:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(LongTermKeogram.ts, LongTermKeogram.pixels)
                                                   .order_by(LongTermKeogram.ts))]
    finally:
        engine.dispose()


def test_recorded_frames_send_keogram_pixels_that_the_remote_keeps(host, remote):
    recorder = FrameRecorder(host.sessions, host.storage, "Test sky", ["remote"], ProcessingSettings())
    start = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.timezone.utc)
    for i, brightness in enumerate((500, 3000, 20000)):
        frame = Frame(fits_bytes=sky_fits(i, brightness), received_at=start + dt.timedelta(minutes=i, seconds=10),
                      exposure=10.0, gain=50.0, binning=1, temperature=-5.0)
        recorder(frame, context(i))
    local = keogram_rows(host.database_url)
    assert [ts for ts, _ in local] == [int(start.timestamp()) + 60 * i for i in range(3)]
    for _, pixels in local:
        assert len(pixels) == 5 and all(len(px) == 3 and all(0 <= c <= 255 for c in px) for px in pixels)
    assert local[0][1] != local[2][1]  # brighter frames, other pixels

    host.drain()
    remote_url = os.environ.get("SKYFLEET_TEST_DATABASE_URL") or f"sqlite:///{remote.root / 'data' / 'skyfleet.db'}"
    assert keogram_rows(remote_url) == local
