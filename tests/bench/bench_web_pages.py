"""Benchmark: web page latency with 100k images (+ 100k thumbnails) of one camera in the database.

Rows are bulk-inserted (no files but the few the latest URLs send: the pages only read the database),
then each page is requested through the Flask test client (the whole app: routing, login manager,
queries, templates, headers).
Reports p50/p95 per page and the ratio to a trivial route measured in the same run.  Goal: p95 <= 50 ms
for the night page (a keyset-paged grid) and the image list.  Run:

    .venv/bin/python -m tests.bench.bench_web_pages [--images 100000] [--requests 200]
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from skyfleet.extensions import db, skyfleet_state
from skyfleet.factory import create_app
from skyfleet.models import Asset, Camera
from skyfleet.web import latest

PER_NIGHT = 1000
STEP = dt.timedelta(seconds=40)
OFFSET = -18000
GOAL_MS = 50.0


def populate(app, images: int) -> dict:
    """One camera, `images` images with a thumbnail each, PER_NIGHT per night, and night products."""
    nights = max(1, images // PER_NIGHT)
    first_day = dt.date(2025, 1, 1)
    with app.app_context():
        cam = Camera(uuid=str(uuid.uuid4()), name="Bench camera", utc_offset=OFFSET, data={})
        db.session.add(cam)
        db.session.commit()
        cid = cam.id
        batch, n = [], 0
        for night in range(nights):
            day = first_day + dt.timedelta(days=night)
            start_utc = dt.datetime.combine(day, dt.time(23, 0))  # 18:00 at UTC-5
            for i in range(min(PER_NIGHT, images - n)):
                t = start_utc + i * STEP
                local = t + dt.timedelta(seconds=OFFSET)
                thumb = str(uuid.uuid4())
                stem = f"ccd_{cam.uuid}/exposures/{day:%Y%m%d}/night/{local:%d_%H}"
                common = {"camera_id": cid, "create_date_utc": t, "create_date": local, "utc_offset": OFFSET,
                          "day_date": day, "night": True, "data": {}, "uploaded_at": t}
                batch.append({**common, "kind": "thumbnail", "natural_key": thumb, "uuid": thumb, "origin": 2,
                              "filename": f"{stem}/thumbnails/{thumb}.jpg", "file_size": 20000, "width": 320,
                              "height": 240})
                batch.append({**common, "kind": "image", "natural_key": str(int(t.timestamp())),
                              "filename": f"{stem}/ccd{cid}_{local:%Y%m%d_%H%M%S}.jpg", "file_size": 800000,
                              "width": 1440, "height": 1080, "thumbnail_uuid": thumb, "exposure": 15.0,
                              "gain": 250.0, "temp": -3.0 - i / 500, "adu": 60 + (i % 50), "stars": 400 + i % 90,
                              "sqm": 7400.0 + i % 30, "moonphase": 12.0, "moonmode": False})
                n += 1
            for kind in ("keogram", "startrail", "video"):
                ext = "mp4" if kind == "video" else "jpg"
                batch.append({"camera_id": cid, "kind": kind, "natural_key": f"{day:%Y%m%d}-night",
                              "create_date_utc": start_utc, "create_date": start_utc + dt.timedelta(seconds=OFFSET),
                              "utc_offset": OFFSET, "day_date": day, "night": True, "data": {},
                              "uploaded_at": start_utc, "file_size": 1000,
                              "filename": f"ccd_{cam.uuid}/timelapse/{day:%Y%m%d}/{kind}_{day:%Y%m%d}.{ext}"})
            if len(batch) >= 20000:
                db.session.execute(insert(Asset), batch)
                batch = []
        if batch:
            db.session.execute(insert(Asset), batch)
        db.session.commit()
        mid_day = first_day + dt.timedelta(days=nights // 2)
        ids = list(db.session.scalars(select(Asset.id).where(
            Asset.camera_id == cid, Asset.kind == "image", Asset.day_date == mid_day)
            .order_by(Asset.create_date_utc, Asset.id)))
        total = db.session.scalar(select(func.count(Asset.id)))
    return {"camera": cid, "day": mid_day, "ids": ids, "rows": total}


def write_latest_files(app, camera_id: int) -> str:
    """The files the latest URLs answer (the pages need none); returns the newest image's ETag."""
    with app.app_context():
        cam = db.session.get(Camera, camera_id)
        root = Path(skyfleet_state().storage.root)
        for kind in ("image", "thumbnail", "keogram"):
            path = root / latest.newest(db.session, cam, kind).filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200_000 if kind == "image" else 20_000))
    return app.test_client().get(f"/latest/{camera_id}/image").headers["ETag"]


def measure(client, url: str, requests: int, headers=None, status: int = 200) -> list:
    for _ in range(max(5, requests // 10)):  # warm-up: template compilation, SQLite page cache
        assert client.get(url, headers=headers).status_code == status, url
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        resp = client.get(url, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == status, (url, resp.status_code)
    return times


def p95(times: list) -> float:
    return statistics.quantiles(times, n=20)[18]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="skyfleet-bench-web-") as tmp:
        config = {"data_dir": str(Path(tmp) / "data"), "log_level": "WARNING"}
        if args.database_url:
            config["database_url"] = args.database_url
        app = create_app(config)
        app.add_url_rule("/bench/ping", "bench_ping", lambda: "pong")
        with app.app_context():
            upgrade()
        t0 = time.perf_counter()
        info = populate(app, args.images)
        load_s = time.perf_counter() - t0
        cid, day, ids = info["camera"], info["day"], info["ids"]
        etag = write_latest_files(app, cid)
        night = f"/camera/{cid}/night/{day.isoformat()}"
        pages = [
            ("baseline: trivial route", "/bench/ping"),
            ("night page, first 120 thumbnails", night),
            ("night page, keyset page in the middle", f"{night}?after={ids[len(ids) // 2]}"),
            ("night page, last page", f"{night}?last=1"),
            ("image viewer (prev/next, position)", f"/camera/{cid}/image/{ids[len(ids) // 2]}"),
            ("nights calendar (month)", f"/camera/{cid}/nights?month={day:%Y-%m}"),
            ("night charts (1000 points per series)", f"{night}/charts"),
            ("camera page", f"/camera/{cid}"),
            ("Now page", "/"),
            ("Now JSON (polled)", "/api/now"),
            ("loop of the last 60 images", f"/camera/{cid}/loop"),
            ("loop JSON, last 300 images", f"/api/camera/{cid}/loop?n=300"),
            ("gallery, a month of nights", f"/camera/{cid}/gallery?month={day:%Y-%m}"),
            ("latest image (200 KB file)", f"/latest/{cid}/image"),
            ("latest thumbnail", f"/latest/{cid}/thumbnail"),
            ("latest keogram, tonight, JSON (404: not tonight)", f"/api/latest/{cid}/keogram/tonight", None, 404),
            ("latest image, a poller's revalidation (304)", f"/latest/{cid}/image", {"If-None-Match": etag}, 304),
        ]
        client = app.test_client()
        results = [(page[0], page[1], measure(client, page[1], args.requests, *page[2:])) for page in pages]
        base = p95(results[0][2])
        db_kind = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
        print(f"\n{info['rows']:,} asset rows ({args.images:,} images + thumbnails + night products), {db_kind}, "
              f"loaded in {load_s:.1f} s; {args.requests} requests per page via the Flask test client; "
              f"Python {sys.version.split()[0]}\n")
        print("| page | p50 ms | p95 ms | p95 / baseline | goal p95 <= 50 ms |")
        print("|---|---:|---:|---:|---|")
        failed = False
        for name, _url, times in results:
            q = p95(times)
            goal = "" if name.startswith("baseline") else ("ok" if q <= GOAL_MS else "MISSED")
            failed |= goal == "MISSED"
            print(f"| {name} | {statistics.median(times):.1f} | {q:.1f} | {q / base:.1f}x | {goal} |")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
