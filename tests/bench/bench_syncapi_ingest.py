"""Benchmark: SyncAPI ingest of a 1 MB JPEG + metadata through gunicorn on loopback.

Reports uploads/s for N concurrent clients, for skyfleet and for two bare WSGI apps under the same
gunicorn settings in the same run (`bare_wsgi.py`): the floor, which only writes the body to disk with
fsync, and the durable minimum, which also hashes it, renames it into place with its folder fsynced and
commits one SQLite row (what "durable when the answer is 200" costs with no parsing, no
authentication and no ORM); and skyfleet's ratio to each.  The default shape is the role's SyncAPI
service (gthread, 2 workers x 8 threads); `--threads 1` gives sync workers.  Request bodies are built
and signed before the clock starts, so the clients' own work is only sending.  With
SKYFLEET_TEST_DATABASE_URL set the server uses that database.  Run:

    .venv/bin/python -m tests.bench.bench_syncapi_ingest [--uploads 300] [--clients 1,8,32] [--threads 8] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.bench.site import empty_database, site_settings
from tests.bench.threads import run_timed
from tests.helpers import metadata as mdh
from tests.helpers.live import BIN, LiveServer, free_port, gunicorn_shape
from tests.helpers.seaweed import Seaweed
from tests.helpers.wire import dumps, multipart, sized, v1_headers


def make_jpeg(path: Path) -> bytes:
    exe = shutil.which("ffmpeg")
    if exe:
        subprocess.run([exe, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=2400x1800:rate=1",
                        "-frames:v", "1", "-q:v", "1", str(path)], check=True)
        data = path.read_bytes()
        if len(data) >= 1_000_000:
            return data[:1_000_000]  # a real JPEG head, cut to exactly 1 MB
    return b"\xff\xd8\xff" + os.urandom(1_000_000 - 3)


def start_bare(root: Path, workers: int, threads: int, app: str = "app") -> tuple[subprocess.Popen, str]:
    port = free_port()
    out = root / f"bare-{app}"
    out.mkdir()
    env = dict(os.environ, BARE_WSGI_DIR=str(out), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", *gunicorn_shape(workers, threads),
                             f"tests.bench.bare_wsgi:{app}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.post(url, data=b"x", timeout=1)
            return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("bare gunicorn did not start")


def signed_bodies(user: str, key: str, jpeg: bytes, uploads: int, start_at: int) -> list[tuple[bytes, dict]]:
    """Each upload's body and headers, built before the clock starts (v1 signatures stay valid for minutes)."""
    out = []
    for i in range(uploads):
        meta = dumps(sized(mdh.asset("image", when=start_at + i), jpeg))
        body, ctype = multipart(meta, jpeg, "sky.jpg")
        headers = v1_headers(user, key, meta)
        headers["Content-Type"] = ctype
        out.append((body, headers))
    return out


def server_cpu_seconds(master_pid: int) -> float:
    """User + system CPU of a gunicorn master's workers so far (what serving cost, without the clients)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    total = 0.0
    for pid in out.split():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measured(url: str, master_pid: int, requests_to_send: list[tuple[bytes, dict]],
             clients: int) -> tuple[float, float]:
    """(uploads per second, server CPU milliseconds per upload)."""
    cpu_before = server_cpu_seconds(master_pid)
    rate = run_clients(url, requests_to_send, clients)
    return rate, (server_cpu_seconds(master_pid) - cpu_before) * 1000 / len(requests_to_send)


def interleaved(servers: list[tuple[str, int]], batch: list[tuple[bytes, dict]], clients: int,
                rounds: int) -> list[tuple[float, float]]:
    """(uploads per second, server CPU ms per upload) of each (url, gunicorn master pid): the batch is sent
    in `rounds` slices and the servers take turns at each, so a slow spell of this (shared, noisy)
    machine falls on all of them rather than on one row."""
    size = -(-len(batch) // rounds)
    elapsed, cpu = [0.0] * len(servers), [0.0] * len(servers)
    for start in range(0, len(batch), size):
        part = batch[start:start + size]
        for i, (url, pid) in enumerate(servers):
            rate, ms = measured(url, pid, part, clients)
            elapsed[i] += len(part) / rate
            cpu[i] += ms * len(part)
    return [(len(batch) / e, c / len(batch)) for e, c in zip(elapsed, cpu)]


def run_clients(url: str, requests_to_send: list[tuple[bytes, dict]], clients: int) -> float:
    pending = iter(requests_to_send)
    lock = threading.Lock()
    errors = []

    def worker():
        session = requests.Session()
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            body, headers = item
            resp = session.post(url + "/indi-allsky/sync/v1/image", data=body, headers=headers, timeout=60)
            if resp.status_code != 200:
                errors.append(resp.text[:200])

    elapsed = run_timed(worker, clients)
    if errors:
        raise RuntimeError(f"{len(errors)} uploads failed, first: {errors[0]}")
    return len(requests_to_send) / elapsed


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads", type=int, default=300)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3, help="slices of each row, the servers taking turns")
    ap.add_argument("--s3", action="store_true", help="media in an S3 bucket (SeaweedFS started here)")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="skyfleet-bench-"))
    seaweed = None
    extra = ""
    if args.s3:
        seaweed = Seaweed(root / "seaweed").start()
        extra = site_settings(root, seaweed, seaweed.new_bucket("ingest"))
    if os.environ.get("SKYFLEET_TEST_DATABASE_URL"):
        empty_database(os.environ["SKYFLEET_TEST_DATABASE_URL"])
    srv = LiveServer(root / "skyfleet", workers=args.workers, threads=args.threads, extra_settings=extra)
    srv.prepare()
    srv.start()
    bare, bare_url = start_bare(root, args.workers, args.threads)
    durable, durable_url = start_bare(root, args.workers, args.threads, "durable_app")
    try:
        cam_meta = dumps(sized(mdh.camera(), b""))
        body, ctype = multipart(cam_meta, b"", "bogus.ext")
        headers = v1_headers(srv.user, srv.key, cam_meta)
        headers["Content-Type"] = ctype
        requests.put(srv.url + "/indi-allsky/sync/v1/camera", data=body, headers=headers, timeout=30).raise_for_status()
        jpeg = make_jpeg(root / "sky.jpg")
        rows = []
        start_at = mdh.NIGHT_START
        for n in [int(c) for c in args.clients.split(",")]:
            batch = signed_bodies(srv.user, srv.key, jpeg, args.uploads, start_at)
            (bare_rate, bare_cpu), (durable_rate, durable_cpu), (sky_rate, sky_cpu) = interleaved(
                [(bare_url, bare.pid), (durable_url, durable.pid), (srv.url, srv.proc.pid)], batch, n, args.rounds)
            start_at += args.uploads
            rows.append((n, sky_rate, bare_rate, durable_rate, sky_cpu, bare_cpu, durable_cpu))
        shape = (f"gthread {args.workers} workers x {args.threads} threads" if args.threads > 1
                 else f"{args.workers} sync workers")
        database = "PostgreSQL" if os.environ.get("SKYFLEET_TEST_DATABASE_URL") else "SQLite"
        database += " + SeaweedFS (S3)" if args.s3 else " + local disk"
        print(f"\nSyncAPI ingest, {len(jpeg)} byte JPEG, {args.uploads} uploads per row in {args.rounds} rounds, "
              f"{database}, gunicorn {shape}, Python {sys.version.split()[0]}\n")
        print("| clients | skyfleet uploads/s | floor | durable minimum | skyfleet / floor | durable minimum / floor "
              "| skyfleet / durable minimum | server CPU ms/upload skyfleet | floor | durable minimum |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, sky, bare_rate, durable_rate, sky_cpu, bare_cpu, durable_cpu in rows:
            print(f"| {n} | {sky:.1f} | {bare_rate:.1f} | {durable_rate:.1f} | {sky / bare_rate:.2f} "
                  f"| {durable_rate / bare_rate:.2f} | {sky / durable_rate:.2f} | {sky_cpu:.1f} | {bare_cpu:.1f} "
                  f"| {durable_cpu:.1f} |")
    finally:
        srv.stop()
        if seaweed is not None:
            seaweed.stop()
        for baseline in (bare, durable):
            os.killpg(baseline.pid, 15)
            baseline.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
