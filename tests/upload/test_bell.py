"""The queue's bell (issue 18, item 5): an idle worker takes a freshly queued image at once instead of
at its next look, and only a commit that queued jobs rings."""
from __future__ import annotations

import dataclasses
import os
import threading

from skyfleet.upload import queue
from skyfleet.upload.bell import QueueBell
from skyfleet.upload.worker import UploadWorker
from tests.helpers import metadata as mdh
from tests.helpers.waiting import wait_until
from tests.upload.conftest import remote_assets


def test_a_commit_that_queues_jobs_rings_and_a_rolled_back_one_does_not(host):
    bell = QueueBell(host.data)
    bell.attach(host.sessions)
    assert not bell.path.exists()
    host.add("image", os.urandom(500))
    first = bell.path.stat().st_mtime_ns
    with host.sessions() as s:
        queue.enqueue_camera(s, s.merge(host.camera), ["elsewhere"])
        s.rollback()
        s.commit()  # nothing left to commit: no ring
    assert bell.path.stat().st_mtime_ns == first
    host.add("image", os.urandom(501), createDate=mdh.NIGHT_START + 60)
    assert bell.path.stat().st_mtime_ns != first


def test_wait_returns_on_a_ring_on_stop_and_at_the_timeout(tmp_path):
    bell, stop = QueueBell(tmp_path), threading.Event()
    assert bell.wait(0.2, stop) is False  # nothing rang
    threading.Timer(0.2, bell.ring).start()
    assert bell.wait(30, stop) is True
    threading.Timer(0.2, stop.set).start()
    assert bell.wait(30, stop) is False and stop.is_set()


def test_an_idle_worker_delivers_a_new_image_long_before_its_next_look(host, remote):
    """The worker looks at the queue every 120 s here; the bell makes it deliver within seconds."""
    bell = QueueBell(host.data)
    bell.attach(host.sessions)
    host.upload = dataclasses.replace(host.upload, idle_poll_seconds=120.0)
    stop = threading.Event()
    worker = UploadWorker(host.upload, host.storage.root, host.sessions, name="w-bell", stop=stop, bell=bell)
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        assert wait_until(lambda: host.waiting() == 0, 60)  # the camera sync queued at setup
        host.add("image", os.urandom(700))
        assert wait_until(lambda: [a for a in remote_assets(remote) if a[1] == "image"], 60), \
            "the image was not delivered before the worker's next look"
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()
