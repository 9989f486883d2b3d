"""Benchmark: how fast the camera host's outbox drains a backlog to a remote on loopback.

For each case the same number of assets is (a) drained by skyfleet's upload workers from the durable
queue and (b) sent straight to the same server by the bare client loop (no queue, no database), in the
same run; the ratio is (a)/(b).  Run:

    .venv/bin/python -m tests.bench.bench_upload_drain [--small 10000] [--videos 50] [--video-mb 50]
"""
from __future__ import annotations

import argparse
import os
import queue as stdqueue
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

from skyfleet.upload import client as c
from tests.helpers import metadata as mdh
from tests.helpers.live import LiveServer
from tests.upload.conftest import CameraHost


def raw_ingest(host: CameraHost, files: list, kind: str, workers: int, start: int) -> float:
    """Direct SyncAPI requests from `workers` threads: the server's own ingest rate for this load."""
    remote = host.upload.remote("remote")
    todo: stdqueue.Queue = stdqueue.Queue()
    for i, path in enumerate(files):
        todo.put((i, path))
    errors = []

    def run():
        cl = c.SyncClient(remote, remote.load_key())
        while True:
            try:
                i, path = todo.get_nowait()
            except stdqueue.Empty:
                cl.close()
                return
            meta = mdh.asset(kind, when=start + i * 86400 if kind == "video" else start + i,
                             camera_uuid=host.camera.uuid)
            if kind == "video":
                meta["dayDate"] = time.strftime("%Y%m%d", time.gmtime(start + i * 86400 - 43200))
            reply = cl.request("POST", kind, meta, path, path.name)
            if reply.outcome != c.OK:
                errors.append(reply.message)

    cl = c.SyncClient(remote, remote.load_key())
    cl.request("PUT", "camera", {"type": 1, "name": "Test sky", "uuid": host.camera.uuid})
    threads = [threading.Thread(target=run) for _ in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} raw uploads failed: {errors[0]}")
    return len(files) / elapsed


def drain(host: CameraHost, count: int, workers: int) -> float:
    t0 = time.perf_counter()
    host.drain(timeout=3600, workers=workers)
    elapsed = time.perf_counter() - t0
    assert len(host.jobs("done")) >= count
    return count / elapsed


def case(root: Path, name: str, n: int, size: int, kind: str, workers: int) -> tuple:
    remote = LiveServer(root / f"{name}-remote", workers=2)
    remote.prepare()
    remote.start()
    try:
        host = CameraHost(root / f"{name}-camera", remote, protocol="skyfleet").setup(
            lease_seconds=120.0, idle_poll_seconds=0.05, retry_base_seconds=0.5)
        host.drain()  # camera sync
        src = root / f"{name}-src"
        src.mkdir()
        payload = os.urandom(size)
        files = []
        for i in range(n):
            p = src / f"f{i}{mdh.EXTENSION[kind]}"
            p.write_bytes(payload)
            files.append(p)
        raw = raw_ingest(host, files, kind, workers, mdh.NIGHT_START + 10_000_000)
        for i, p in enumerate(files):  # the outbox's copy of the same backlog (other keys)
            when = mdh.NIGHT_START + (i * 86400 if kind == "video" else i)
            if kind == "video":
                host.add_file(kind, p, createDate=when, dayDate=time.strftime("%Y%m%d", time.gmtime(when - 43200)))
            else:
                host.add_file(kind, p, createDate=when)
        rate = drain(host, n, workers)
        return rate, raw
    finally:
        remote.stop()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=10000, help="number of small assets")
    ap.add_argument("--small-kb", type=int, default=16)
    ap.add_argument("--videos", type=int, default=50)
    ap.add_argument("--video-mb", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="skyfleet-drain-"))
    try:
        rows = []
        if args.small:
            rows.append((f"{args.small} x {args.small_kb} KB images", "assets/s",
                         *case(root, "small", args.small, args.small_kb * 1024, "image", args.workers)))
        if args.videos:
            rate, raw = case(root, "video", args.videos, args.video_mb * 1024 * 1024, "video", args.workers)
            mb = args.video_mb
            rows.append((f"{args.videos} x {mb} MB videos", "MB/s", rate * mb, raw * mb))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nBacklog drain on loopback, {args.workers} upload workers (threads), gunicorn 2 workers, "
              f"skyfleet signatures; peak RSS of this process {peak:.0f} MB\n")
        print("| backlog | unit | outbox drain | raw server ingest | drain / raw |")
        print("|---|---|---:|---:|---:|")
        for label, unit, rate, raw in rows:
            print(f"| {label} | {unit} | {rate:.1f} | {raw:.1f} | {rate / raw:.2f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
