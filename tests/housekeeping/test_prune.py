"""Pruning order and the never-delete-undelivered rule, on many synthetic nights with real rows and files."""
from __future__ import annotations

import datetime as dt
import logging
import random

from sqlalchemy import select, update

from skyfleet.housekeeping import policy as p
from skyfleet.housekeeping.expiry import expired_reason
from skyfleet.housekeeping.prune import EMERGENCY, FLOOR, LOCK_NAME, RETENTION, _PruneLock
from skyfleet.models import Asset, Camera, ExpiryMark, PruneEvent, UploadJob
from tests.housekeeping.conftest import days_before

TODAY = dt.date(2026, 6, 30)
UNREACHABLE = 10**9  # MiB: a floor no disk meets, so the floor phase runs through everything it may take


def policy(**kw) -> p.RetentionPolicy:
    floor = p.Floor(kw.pop("floor_percent", 0.0), kw.pop("floor_mb", 0))
    emergency = p.Floor(kw.pop("emergency_percent", 0.0), kw.pop("emergency_mb", 0))
    cameras = kw.pop("cameras", {})
    return p.RetentionPolicy(days=p.Days(**kw), floor=floor, emergency=emergency, cameras=cameras)


def fill(site, nights: int, **kw) -> list:
    days = [days_before(TODAY, n) for n in range(nights, 0, -1)]
    for day in days:
        site.add_night(day, **kw)
    return days


def test_retention_keeps_exactly_the_policy_nights_and_removes_whole_nights(site):
    days = fill(site, 40)
    report = site.pruner(policy(images_days=30, fits_days=7, products_days=365)).run()
    kept_frames = [d for d in days if d >= TODAY - dt.timedelta(days=30)]
    assert site.nights("image", night=True) == kept_frames
    assert site.nights("image", night=False) == kept_frames
    assert site.nights("fitsimage") == [d for d in days if d >= TODAY - dt.timedelta(days=7)]
    assert site.nights("keogram") == days and site.nights("video") == days
    with site.sessions() as s:
        frame_thumbs = s.scalars(select(Asset.day_date).where(Asset.kind == "thumbnail", Asset.origin == 2)).all()
        product_thumbs = s.scalars(select(Asset.day_date).where(Asset.kind == "thumbnail", Asset.origin != 2)).all()
    assert sorted(set(frame_thumbs)) == kept_frames and len(frame_thumbs) == 2 * len(kept_frames)
    assert len(product_thumbs) == 3 * len(days)
    assert site.files() == site.filenames()  # no row without its file, no file without its row
    camera = site.cameras["cam"]
    for day in days:
        folder = site.storage.root / f"ccd_{camera.uuid}" / "exposures" / f"{day:%Y%m%d}"
        assert folder.exists() == (day in kept_frames), folder  # emptied folders are gone
    assert {n.reason for n in report.nights} == {RETENTION} and report.held == 0
    kept_fits = site.nights("fitsimage")
    assert report.assets == 5 * (len(days) - len(kept_frames)) + (len(days) - len(kept_fits))  # 2+2 thumbs+1 day
    with site.sessions() as s:
        assert s.scalar(select(UploadJob.id).where(UploadJob.asset_id.not_in(select(Asset.id)))) is None


def test_nothing_undelivered_is_removed_by_retention_and_it_goes_once_delivered(site):
    old = fill(site, 12, delivered=False)[:2]  # nights 12 and 11 days ago: past a 10-day retention
    pruner = site.pruner(policy(images_days=10, fits_days=10, products_days=10))
    report = pruner.run()
    assert report.assets == 0 and report.held == 2 * 12
    assert site.nights("image")[:2] == old
    with site.sessions() as s:
        s.execute(update(UploadJob).values(state="done"))
        s.commit()
    report = pruner.run()
    assert report.held == 0 and report.assets == 2 * 12
    assert site.nights("image")[0] == days_before(TODAY, 10) and site.nights("keogram")[0] == days_before(TODAY, 10)


def test_a_partly_delivered_night_keeps_what_a_remote_still_lacks(site):
    day = days_before(TODAY, 40)
    delivered = site.add("image", day)
    waiting = site.add("image", day, delivered=False)
    site.pruner(policy(images_days=30)).run()
    with site.sessions() as s:
        left = s.scalars(select(Asset.id).where(Asset.kind == "image")).all()
        mark = s.scalar(select(ExpiryMark))
    assert left == [waiting.id] and delivered.id not in left
    assert mark is None  # the night is not wholly gone: a remote asking for it is not told it expired


def test_below_the_floor_delivered_nights_go_oldest_first_class_by_class(site):
    rng = random.Random(14)
    for n in range(20, 0, -1):
        for camera in ("east", "west"):
            site.add_night(days_before(TODAY, n), camera=camera, delivered=rng.random() < 0.7)
    undelivered_before = _undelivered_ids(site)
    report = site.pruner(policy(images_days=0, fits_days=0, products_days=0, floor_mb=UNREACHABLE)).run()
    order = [(p.FLOOR_ORDER.index(n.prune_class), n.day) for n in report.nights]
    assert order == sorted(order), "classes in FLOOR_ORDER, each oldest night first"
    assert {n.reason for n in report.nights} == {FLOOR}
    assert [c for c in dict.fromkeys(n.prune_class for n in report.nights)] == list(p.FLOOR_ORDER)
    assert all(n.undelivered == 0 for n in report.nights)
    assert _undelivered_ids(site) == undelivered_before  # all still there: above the emergency floor
    with site.sessions() as s:
        assert set(s.scalars(select(Asset.id))) == undelivered_before  # and everything delivered went
    assert site.files() == site.filenames()


def test_below_the_emergency_floor_undelivered_frames_go_but_never_products(site, caplog):
    for n in range(6, 0, -1):
        site.add_night(days_before(TODAY, n), delivered=False)
    caplog.set_level(logging.ERROR, logger="skyfleet.housekeeping.prune")
    report = site.pruner(policy(images_days=0, fits_days=0, products_days=0, floor_mb=UNREACHABLE,
                                emergency_mb=UNREACHABLE)).run()
    assert [n.prune_class for n in report.nights] == ([p.FITS] * 6 + [p.DAY_FRAMES] * 6 + [p.NIGHT_FRAMES] * 6)
    assert [n.day for n in report.nights[:6]] == [days_before(TODAY, n) for n in range(6, 0, -1)]
    assert {n.reason for n in report.nights} == {EMERGENCY} and report.undelivered == report.assets
    assert site.nights("image") == [] and site.nights("fitsimage") == []
    assert len(site.nights("keogram")) == 6 and site.count(kind="thumbnail", origin=4) == 6
    with site.sessions() as s:
        events = s.scalars(select(PruneEvent).order_by(PruneEvent.id)).all()
    assert [e.undelivered for e in events] == [n.undelivered for n in report.nights]
    assert sum(1 for r in caplog.records if "before every remote had them" in r.getMessage()) == 18


def test_per_camera_retention_and_thumbnails_dropped_before_their_frames(site):
    for n in range(20, 0, -1):
        site.add_night(days_before(TODAY, n), camera="east", fits=0, products=False)
        site.add_night(days_before(TODAY, n), camera="archive", fits=0, products=False)
    pol = policy(images_days=15, thumbnails_days=5, cameras={"archive": p.Days(images_days=0)})
    site.pruner(pol).run()
    assert len(site.nights("image", camera="east")) == 15 and len(site.nights("image", camera="archive")) == 20
    with site.sessions() as s:
        east = site.cameras["east"].id
        thumbs = sorted(set(s.scalars(select(Asset.day_date).where(Asset.kind == "thumbnail",
                                                                   Asset.camera_id == east))))
        images = s.scalars(select(Asset).where(Asset.kind == "image", Asset.camera_id == east)).all()
    assert thumbs == [days_before(TODAY, n) for n in range(5, 0, -1)]
    assert any(i.thumbnail_uuid for i in images)  # frames outlive their thumbnails, not the other way round


def test_frames_with_detections_outlive_their_retention_but_not_the_floor(site):
    days = fill(site, 12, products=False, fits=0)
    old, recent = days[0], days[-1]
    with site.sessions() as s:  # one frame of the oldest night saw a meteor, one of the newest too
        for day in (old, recent):
            frame = s.scalars(select(Asset).where(Asset.kind == "image", Asset.day_date == day,
                                                  Asset.night.is_(True))).first()
            frame.detections = 1
        s.commit()
        meteor = {a.day_date: (a.id, a.thumbnail_uuid) for a in s.scalars(
            select(Asset).where(Asset.detections == 1))}
    site.pruner(policy(images_days=5, thumbnails_days=2)).run()
    with site.sessions() as s:
        left_old = s.scalars(select(Asset).where(Asset.day_date == old)).all()
    assert sorted((a.kind, a.id if a.kind == "image" else a.natural_key) for a in left_old) == sorted(
        [("image", meteor[old][0]), ("thumbnail", meteor[old][1])])  # the meteor frame and its thumbnail
    assert site.nights("image") == [old] + [d for d in days if d >= TODAY - dt.timedelta(days=5)]
    assert site.files() == site.filenames()
    site.pruner(policy(images_days=5, floor_mb=UNREACHABLE)).run()  # the floor takes them like the rest
    with site.sessions() as s:
        assert s.scalar(select(Asset.id).where(Asset.detections == 1)) is None


def test_expired_nights_are_remembered_for_the_syncapi(site):
    days = fill(site, 35, fits=0)
    site.pruner(policy(images_days=30)).run()
    with site.sessions() as s:
        camera = s.get(Camera, site.cameras["cam"].id)
        pol = policy(images_days=30)
        gone, kept = days[0], days[-1]
        assert expired_reason(s, pol, camera, "image", gone, True, None, TODAY)
        assert expired_reason(s, pol, camera, "thumbnail", gone, True, 2, TODAY)
        assert expired_reason(s, pol, camera, "image", kept, True, None, TODAY) is None
        assert expired_reason(s, pol, camera, "keogram", gone, True, None, TODAY) is None
        # a later, longer retention still knows what was pruned here
        assert "were pruned here" in expired_reason(s, policy(images_days=365), camera, "image", gone, True, None,
                                                    TODAY)


def test_a_dry_run_removes_nothing_and_predicts_the_real_run(site):
    fill(site, 12)
    pol = policy(images_days=5, fits_days=2, products_days=10)
    before = site.files()
    plan = site.pruner(pol).run(dry_run=True)
    assert site.files() == before and plan.assets > 0
    real = site.pruner(pol).run()
    assert [(n.camera, n.prune_class, n.day, n.assets, n.bytes) for n in plan.nights] == \
        [(n.camera, n.prune_class, n.day, n.assets, n.bytes) for n in real.nights]


def test_one_prune_at_a_time(site):
    fill(site, 3)
    with _PruneLock(site.storage.root / LOCK_NAME, wait=True):
        report = site.pruner(policy(images_days=1)).run(wait=False)
        room = site.pruner(policy(images_days=1, floor_mb=UNREACHABLE)).make_room()
    assert report.busy and room.busy and site.count(kind="image") == 9


def _undelivered_ids(site) -> set:
    with site.sessions() as s:
        return set(s.scalars(select(UploadJob.asset_id).where(UploadJob.state != "done",
                                                              UploadJob.asset_id.is_not(None))))
