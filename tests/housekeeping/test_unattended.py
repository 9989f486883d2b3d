"""60 nights on a camera host with a real small disk (tmpfs), the remote down for the last 10 nights.

Nights 1-50 are delivered to a real skyfleet server; for nights 51-60 every attempt fails (nothing
listens).  A prune runs each simulated day with its clock.  Then the disk fills (ballast): below the
floor only delivered nights go; capture (the real FrameRecorder) keeps recording; below the
emergency floor undelivered FITS go first, never products, and `skyfleet sync status` says so.  Then
the remote comes back and everything that was kept arrives once.
"""
from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from sqlalchemy import func, select

from skyfleet.housekeeping import policy as p
from skyfleet.housekeeping.prune import FLOOR, Pruner
from skyfleet.imaging.pipeline import ProcessingSettings
from skyfleet.models import Asset, PruneEvent, UploadJob
from skyfleet.station.recorder import FrameRecorder
from skyfleet.upload.config import from_table
from skyfleet.upload.worker import UploadWorker
from tests.helpers.live import BIN, free_port, running_server
from tests.helpers.small_disk import ballast, small_disk
from tests.housekeeping.conftest import evening
from tests.station.test_pipeline import context, frame
from tests.upload.conftest import CameraHost, remote_assets

FIRST = dt.date(2026, 3, 1)
NIGHTS = 60
DOWN_FROM = 50  # nights with index >= this are never delivered until the remote comes back
KIB = 1024
POLICY = p.RetentionPolicy(days=p.Days(images_days=20, fits_days=5, products_days=365),
                           floor=p.Floor(0, 3), emergency=p.Floor(0, 1))


def record_night(host: CameraHost, day: dt.date) -> None:
    """What a camera host records in a night: frames with thumbnails, a day frame, a FITS, products."""
    common = {"dayDate": f"{day:%Y%m%d}"}
    base = evening(day)
    for i in range(3):
        thumb = host.add("thumbnail", b"t" * 2 * KIB, when=base + i, origin=2, **common)
        host.add("image", b"i" * 30 * KIB, when=base + i, thumbnail_uuid=thumb.uuid, **common)
    host.add("image", b"d" * 30 * KIB, when=base + 40000, night=False, **common)
    host.add("fitsimage", b"f" * 50 * KIB, when=base + 1, **common)
    for kind, code, size in (("keogram", 4, 15), ("startrail", 5, 15), ("video", 3, 40)):
        thumb = host.add("thumbnail", b"p" * 2 * KIB, when=base + 10 + code, origin=code, **common)
        host.add(kind, b"k" * size * KIB, when=base, thumbnail_uuid=thumb.uuid, **common)


def nights_of(host: CameraHost, kind: str, night: bool | None = None) -> list:
    with host.sessions() as s:
        q = select(Asset.day_date).where(Asset.kind == kind)
        if night is not None:
            q = q.where(Asset.night.is_(night))
        return sorted(set(s.scalars(q)))


def undelivered(host: CameraHost) -> set:
    with host.sessions() as s:
        return set(s.execute(select(Asset.kind, Asset.natural_key).join(UploadJob, UploadJob.asset_id == Asset.id)
                             .where(UploadJob.state != "done")).all())


def try_unreachable(host: CameraHost) -> None:
    """One worker pass against a remote where nothing listens: every job fails and waits to be retried."""
    table = dict(host.upload_table, remotes=[dict(host.upload_table["remotes"][0],
                                                  url=f"http://127.0.0.1:{free_port()}/indi-allsky")])
    worker = UploadWorker(from_table(table), host.storage.root, host.sessions, name="down")
    for _ in range(5):
        worker.run_once()


@pytest.fixture
def camera_host(tmp_path):
    with small_disk(tmp_path / "camera" / "data" / "images", 16), running_server(tmp_path / "remote") as remote:
        host = CameraHost(tmp_path / "camera", remote).setup()
        yield host


def test_sixty_nights_unattended_on_a_small_disk(camera_host):
    host = camera_host
    days = [FIRST + dt.timedelta(days=n) for n in range(NIGHTS)]
    today = {"value": days[0]}
    pruner = Pruner(host.sessions, host.storage, POLICY,
                    clock=lambda: dt.datetime.combine(today["value"], dt.time(12)))
    for index, day in enumerate(days):
        record_night(host, day)
        if index < DOWN_FROM and (index % 10 == 9):
            host.drain()
        elif index >= DOWN_FROM:
            try_unreachable(host)
        today["value"] = day + dt.timedelta(days=1)
        pruner.run()

    # exactly the policy's nights remain; everything undelivered (the last 10 nights) is still there
    last = days[-1] + dt.timedelta(days=1)
    assert nights_of(host, "image", night=True) == [d for d in days if d >= last - dt.timedelta(days=20)]
    assert nights_of(host, "image", night=False) == nights_of(host, "image", night=True)
    # FITS are kept 5 days, but those of the last 10 nights are not delivered yet: held
    assert nights_of(host, "fitsimage") == days[DOWN_FROM:]
    assert last - dt.timedelta(days=5) > days[DOWN_FROM]
    assert nights_of(host, "keogram") == days and nights_of(host, "video") == days
    waiting = undelivered(host)
    assert len(waiting) == 10 * 14  # 14 assets a night
    assert stored_files(host) == stored_rows(host)

    # the disk fills up: below the floor only delivered nights go, and capture keeps recording
    recorder = FrameRecorder(host.sessions, host.storage, "Test sky", ["remote"], ProcessingSettings(),
                             pruner=Pruner(host.sessions, host.storage, POLICY))
    fill = ballast(host.storage.root, leave_free=POLICY.floor.bytes_for(0) - 512 * KIB)
    first_frame = dt.datetime(2026, 4, 30, 1, 0, tzinfo=dt.timezone.utc)
    recorder(frame(first_frame), context(0))
    assert recorded(host, first_frame)
    events = prune_events(host)
    assert events and {e.reason for e in events} == {FLOOR} and all(e.undelivered == 0 for e in events)
    assert [e.prune_class for e in events] == sorted((e.prune_class for e in events), key=p.FLOOR_ORDER.index)
    assert waiting <= undelivered(host)  # nothing undelivered went above the emergency floor

    # the disk keeps filling (ballast grows): delivered nights go, products too, until only undelivered
    # data is left; then below the emergency floor undelivered FITS go first, never a night's products
    emergency = POLICY.emergency.bytes_for(0) - 256 * KIB
    for _ in range(50):
        if not delivered(host):
            break
        fill = ballast(host.storage.root, leave_free=emergency)
        assert Pruner(host.sessions, host.storage, POLICY).make_room().nights
    assert not delivered(host) and waiting <= undelivered(host)
    fill = ballast(host.storage.root, leave_free=emergency)
    second_frame = dt.datetime(2026, 4, 30, 1, 5, tzinfo=dt.timezone.utc)
    recorder(frame(second_frame, seed=2), context(1))
    assert recorded(host, second_frame) and recorded(host, first_frame)
    dropped = [e for e in prune_events(host) if e.reason == "emergency"]
    assert dropped and dropped[0].prune_class == p.FITS and sum(e.undelivered for e in dropped) > 0
    assert all(e.prune_class != p.PRODUCTS for e in dropped)
    assert nights_of(host, "keogram") == days[DOWN_FROM:] and nights_of(host, "video") == days[DOWN_FROM:]
    status = subprocess.run([str(BIN / "skyfleet"), "sync", "status"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "SKYFLEET_CONFIG": str(host.toml)}, timeout=60)
    assert status.returncode == 0, status.stderr
    assert f"dropped before delivery: {sum(e.undelivered for e in dropped)} asset(s)" in status.stdout
    kept = undelivered(host)
    assert waiting - kept, "below the emergency floor undelivered assets were dropped"

    # the remote comes back: everything that was kept arrives, once
    fill.unlink()
    before = {(kind, key) for _, kind, key, _ in remote_assets(host.remote)}
    host.drain(timeout=180)
    after = [(kind, key) for _, kind, key, _ in remote_assets(host.remote)]
    assert len(after) == len(set(after))
    assert set(after) - before == kept
    with host.sessions() as s:
        assert s.scalar(select(func.count(UploadJob.id)).where(UploadJob.state != "done")) == 0
        notes = s.scalars(select(UploadJob.last_error).where(UploadJob.last_error.is_not(None))).all()
    assert not [n for n in notes if "already on the remote" in n], "something was sent twice"
    assert stored_files(host) == stored_rows(host)


def delivered(host: CameraHost) -> int:
    with host.sessions() as s:
        return s.scalar(select(func.count(Asset.id)).where(~Asset.id.in_(
            select(UploadJob.asset_id).where(UploadJob.state != "done", UploadJob.asset_id.is_not(None)))))


def recorded(host: CameraHost, received: dt.datetime) -> bool:
    """Whether the frame received then (a 10 s exposure) is a stored image with its file."""
    started = (received - dt.timedelta(seconds=10)).replace(tzinfo=None)
    with host.sessions() as s:
        name = s.scalar(select(Asset.filename).where(Asset.kind == "image", Asset.create_date_utc == started))
    return name is not None and (host.storage.root / name).is_file()


def prune_events(host: CameraHost) -> list:
    with host.sessions() as s:
        return s.scalars(select(PruneEvent).where(PruneEvent.reason != "retention").order_by(PruneEvent.id)).all()


def stored_files(host: CameraHost) -> set:
    root = host.storage.root
    return {str(f.relative_to(root)) for f in root.rglob("*")
            if f.is_file() and ".staging" not in f.parts and f.name not in (".prune.lock", "ballast.bin")}


def stored_rows(host: CameraHost) -> set:
    with host.sessions() as s:
        return set(s.scalars(select(Asset.filename).where(Asset.filename.is_not(None))))
