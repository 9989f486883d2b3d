"""The outbox on its own: leases, ordering, backoff, parking (a real database of the camera host, no server)."""
import datetime as dt
import random

import pytest

from skyfleet.models import utcnow
from skyfleet.upload import queue
from skyfleet.upload.config import UploadConfigError, from_table
from tests.helpers import metadata as mdh
from tests.helpers.live import LiveServer
from tests.upload.conftest import CameraHost


@pytest.fixture
def offline_host(tmp_path):
    """A camera host whose remote never runs: the queue alone."""
    return CameraHost(tmp_path / "cam", LiveServer(tmp_path / "never-started")).setup()


def test_a_leased_job_belongs_to_one_worker_until_its_lease_expires(offline_host):
    offline_host.add("image", b"x")
    with offline_host.sessions() as s:
        first = queue.claim(s, ["remote"], "a", lease_seconds=30)  # the camera sync
        second = queue.claim(s, ["remote"], "b", lease_seconds=30)  # the image
        assert first.action == "camera" and second.action == "asset"
        assert queue.claim(s, ["remote"], "c", lease_seconds=30) is None
        later = utcnow() + dt.timedelta(seconds=31)
        taken_over = queue.claim(s, ["remote"], "c", lease_seconds=30, now=later)
        assert taken_over.id in (first.id, second.id) and taken_over.attempts == 2
        assert not queue.complete(s, first if taken_over.id == first.id else second, "a", 1)  # "a" lost it


def test_claim_orders_camera_then_thumbnails_then_newest_assets(offline_host):
    for i in range(3):
        offline_host.add("image", b"i", createDate=mdh.NIGHT_START + 60 * i)
    offline_host.add("thumbnail", b"t")
    with offline_host.sessions() as s:
        claimed = [queue.claim(s, ["remote"], f"w{i}", 30) for i in range(5)]
        kinds = [j.action if j.action == "camera" else j.asset.kind for j in claimed]
    assert kinds == ["camera", "thumbnail", "image", "image", "image"]
    images = [j.sort_time for j in claimed[2:]]
    assert images == sorted(images, reverse=True)


def test_retry_later_hides_a_job_until_its_time(offline_host):
    offline_host.add("image", b"x")
    with offline_host.sessions() as s:
        for _ in range(2):
            job = queue.claim(s, ["remote"], "w", 30)
            assert queue.retry_later(s, job, "w", "remote down", None, delay=60)
        assert queue.claim(s, ["remote"], "w", 30) is None
        assert queue.claim(s, ["remote"], "w", 30, now=utcnow() + dt.timedelta(seconds=61)) is not None


def test_release_does_not_count_an_attempt(offline_host):
    with offline_host.sessions() as s:
        job = queue.claim(s, ["remote"], "w", 30)
        assert job.attempts == 1 and queue.release(s, job, "w")
        again = queue.claim(s, ["remote"], "w", 30)
        assert again.id == job.id and again.attempts == 1


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    samples = {n: [queue.backoff(n, 5, 1800, rng) for _ in range(200)] for n in (1, 2, 5, 20)}
    assert all(2.5 <= d <= 5 for d in samples[1]) and all(5 <= d <= 10 for d in samples[2])
    assert all(40 <= d <= 80 for d in samples[5]) and all(900 <= d <= 1800 for d in samples[20])
    assert len(set(samples[5])) > 100  # jitter spreads the retries of many cameras


def test_enqueueing_twice_keeps_one_job_per_asset_and_remote(offline_host):
    asset = offline_host.add("image", b"x")
    with offline_host.sessions() as s:
        asset = s.merge(asset)
        queue.enqueue_asset(s, asset, ["remote"])
        s.commit()
    assert len([j for j in offline_host.jobs() if j.asset_id]) == 1


@pytest.mark.parametrize("table,needle", [
    ({"remotes": [{"name": "r", "url": "ftp://x", "username": "u", "api_key": "k"}]}, "upload.remotes[0].url"),
    ({"remotes": [{"name": "r", "url": "https://x/indi-allsky/", "username": "u", "api_key": "k"}]}, "trailing"),
    ({"remotes": [{"name": "r", "url": "https://x", "username": "u"}]}, "api_key_file"),
    ({"remotes": [{"url": "https://x", "username": "u", "api_key": "k"}]}, "upload.remotes[0].name is required"),
    ({"remotes": [{"name": "r", "url": "https://x", "username": "u", "api_key": "k", "protocol": "ftp"}]},
     "upload.remotes[0].protocol"),
    ({"remotes": [{"name": "r", "url": "https://x", "username": "u", "api_key": "k", "ca_file": "/nope.pem"}]},
     "upload.remotes[0].ca_file"),
    ({"remotes": [{"name": "r" * 65, "url": "https://x", "username": "u", "api_key": "k"}]},
     "upload.remotes[0].name must be at most 64 characters, got 65"),
    ({"workerz": 2}, "upload.workerz"),
    ({"workers": "two"}, "upload.workers"),
])
def test_upload_settings_errors_name_the_key(table, needle):
    with pytest.raises(UploadConfigError) as err:
        from_table(table)
    assert needle in str(err.value)


def test_missing_key_file_is_named(tmp_path):
    cfg = from_table({"remotes": [{"name": "r", "url": "https://x", "username": "u",
                                   "api_key_file": str(tmp_path / "missing.key")}]})
    with pytest.raises(UploadConfigError, match="missing.key"):
        cfg.remote("r").load_key()
