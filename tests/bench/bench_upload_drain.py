"""Benchmark: how fast the camera host's outbox drains a backlog to a remote on loopback.

Each round sends a backlog twice to the same server: (a) drained by skyfleet's upload workers from the
durable queue, (b) sent straight by as many client threads, without queue or database ("raw server
ingest"). Both sides record their assets with the same metadata (`backlog_metadata`) and send what
`skyfleet.upload.metadata.for_asset` makes of the row, so the server does the same work for each.
Rounds alternate which side goes first; the report gives the median ratio (a)/(b) over the rounds and
its spread (min-max).  Run:

    .venv/bin/python -m tests.bench.bench_upload_drain [--rounds 5] [--small 300] [--videos 8] [--video-mb 50]
"""
from __future__ import annotations

import argparse
import os
import queue as stdqueue
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from skyfleet.local_assets import record_asset
from skyfleet.models import Asset
from skyfleet.upload import client as c
from skyfleet.upload import metadata
from tests.bench.threads import run_timed
from tests.helpers import metadata as mdh
from tests.helpers.live import LiveServer
from tests.helpers.media import fake
from tests.upload.conftest import CameraHost

# a video is one per night (its key is the night), an image one per second
SPACING = {"video": 86400, "image": 1}


def backlog_metadata(kind: str, when: int, camera_uuid: str) -> dict:
    """What both sides record for one asset of the backlog."""
    night_of = time.strftime("%Y%m%d", time.gmtime(when - 43200))
    return mdh.asset(kind, when=when, camera_uuid=camera_uuid, dayDate=night_of)


def record_backlog(host: CameraHost, kind: str, files: list, first: int, remotes: list) -> list:
    """Record one asset per file (copied into storage); with `remotes`, also their upload jobs."""
    ids = []
    with host.sessions() as s:
        camera = s.merge(host.camera)
        for i, path in enumerate(files):
            meta = backlog_metadata(kind, first + i * SPACING[kind], camera.uuid)
            ids.append(record_asset(s, host.storage, camera, kind, meta, path, remotes, move=False).id)
    return ids


def wire_requests(host: CameraHost, asset_ids: list) -> list:
    """(kind, metadata, file, name) of each asset, exactly as an upload worker builds them."""
    with host.sessions() as s:
        camera = s.merge(host.camera)
        requests = []
        for asset_id in asset_ids:
            asset = s.get(Asset, asset_id)
            path = host.storage.root / asset.filename
            requests.append((asset.kind, metadata.for_asset(asset, camera), path, path.name))
    return requests


def raw_ingest(host: CameraHost, requests: list, workers: int) -> float:
    """Assets per second sent by `workers` client threads straight to the server."""
    remote = host.upload.remote("remote")
    todo: stdqueue.Queue = stdqueue.Queue()
    for request in requests:
        todo.put(request)
    errors = []

    def send_until_empty():
        cl = c.SyncClient(remote, remote.load_key())
        try:
            while True:
                try:
                    kind, meta, path, name = todo.get_nowait()
                except stdqueue.Empty:
                    return
                reply = cl.request("POST", kind, meta, path, name)
                if reply.outcome != c.OK:
                    errors.append(reply.message)
        finally:
            cl.close()

    elapsed = run_timed(send_until_empty, workers)
    if errors:
        raise RuntimeError(f"{len(errors)} raw uploads failed: {errors[0]}")
    return len(requests) / elapsed


def outbox_drain(host: CameraHost, count: int, workers: int) -> float:
    """Assets per second for `workers` upload workers emptying the queue."""
    t0 = time.perf_counter()
    host.drain(timeout=3600, workers=workers)
    elapsed = time.perf_counter() - t0
    parked = host.jobs("parked")
    if parked:
        raise RuntimeError(f"{len(parked)} jobs parked: {parked[0].last_error}")
    return count / elapsed


@dataclass
class Case:
    label: str
    kind: str
    count: int
    size: int
    unit: str = "assets/s"
    scale: float = 1.0  # assets/s -> unit
    drain_rates: list = field(default_factory=list)
    raw_rates: list = field(default_factory=list)

    @property
    def ratios(self) -> list:
        return [d / r for d, r in zip(self.drain_rates, self.raw_rates)]


def source_files(root: Path, kind: str, count: int, size: int) -> list:
    root.mkdir()
    payload = fake(mdh.EXTENSION[kind], os.urandom(size))[:size]  # the server checks the type's first bytes
    files = [root / f"f{i}{mdh.EXTENSION[kind]}" for i in range(count)]
    for path in files:
        path.write_bytes(payload)
    return files


def run_case(root: Path, case: Case, rounds: int, workers: int) -> None:
    remote = LiveServer(root / f"{case.kind}-remote", workers=2)
    remote.prepare()
    remote.start()
    try:
        host = CameraHost(root / f"{case.kind}-camera", remote, protocol="skyfleet").setup(
            lease_seconds=120.0, idle_poll_seconds=0.05, retry_base_seconds=0.5)
        host.drain()  # camera sync
        files = source_files(root / f"{case.kind}-src", case.kind, case.count, case.size)
        block = case.count * SPACING[case.kind]
        first_times = iter(mdh.NIGHT_START + n * block for n in range(2 * rounds))  # new keys every time

        def raw() -> None:
            ids = record_backlog(host, case.kind, files, next(first_times), remotes=[])
            case.raw_rates.append(raw_ingest(host, wire_requests(host, ids), workers))

        def drain() -> None:
            record_backlog(host, case.kind, files, next(first_times), remotes=["remote"])
            case.drain_rates.append(outbox_drain(host, case.count, workers))

        for n in range(rounds):
            for side in ((raw, drain) if n % 2 == 0 else (drain, raw)):
                side()
            print(f"  {case.label}, round {n + 1}: drain {case.drain_rates[-1] * case.scale:.1f}, "
                  f"raw {case.raw_rates[-1] * case.scale:.1f} {case.unit}", flush=True)
    finally:
        remote.stop()


def report(cases: list, rounds: int, workers: int) -> None:
    print(f"\nBacklog drain on loopback, {workers} upload workers (threads) vs {workers} client threads, "
          f"gunicorn 2 workers, skyfleet signatures; {rounds} rounds alternating which side goes first, "
          f"medians\n")
    print("| backlog | unit | outbox drain | raw server ingest | drain / raw | spread of the ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for case in cases:
        drain = statistics.median(case.drain_rates) * case.scale
        raw = statistics.median(case.raw_rates) * case.scale
        ratios = case.ratios
        print(f"| {case.label} | {case.unit} | {drain:.1f} | {raw:.1f} | {statistics.median(ratios):.2f} "
              f"| {min(ratios):.2f}-{max(ratios):.2f} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds per case (each side once per round)")
    ap.add_argument("--small", type=int, default=300, help="small images per side and round (0: skip)")
    ap.add_argument("--small-kb", type=int, default=16)
    ap.add_argument("--videos", type=int, default=8, help="videos per side and round (0: skip)")
    ap.add_argument("--video-mb", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    cases = []
    if args.small:
        cases.append(Case(f"{args.small} x {args.small_kb} KB images", "image", args.small, args.small_kb * 1024))
    if args.videos:
        cases.append(Case(f"{args.videos} x {args.video_mb} MB videos", "video", args.videos,
                          args.video_mb * 1024 * 1024, unit="MB/s", scale=args.video_mb))
    root = Path(tempfile.mkdtemp(prefix="skyfleet-drain-"))
    try:
        for case in cases:
            run_case(root, case, args.rounds, args.workers)
        report(cases, args.rounds, args.workers)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
