"""A remote's 410 asset_expired is the outcome EXPIRED, and the worker marks such a job done (with a
note saying so), neither parked nor retried."""
from __future__ import annotations

import json
import logging
import os

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from skyfleet.upload import client as c
from tests.helpers.live import LiveServer
from tests.upload.conftest import CameraHost


def answer(status: int, body: bytes, **headers) -> c.Reply:
    resp = requests.Response()
    resp.status_code = status
    resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
    cl = c.SyncClient.__new__(c.SyncClient)  # _classify reads nothing of the client but its scheme
    cl.skyfleet_server, cl.remote = True, type("R", (), {"protocol": "auto"})()
    return cl._classify(resp, body, False)


EXPIRED_BODY = json.dumps({"error": "asset_expired", "message": "not stored: the night of 2026-10-01 is "
                           "older than this server keeps night frames (30 days)"}).encode()


def test_410_with_its_json_body_is_expired_with_the_remotes_message():
    reply = answer(410, EXPIRED_BODY)
    assert reply.outcome == c.EXPIRED and reply.status == 410
    assert reply.message.startswith("not stored: the night of 2026-10-01")


@pytest.mark.parametrize("body", [b"", b"<html>Gone</html>", b"{not json"])
def test_410_without_a_json_body_is_expired_too(body):
    reply = answer(410, body, **{"Content-Type": "text/html"})
    assert reply.outcome == c.EXPIRED and reply.message


def test_asset_expired_code_under_another_status_is_expired():
    assert answer(400, EXPIRED_BODY).outcome == c.EXPIRED


def test_indi_allsky_answers_are_classified_as_before():
    assert answer(400, b'{"error": "file_missing"}').outcome == c.NOT_FOUND
    assert answer(400, b'{"error": "file_exists"}').outcome == c.EXISTS
    assert answer(400, b"<html>Bad Request</html>").outcome == c.PERMANENT


class _StubClient:
    """Answers the camera sync with OK and every asset upload with 410 asset_expired."""

    skyfleet_server = True

    def __init__(self):
        self.calls = []

    def request(self, method, segment, meta, path=None, name="bogus.ext"):
        self.calls.append((method, segment))
        if segment == "camera":
            return c.Reply(c.OK, 200, {"id": 1})
        return c.Reply(c.EXPIRED, 410, json.loads(EXPIRED_BODY), json.loads(EXPIRED_BODY)["message"])

    def close(self):
        pass


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_worker_marks_an_expired_job_done_with_a_note(tmp_path):
    host = CameraHost(tmp_path / "cam", LiveServer(tmp_path / "never-started")).setup()
    asset = host.add("image", os.urandom(100))
    stub = _StubClient()
    worker = host.worker(client_factory=lambda remote: stub)
    records = _Records()
    worker_log = logging.getLogger("skyfleet.upload.worker")
    level, worker_log.level = worker_log.level, logging.INFO
    worker_log.addHandler(records)
    try:
        while worker.run_once():
            pass
    finally:
        worker_log.removeHandler(records)
        worker_log.setLevel(level)
    job = [j for j in host.jobs() if j.asset_id == asset.id][0]
    assert job.state == "done" and job.attempts == 1 and job.remote_id is None
    assert job.last_error == ("expired on the remote: not stored: the night of 2026-10-01 is older than this "
                              "server keeps night frames (30 days)")
    assert [call for call in stub.calls if call[1] == "image"] == [("POST", "image")]  # sent once, not retried
    assert host.jobs("parked") == [] and host.waiting() == 0
    assert any("expired on the remote" in r.getMessage() and r.levelname == "INFO" for r in records.records)
