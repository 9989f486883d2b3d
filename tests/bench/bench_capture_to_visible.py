"""Benchmark: capture to visible, from the end of an exposure to the image listed on the remote.

The whole chain on loopback: the INDI CCD simulator (1 s exposures), the capture loop and the frame
recorder of the camera host (processing, the outbox), a real `skyfleet-upload-worker` process, nginx
terminating TLS in front of the remote's gunicorn (gthread 2 x 8, as the role deploys it), and a
poller reading `/api/latest/<camera>/image` through nginx every 20 ms.  The end of an exposure is when
the BLOB arrived less its transfer (`exp_to_blob - exposure`).  Two rounds in the same run: the
worker woken by the queue's bell (what is deployed) and the same worker looking every
`idle_poll_seconds` only (the baseline, as before the bell).  Needs nginx (`apt-get install
nginx-light`).  Run:

    .venv/bin/python -m tests.bench.bench_capture_to_visible [--frames 50]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from flask_migrate import upgrade
from sqlalchemy import select

from skyfleet.capture.loop import CaptureLoop
from skyfleet.capture.settings import CaptureSettings
from skyfleet.factory import create_app
from skyfleet.models import Asset
from skyfleet.station.service import build_recorder
from tests.capture.indi_sim import CCD, IndiSim
from tests.capture.test_loop import fixed_sky
from tests.helpers.live import BIN, LiveServer, free_port

CAMERA = "bench-sky"
EXPOSURE = 1.0

NGINX_CONF = """
daemon off;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        client_max_body_size 100m;
        proxy_request_buffering on;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        location / {{ proxy_pass http://127.0.0.1:{upstream}; }}
    }}
}}
"""


def start_nginx(root: Path, upstream: int) -> tuple[subprocess.Popen, str, Path]:
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(exe).exists():
        sys.exit("nginx is missing: apt-get install nginx-light")
    root.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(root / "key.pem"),
                    "-out", str(root / "cert.pem")], check=True, capture_output=True)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""  # its workers write request bodies into our temp folder
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port, upstream=upstream, user=user))
    proc = subprocess.Popen([exe, "-p", str(root), "-c", str(root / "nginx.conf")], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"https://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/", verify=str(root / "cert.pem"), timeout=1)
            return proc, url, root / "cert.pem"
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not start: {(root / 'error.log').read_text()}")


class CameraHost:
    """A camera host's settings, database and upload worker process, for one round."""

    def __init__(self, root: Path, remote: LiveServer, url: str, ca_file: Path, indi_port: int, bell: bool):
        self.root = root
        self.camera = f"{CAMERA}-{root.name}"  # a camera per round: the latest URL finds it by name
        data = root / "data"
        key_file = root / "remote.key"
        root.mkdir(parents=True)
        key_file.write_text(remote.key + "\n")
        os.chmod(key_file, 0o600)
        self.raw = {"data_dir": str(data), "log_level": "WARNING",
                    "upload": {"idle_poll_seconds": 2.0, "remotes": [{
                        "name": "remote", "url": url + "/indi-allsky", "username": remote.user,
                        "api_key_file": str(key_file), "ca_file": str(ca_file)}]}}
        remote_lines = "\n".join(f'{k} = "{v}"' for k, v in self.raw["upload"]["remotes"][0].items())
        self.toml = root / "skyfleet.toml"
        self.toml.write_text(f'data_dir = "{data}"\nlog_level = "WARNING"\n[upload]\nidle_poll_seconds = 2.0\n'
                             f"[[upload.remotes]]\n{remote_lines}\n")
        app = create_app(self.raw)
        with app.app_context():
            upgrade()
        self.capture = CaptureSettings(latitude=52.0, longitude=5.0, indi_port=indi_port, ccd_device=CCD,
                                       camera_name=self.camera, period=EXPOSURE + 0.5, exposure_min_day=EXPOSURE,
                                       exposure_max_day=EXPOSURE, exposure_min_night=EXPOSURE,
                                       exposure_max_night=EXPOSURE, blob_margin=10.0)
        self.recorder = build_recorder(self.raw, self.capture)
        if not bell:  # the baseline: nothing rings, the worker finds each job at its next look
            from skyfleet.upload.bell import QueueBell
            QueueBell.ring = lambda self: None
        env = {"PATH": "/usr/bin:/bin", "SKYFLEET_CONFIG": str(self.toml), "LANG": "C.UTF-8"}
        self.worker = subprocess.Popen([str(BIN / "skyfleet-upload-worker"), "1"], env=env, start_new_session=True,
                                       stdout=subprocess.DEVNULL, stderr=open(root / "worker.log", "wb"))

    def newest_image_taken(self) -> str:
        with self.recorder.sessions() as session:
            taken = session.scalar(select(Asset.create_date_utc).where(Asset.kind == "image")
                                   .order_by(Asset.create_date_utc.desc()).limit(1))
        return taken.strftime("%Y-%m-%dT%H:%M:%SZ")

    def stop(self) -> None:
        self.worker.terminate()
        self.worker.wait(30)


def one_round(host: CameraHost, api_url: str, ca_file: Path, frames: int) -> list[tuple[float, float]]:
    """(end of exposure -> recorded, end of exposure -> visible) in seconds, per frame."""
    ended: dict[str, tuple[float, float]] = {}  # taken_utc -> (end of exposure, recorded)
    seen: dict[str, float] = {}
    done = threading.Event()

    def on_frame(frame, context):
        received = frame.received_at.replace(tzinfo=dt.timezone.utc).timestamp()
        end = received - max(0.0, frame.exp_to_blob - frame.exposure)
        host.recorder(frame, context)
        ended[host.newest_image_taken()] = (end, time.time())

    def poll():
        session = requests.Session()
        while not done.is_set():
            try:
                resp = session.get(api_url, verify=str(ca_file), timeout=5)
                if resp.status_code == 200:
                    seen.setdefault(resp.json()["taken_utc"], time.time())
            except requests.RequestException:
                pass
            done.wait(0.02)

    loop = CaptureLoop(host.capture, on_frame=on_frame, sky=fixed_sky(-30.0))
    poller = threading.Thread(target=poll, daemon=True)
    runner = threading.Thread(target=loop.run, daemon=True)
    poller.start()
    runner.start()
    deadline = time.monotonic() + frames * 10 + 60
    try:
        while time.monotonic() < deadline and sum(1 for k in ended if k in seen) < frames + 2:
            time.sleep(0.2)
    finally:
        loop.stop()
        runner.join(30)
        time.sleep(3)
        done.set()
        poller.join(10)
    keys = sorted(k for k in ended if k in seen)[2:frames + 2]  # the first two wait for the camera's sync
    if len(keys) < frames:
        raise RuntimeError(f"only {len(keys)} of {frames} frames became visible ({len(ended)} recorded, "
                           f"{len(seen)} seen: {sorted(ended)[:3]} {sorted(seen)[:3]}); worker log: "
                           f"{(host.root / 'worker.log').read_text()[-2000:]}")
    return [(ended[k][1] - ended[k][0], seen[k] - ended[k][0]) for k in keys]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=50)
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="skyfleet-bench-c2v-"))
    remote = LiveServer(root / "remote", workers=2, threads=8, extra_settings="[web]\ntrust_proxy_headers = true\n")
    remote.prepare()
    remote.start()
    nginx, url, ca_file = start_nginx(root / "nginx", remote.port)
    rows = []
    try:
        with IndiSim(root / "indi") as sim:
            for label, bell in (("bell (deployed)", True), ("polling every 2 s (baseline)", False)):
                host = CameraHost(root / f"camera-{int(bell)}", remote, url, ca_file, sim.port, bell)
                try:
                    result = one_round(host, f"{url}/api/latest/{host.camera}/image", ca_file, args.frames)
                finally:
                    host.stop()
                rows.append((label, result))
    finally:
        os.killpg(nginx.pid, 15)
        nginx.wait()
        remote.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nCapture to visible, INDI CCD simulator, {EXPOSURE:g} s exposures, {args.frames} frames per round, "
          f"through the outbox, a skyfleet-upload-worker and nginx (TLS) to gunicorn gthread 2x8, "
          f"Python {sys.version.split()[0]}\n")
    print("| round | recorded p50 | visible p50 | visible p95 | visible max |")
    print("|---|---:|---:|---:|---:|")
    for label, result in rows:
        recorded = [r for r, _ in result]
        visible = [v for _, v in result]
        print(f"| {label} | {statistics.median(recorded):.2f} s | {statistics.median(visible):.2f} s "
              f"| {percentile(visible, 95):.2f} s | {max(visible):.2f} s |")
    bell_p95, poll_p95 = (percentile([v for _, v in r], 95) for _, r in rows)
    print(f"\nvisible p95, bell / polling: {bell_p95 / poll_p95:.2f} (goal: bell p95 <= 1.5 s)")


if __name__ == "__main__":
    main()
