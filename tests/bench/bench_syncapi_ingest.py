"""Benchmark: SyncAPI ingest of a 1 MB JPEG + metadata through gunicorn on loopback.

Reports uploads/s for N concurrent clients, for skyfleet and for a bare WSGI app that only writes the
body to disk (same gunicorn settings, same run), and their ratio.  Run:

    .venv/bin/python -m tests.bench.bench_syncapi_ingest [--uploads 300] [--clients 1,4,8]
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

from tests.bench.threads import run_timed
from tests.helpers import metadata as mdh
from tests.helpers.live import BIN, LiveServer, free_port
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


def start_bare(root: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    out = root / "bare-out"
    out.mkdir()
    env = dict(os.environ, BARE_WSGI_DIR=str(out), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                             "tests.bench.bare_wsgi:app"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.post(url, data=b"x", timeout=1)
            return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("bare gunicorn did not start")


def run_clients(url: str, user: str, key: str, jpeg: bytes, uploads: int, clients: int, start_at: int) -> float:
    counter = iter(range(uploads))
    lock = threading.Lock()
    errors = []

    def worker():
        session = requests.Session()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            meta = dumps(sized(mdh.asset("image", when=start_at + i), jpeg))
            body, ctype = multipart(meta, jpeg, "sky.jpg")
            headers = v1_headers(user, key, meta)
            headers["Content-Type"] = ctype
            resp = session.post(url + "/indi-allsky/sync/v1/image", data=body, headers=headers, timeout=60)
            if resp.status_code != 200:
                errors.append(resp.text[:200])

    elapsed = run_timed(worker, clients)
    if errors:
        raise RuntimeError(f"{len(errors)} uploads failed, first: {errors[0]}")
    return uploads / elapsed


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads", type=int, default=300)
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="skyfleet-bench-"))
    srv = LiveServer(root / "skyfleet", workers=args.workers)
    srv.prepare()
    srv.start()
    bare, bare_url = start_bare(root, args.workers)
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
            bare_rate = run_clients(bare_url, srv.user, srv.key, jpeg, args.uploads, n, start_at)
            sky_rate = run_clients(srv.url, srv.user, srv.key, jpeg, args.uploads, n, start_at)
            start_at += args.uploads
            rows.append((n, sky_rate, bare_rate))
        print(f"\nSyncAPI ingest, {len(jpeg)} byte JPEG, {args.uploads} uploads per row, "
              f"gunicorn {args.workers} sync workers, Python {sys.version.split()[0]}\n")
        print("| clients | skyfleet uploads/s | bare WSGI uploads/s | skyfleet / bare |")
        print("|---:|---:|---:|---:|")
        for n, sky, bare_rate in rows:
            print(f"| {n} | {sky:.1f} | {bare_rate:.1f} | {sky / bare_rate:.2f} |")
    finally:
        srv.stop()
        os.killpg(bare.pid, 15)
        bare.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
