"""Benchmark: pruning expired images (rows and files) against `rm -rf` of the same files, same run.

Each round builds, in a fresh temporary folder, a migrated SQLite database (a copy of one built at the
start) with one camera and N images one every 30 s (100,000: about 35 nights, day and night frames),
each with a real small JPEG in the storage layout
(`ccd_<uuid>/exposures/<dayDate>/<night|day>/<dd_HH>/ccd<id>_<YYYYmmdd_HHMMSS>.jpg`) and an upload job
"done" for one remote (so the delivered check has work to do); and a second, identical file tree.
Then, timed, rounds alternating which goes first:

    (a) `Pruner.run()` with a clock moved past every image's retention: deletes the rows (the upload
        jobs by cascade), commits, unlinks the files and removes the folders left empty;
    (b) `rm -rf` (a subprocess) of the identical tree.

(a) is checked afterwards: the asset and upload_job tables hold no asset row, and the storage tree
holds no file and no folder (only the prune lock).  A dry run (`run(dry_run=True)`, rows read, nothing
deleted) is timed too, on its own copy of the database.  Setup (database copy, files, `sync`) is not
timed.  Floors are set to 0, so only retention prunes, whatever the machine's free space.  Run:

    .venv/bin/python -m tests.bench.bench_prune [--images 100000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from skyfleet.db_setup import session_factory
from skyfleet.extensions import db
from skyfleet.factory import create_app
from skyfleet.housekeeping.policy import Days, Floor, RetentionPolicy
from skyfleet.housekeeping.prune import LOCK_NAME, Pruner
from skyfleet.local_assets import storage_for
from skyfleet.models import Asset, Camera, UploadJob
from tests.helpers import media

STEP = dt.timedelta(seconds=30)
OFFSET = -18000                                  # the camera's UTC offset (UTC-5)
FIRST_LOCAL = dt.datetime(2026, 9, 1, 12, 0, 0)  # the first image: noon, local, starts dayDate 2026-09-01
IMAGES_DAYS = 30
FILE_BYTES = 512
REMOTE = "remote"
POLICY = RetentionPolicy(days=Days(images_days=IMAGES_DAYS), floor=Floor(0.0, 0), emergency=Floor(0.0, 0))


@dataclass
class Layout:
    camera_id: int
    camera_uuid: str
    last_day: dt.date
    files: list                                  # (folder, name) relative to the storage root
    folders: list                                # every folder that holds files, relative

    @property
    def top(self) -> str:
        return f"ccd_{self.camera_uuid}"


def image_rows(camera_id: int, camera_uuid: str, images: int) -> list:
    """The rows of `images` images, one every STEP, with the file names the layout gives them."""
    rows = []
    for i in range(images):
        local = FIRST_LOCAL + i * STEP
        utc = local - dt.timedelta(seconds=OFFSET)
        day = (local - dt.timedelta(hours=12)).date()  # indi-allsky's dayDate: createDate - 12 h
        night = local.hour >= 18 or local.hour < 6
        folder = f"ccd_{camera_uuid}/exposures/{day:%Y%m%d}/{'night' if night else 'day'}/{local:%d_%H}"
        rows.append({"camera_id": camera_id, "kind": "image", "natural_key": str(int(utc.timestamp())),
                     "create_date_utc": utc, "create_date": local, "utc_offset": OFFSET, "day_date": day,
                     "night": night, "filename": f"{folder}/ccd{camera_id}_{local:%Y%m%d_%H%M%S}.jpg",
                     "file_size": FILE_BYTES, "width": 1440, "height": 1080, "exposure": 15.0, "gain": 250.0,
                     "data": {}, "uploaded_at": utc})
    return rows


def build_template(root: Path, images: int) -> tuple[Path, Layout]:
    """A migrated SQLite database with the camera, its images and their done upload jobs."""
    data = root / "template"
    app = create_app({"data_dir": str(data), "log_level": "WARNING"})
    with app.app_context():
        upgrade()
        cam = Camera(uuid=str(uuid.uuid4()), name="Bench camera", utc_offset=OFFSET, data={})
        db.session.add(cam)
        db.session.commit()
        cid, cuuid = cam.id, cam.uuid
        rows = image_rows(cid, cuuid, images)
        for start in range(0, len(rows), 20000):
            db.session.execute(insert(Asset), rows[start:start + 20000])
        db.session.commit()
        now = FIRST_LOCAL - dt.timedelta(seconds=OFFSET)
        jobs = [{"remote": REMOTE, "action": "camera", "camera_id": cid, "asset_id": None, "state": "done",
                 "priority": 0, "sort_time": now, "attempts": 1, "done_at": now}]
        for asset_id, when in db.session.execute(select(Asset.id, Asset.create_date_utc).order_by(Asset.id)):
            jobs.append({"remote": REMOTE, "action": "asset", "camera_id": cid, "asset_id": asset_id,
                         "method": "POST", "state": "done", "priority": 2, "sort_time": when, "attempts": 1,
                         "remote_id": asset_id, "done_at": when})
        for start in range(0, len(jobs), 20000):
            db.session.execute(insert(UploadJob), jobs[start:start + 20000])
        db.session.commit()
        url = db.engine.url
        db.session.remove()
        db.engine.dispose()
    files = [tuple(r["filename"].rsplit("/", 1)) for r in rows]
    folders = sorted({f for f, _ in files})
    return Path(url.database), Layout(cid, cuuid, rows[-1]["day_date"], files, folders)


def copy_database(source: Path, target: Path) -> str:
    """A copy of the template database (SQLite's backup API: consistent, WAL included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return f"sqlite:///{target}"


def build_tree(root: Path, layout: Layout, payload: bytes) -> None:
    for folder in layout.folders:
        (root / folder).mkdir(parents=True)
    for folder, name in layout.files:
        with open(root / folder / name, "wb") as fh:
            fh.write(payload)


def tree_counts(root: Path) -> tuple[int, int]:
    """(files, folders) below `root`, the prune lock and the empty staging folder aside."""
    files = folders = 0
    for _here, dirs, names in os.walk(root):
        files += sum(1 for n in names if n != LOCK_NAME)
        folders += sum(1 for d in dirs if d != ".staging")
    return files, folders


def clock_for(layout: Layout):
    """A clock on the day every image's night is past IMAGES_DAYS."""
    today = layout.last_day + dt.timedelta(days=IMAGES_DAYS + 1)
    moment = dt.datetime.combine(today, dt.time(12, 0))
    return lambda: moment


def asset_rows(sessions) -> tuple[int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count(Asset.id))),
                s.scalar(select(func.count(UploadJob.id)).where(UploadJob.asset_id.is_not(None))))


@dataclass
class Results:
    prune: list = field(default_factory=list)    # seconds
    rm: list = field(default_factory=list)
    dry: list = field(default_factory=list)

    def ratios(self, side: str) -> list:
        return [t / r for t, r in zip(getattr(self, side), self.rm)]


def run_round(n: int, work: Path, template: Path, layout: Layout, payload: bytes, results: Results) -> None:
    images = len(layout.files)
    rnd = Path(tempfile.mkdtemp(prefix=f"round{n + 1}-", dir=work))  # both sides on one filesystem
    t0 = time.perf_counter()
    sessions = session_factory(copy_database(template, rnd / "a" / "local.db"))
    storage = storage_for(rnd / "a" / "images")
    build_tree(storage.root, layout, payload)
    dry_sessions = session_factory(copy_database(template, rnd / "dry" / "local.db"))
    dry_storage = storage_for(rnd / "dry" / "images")
    dry_storage.root.mkdir(parents=True)
    build_tree(rnd / "b", layout, payload)
    assert tree_counts(rnd / "b") == tree_counts(storage.root) == (images, len(layout.folders) + _parents(layout))
    assert asset_rows(sessions) == (images, images)
    os.sync()
    setup_s = time.perf_counter() - t0
    clock = clock_for(layout)

    def prune() -> None:
        os.sync()
        t = time.perf_counter()
        report = Pruner(sessions, storage, POLICY, clock=clock).run()
        results.prune.append(time.perf_counter() - t)
        assert report.assets == images and report.held == 0, (report.assets, report.held)
        assert asset_rows(sessions) == (0, 0), asset_rows(sessions)
        assert tree_counts(storage.root) == (0, 0), tree_counts(storage.root)

    def rm() -> None:
        os.sync()
        t = time.perf_counter()
        subprocess.run(["rm", "-rf", str(rnd / "b" / layout.top)], check=True)
        results.rm.append(time.perf_counter() - t)
        assert tree_counts(rnd / "b") == (0, 0)

    def dry() -> None:
        os.sync()
        t = time.perf_counter()
        report = Pruner(dry_sessions, dry_storage, POLICY, clock=clock).run(dry_run=True)
        results.dry.append(time.perf_counter() - t)
        assert report.assets == images, report.assets
        assert asset_rows(dry_sessions) == (images, images)

    order = (prune, rm) if n % 2 == 0 else (rm, prune)
    for side in order:
        side()
    dry()  # its own database: reads nothing the two above read
    for s in (sessions, dry_sessions):
        s.kw["bind"].dispose()
    shutil.rmtree(rnd)
    print(f"  round {n + 1} ({order[0].__name__} first, setup {setup_s:.0f} s): prune {results.prune[-1]:.2f} s, "
          f"rm -rf {results.rm[-1]:.2f} s, ratio {results.prune[-1] / results.rm[-1]:.2f}; "
          f"dry run {results.dry[-1]:.2f} s, ratio {results.dry[-1] / results.rm[-1]:.2f}", flush=True)


def _parents(layout: Layout) -> int:
    """Folders above the file-holding ones (ccd_<uuid>, exposures, the dayDates, night|day)."""
    parents = set()
    for folder in layout.folders:
        parts = folder.split("/")
        parents.update("/".join(parts[:k]) for k in range(1, len(parts)))
    return len(parents)


def report(results: Results, layout: Layout, rounds: int) -> None:
    images = len(layout.files)
    folders = len(layout.folders) + _parents(layout)
    nights = len({f.split("/")[2] for f in layout.folders})
    med = statistics.median
    print(f"\nPrune of {images:,} images ({images:,} rows + their {images:,} upload jobs, {images:,} files of "
          f"{FILE_BYTES} bytes in {folders:,} folders, {nights} nights) vs rm -rf of the same tree; SQLite; "
          f"{rounds} rounds alternating which goes first; {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print("| side | median s | files/s | / rm -rf (median) | spread of the ratio |")
    print("|---|---:|---:|---:|---:|")
    print(f"| rm -rf | {med(results.rm):.2f} | {images / med(results.rm):,.0f} | 1 | |")
    for label, side in (("Pruner.run()", "prune"), ("Pruner.run(dry_run=True)", "dry")):
        times, ratios = getattr(results, side), results.ratios(side)
        print(f"| {label} | {med(times):.2f} | {images / med(times):,.0f} | {med(ratios):.2f} "
              f"| {min(ratios):.2f}-{max(ratios):.2f} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000, help="images (rows and files) per side and round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (each side once per round)")
    args = ap.parse_args(argv)
    payload = media.jpeg(FILE_BYTES) if shutil.which("ffmpeg") else media.fake(".jpg", b"p" * (FILE_BYTES - 4))
    work = Path(tempfile.mkdtemp(prefix="skyfleet-bench-prune-"))
    try:
        t0 = time.perf_counter()
        template, layout = build_template(work, args.images)
        print(f"template database: {args.images:,} images and upload jobs in {time.perf_counter() - t0:.0f} s",
              flush=True)
        results = Results()
        for n in range(args.rounds):
            run_round(n, work, template, layout, payload, results)
        report(results, layout, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
