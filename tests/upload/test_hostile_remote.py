"""A broken or hostile remote cannot exhaust or stall a camera host (issue 13, item 6).

Each remote here is a plain socket server on loopback that reads the request and then misbehaves: a
huge answer, an answer dripped one byte a second, silence. The client reads at most 64 KiB of any
answer and gives every request a total deadline; the worker stops renewing the lease of a job that
runs past its deadlines, so another worker retries it.
"""
from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import replace

import pytest

from skyfleet.upload import client as c
from skyfleet.upload import queue
from skyfleet.upload.client import MAX_ANSWER_BYTES, SyncClient
from skyfleet.upload.config import UploadConfigError, from_table
from tests.helpers import media
from tests.helpers.waiting import wait_until
from tests.upload.conftest import CameraHost, remote_assets

MiB = 1024 * 1024
HUGE = 300 * MiB


class _Recorder(logging.Handler):
    def __init__(self, messages: list):
        super().__init__(logging.INFO)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def upload_log():
    """The messages of the skyfleet.upload loggers. Not caplog: a camera host's migrations reconfigure
    logging (alembic's fileConfig), which drops caplog's handler from the root logger."""
    messages: list = []
    logger = logging.getLogger("skyfleet.upload")
    handler, level = _Recorder(messages), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield messages
    logger.removeHandler(handler)
    logger.setLevel(level)


class LoopbackRemote:
    """Accepts connections, reads each request (head and Content-Length body), then hands the socket
    to `answer(server, conn)`. Counts requests and the answer bytes it managed to send."""

    def __init__(self, answer, tls: ssl.SSLContext | None = None):
        self.answer = answer
        self.tls = tls
        self.stop = threading.Event()
        self.requests = 0
        self.sent = 0
        self.conns: list = []
        self.threads: list = []
        self.lock = threading.Lock()

    def __enter__(self) -> LoopbackRemote:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)  # so that the accept loop sees `stop`
        self.port = self.listener.getsockname()[1]
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads[:1]:
            t.join(timeout=30)
        self.listener.close()
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=30)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(t)
        t.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(120)
            with self.lock:
                self.conns.append(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
                with self.lock:
                    self.conns.append(conn)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            with self.lock:
                self.requests += 1
            self.answer(self, conn)
        except OSError:  # the client hung up: that is what these remotes are for
            pass
        finally:
            conn.close()

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self.lock:
            self.sent += len(data)

    def drip(self, conn: socket.socket, data: bytes) -> None:
        """`data` one byte a second, until the client hangs up or the test ends."""
        for i in range(len(data)):
            if self.stop.wait(1.0):
                return
            self.send(conn, data[i:i + 1])
        self.stop.wait()


def huge(status: str, framing: str):
    """A 300 MiB answer, JSON-looking, with a Content-Length or chunked."""
    def answer(srv: LoopbackRemote, conn: socket.socket) -> None:
        block = b"x" * (64 * 1024)
        opening = b'{"error": "' if status.startswith("5") else b'{"id": 1, "padding": "'
        head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if framing == "length":
            srv.send(conn, (head + f"Content-Length: {HUGE}\r\n\r\n").encode() + opening)
            wrap = bytes
        else:
            srv.send(conn, (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
                     + f"{len(opening):x}\r\n".encode() + opening + b"\r\n")

            def wrap(b):
                return f"{len(b):x}\r\n".encode() + b + b"\r\n"
        remaining = HUGE - len(opening)
        while remaining > 0 and not srv.stop.is_set():
            n = min(len(block), remaining)
            srv.send(conn, wrap(block[:n]))
            remaining -= n
        if framing == "chunked":
            srv.send(conn, b"0\r\n\r\n")
    return answer


def dripping(phase: str):
    def answer(srv: LoopbackRemote, conn: socket.socket) -> None:
        if phase == "headers":
            srv.drip(conn, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60000)
        else:
            srv.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            srv.drip(conn, b'{"id": 1, "padding": "' + b"a" * 99000)
    return answer


def silent(phase: str):
    def answer(srv: LoopbackRemote, conn: socket.socket) -> None:
        if phase == "after its headers":
            srv.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        srv.stop.wait()
    return answer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (certificate file, server context)."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


def remote_for(url: str, **settings):
    table = {"remotes": [{"name": "hostile", "url": url + "/indi-allsky", "username": "camera-host",
                          "api_key": "ab" * 32, "protocol": "skyfleet", **settings}]}
    return from_table(table).remotes[0]


def request_in_thread(cl: SyncClient, *args, limit: float = 60.0):
    """The client's request, run so that a request that never ends fails the test instead of hanging it."""
    out: dict = {}

    def run():
        started = time.monotonic()
        out["reply"] = cl.request(*args)
        out["seconds"] = time.monotonic() - started
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"the request was still running after {limit:.0f} s"
    return out["reply"], out["seconds"]


@pytest.mark.parametrize("status, framing, outcome", [
    ("500 Internal Server Error", "length", c.TRANSIENT),
    ("200 OK", "length", c.PERMANENT),
    ("200 OK", "chunked", c.PERMANENT),
])
def test_a_huge_answer_is_read_only_up_to_64_kib(status, framing, outcome, caplog):
    caplog.set_level(logging.WARNING, logger="skyfleet.upload")
    with LoopbackRemote(huge(status, framing)) as srv:
        cl = SyncClient(remote_for(srv.url), "ab" * 32)
        tracemalloc.start()
        try:
            reply = cl.request("GET", "camera", {"camera_uuid": "c0ffee"})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        cl.close()
    assert MAX_ANSWER_BYTES == 64 * 1024
    # The server fills the loopback socket buffers (a few MiB) before it notices the hang-up; what
    # matters is that the client stopped reading and held no more than the limit.
    assert srv.sent < 32 * MiB, f"the server sent {srv.sent / MiB:.0f} MiB"
    assert peak < 4 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"
    assert reply.outcome == outcome and reply.body is None
    assert "longer than 64 KiB" in reply.message, reply.message
    assert reply.status == int(status.split()[0])
    assert any("more than 64 KiB" in r.getMessage() and srv.url in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_an_answer_dripped_one_byte_a_second_ends_at_the_deadline(phase, caplog):
    caplog.set_level(logging.WARNING, logger="skyfleet.upload")
    with LoopbackRemote(dripping(phase)) as srv:
        # read_timeout bounds the gap between bytes only: 1 byte/s never trips it
        cl = SyncClient(remote_for(srv.url, read_timeout=30.0, deadline_base_seconds=3.0), "ab" * 32)
        reply, seconds = request_in_thread(cl, "GET", "camera", {"camera_uuid": "c0ffee"})
        cl.close()
    assert srv.sent >= 1  # it really was dripping when the deadline came
    assert reply.outcome == c.TRANSIENT
    assert "deadline of 3 s" in reply.message, reply.message
    assert 2.5 <= seconds < 30, f"the request took {seconds:.1f} s for a 3 s deadline"
    assert any("deadline" in r.getMessage() and srv.url in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("phase", ["after the request", "after its headers"])
def test_a_remote_that_falls_silent_is_given_up_at_the_deadline(phase):
    with LoopbackRemote(silent(phase)) as srv:
        cl = SyncClient(remote_for(srv.url, read_timeout=600.0, deadline_base_seconds=2.0), "ab" * 32)
        reply, seconds = request_in_thread(cl, "GET", "camera", {"camera_uuid": "c0ffee"})
        cl.close()
    assert reply.outcome == c.TRANSIENT and "deadline of 2 s" in reply.message, reply.message
    assert 1.5 <= seconds < 30


@pytest.mark.parametrize("answer", ["dripped", "huge"])
def test_over_tls_the_deadline_and_the_limit_hold_too(answer, certificate):
    """A TLS socket shut under its reader fails as a TLS error: that must still read as the deadline,
    not as a certificate problem that parks the job."""
    cert, context = certificate
    behaviour = dripping("body") if answer == "dripped" else huge("500 Internal Server Error", "length")
    with LoopbackRemote(behaviour, tls=context) as srv:
        cl = SyncClient(remote_for(srv.url, ca_file=str(cert), read_timeout=30.0, deadline_base_seconds=3.0),
                        "ab" * 32)
        reply, seconds = request_in_thread(cl, "GET", "camera", {"camera_uuid": "c0ffee"})
        cl.close()
    assert reply.outcome == c.TRANSIENT, reply.message
    if answer == "dripped":
        assert "deadline of 3 s" in reply.message and 2.5 <= seconds < 30, (reply.message, seconds)
    else:
        assert "longer than 64 KiB" in reply.message and srv.sent < 32 * MiB


def test_the_deadline_grows_with_the_size_of_the_request(tmp_path):
    remote = remote_for("http://127.0.0.1:9", deadline_base_seconds=10.0, deadline_min_kib_per_second=100.0)
    assert remote.deadline(0) == 10.0
    assert remote.deadline(300 * MiB) == pytest.approx(10.0 + 300 * 1024 / 100.0)
    defaults = remote_for("http://127.0.0.1:9")
    assert (defaults.deadline_base_seconds, defaults.deadline_min_kib_per_second) == (120.0, 32.0)
    # a 300 MiB video on a 32 KiB/s uplink still fits in its deadline (2 h 40 min)
    assert defaults.deadline(300 * MiB) == pytest.approx(120.0 + 9600.0)
    for bad in ({"deadline_base_seconds": 0.0}, {"deadline_min_kib_per_second": 0.0}):
        with pytest.raises(UploadConfigError, match=next(iter(bad))):
            remote_for("http://127.0.0.1:9", **bad)
    with pytest.raises(UploadConfigError, match="lease_max_renewals"):
        from_table({"lease_max_renewals": 1.5})


@pytest.mark.slow
def test_a_job_stuck_past_its_deadline_loses_its_lease_and_is_delivered_by_another_worker(
        tmp_path, remote, monkeypatch, upload_log):
    host = CameraHost(tmp_path / "cam", remote).setup(lease_seconds=1.5, lease_max_renewals=2)
    host.drain()  # the camera sync, through the good remote
    asset = host.add("image", media.jpeg(1500))
    renewals: Counter = Counter()
    real_renew = queue.renew

    def counting_renew(session, job, owner, lease_seconds):
        renewals[owner] += 1
        return real_renew(session, job, owner, lease_seconds)
    monkeypatch.setattr(queue, "renew", counting_renew)

    with LoopbackRemote(dripping("body")) as bad:
        # a request that would run for an hour: only the renewal cap can free its job
        stuck_remote = replace(host.upload.remote("remote"), url=bad.url + "/indi-allsky",
                               read_timeout=600.0, deadline_base_seconds=3600.0)
        stuck = host.worker("stuck", client_factory=lambda r: SyncClient(stuck_remote, r.load_key()))
        stuck_thread = threading.Thread(target=stuck.run_once, daemon=True)
        stuck_thread.start()
        assert wait_until(lambda: bad.requests >= 1, 60), "the stuck worker never reached the bad remote"
        host.drain(timeout=90)  # w0 takes the job over once the lease lapsed, and delivers it
        assert stuck_thread.is_alive(), "the stuck request ended on its own; the cap was not what freed the job"
    stuck_thread.join(60)  # the bad remote hung up: the stuck worker comes back
    assert not stuck_thread.is_alive()
    assert renewals["stuck"] == 2
    job = [j for j in host.jobs() if j.asset_id == asset.id][0]
    assert job.state == "done" and job.lease_owner is None
    images = [a for a in remote_assets(remote) if a[1] == "image"]
    assert len(images) == 1 and images[0][3] == asset.file_size
    messages = upload_log
    assert any(f"job {job.id}" in m and "no more lease renewals" in m for m in messages), messages
    assert any(f"job {job.id}" in m and "taken over" in m for m in messages), messages
