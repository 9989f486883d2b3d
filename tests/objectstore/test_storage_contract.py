"""The Storage interface, the same on both backends: the storage folder (LocalStorage) and an S3 bucket
(S3Storage on a real SeaweedFS).  Each test runs on both; what differs (local paths) is tested apart."""
from __future__ import annotations

import hashlib
import os

import pytest

from skyfleet.core.errors import InvalidMetadata
from skyfleet.core.object_storage import SET_ASIDE, NoLocalPath, S3Storage
from skyfleet.core.storage import LocalStorage
from tests.objectstore.conftest import object_keys

REL = "ccd_6f1c2d3e/exposures/20241231/ccd1_20241231_190000.jpg"


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "images", tmp_path / "images" / ".staging")
    return request.getfixturevalue("s3_storage")


def staged(storage, content: bytes, name: str = "upload-1.part"):
    storage.staging.mkdir(parents=True, exist_ok=True)
    path = storage.staging / name
    path.write_bytes(content)
    return path


def read(storage, rel: str) -> bytes:
    fh = storage.open(rel)
    try:
        return fh.read()
    finally:
        fh.close()


def test_place_moves_the_staged_file_in_and_it_reads_back(storage):
    source = staged(storage, b"\xff\xd8\xff first")
    assert not storage.exists(REL)
    storage.place(source, REL)
    assert storage.exists(REL) and read(storage, REL) == b"\xff\xd8\xff first"
    assert not source.exists()  # moved, not copied


def test_place_with_move_false_keeps_the_source(storage):
    source = staged(storage, b"kept")
    storage.place(source, REL, move=False)
    assert source.read_bytes() == b"kept" and read(storage, REL) == b"kept"


def test_place_over_an_existing_file_replaces_it_whole(storage):
    storage.place(staged(storage, b"old content"), REL)
    storage.place(staged(storage, b"new"), REL)
    assert read(storage, REL) == b"new"


def test_delete_removes_and_tolerates_missing_files_and_none(storage):
    storage.place(staged(storage, b"x"), REL)
    storage.delete(REL)
    assert not storage.exists(REL)
    storage.delete(REL)
    storage.delete(None)


def test_open_of_a_missing_file_is_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage.open("ccd_x/nothing.jpg")


def test_set_aside_takes_the_file_out_and_restore_puts_it_back(storage):
    storage.place(staged(storage, b"original"), REL)
    backup = storage.set_aside(REL)
    assert backup is not None and not storage.exists(REL)
    storage.place(staged(storage, b"replacement"), REL)
    storage.delete(REL)  # the replacement failed: its file goes, the original comes back
    storage.restore(backup, REL)
    assert read(storage, REL) == b"original"


def test_set_aside_then_drop_forgets_the_file_for_good(storage):
    storage.place(staged(storage, b"original"), REL)
    backup = storage.set_aside(REL)
    storage.drop(backup)
    assert not storage.exists(REL)
    if isinstance(storage, S3Storage):
        assert [o for o in storage.objects()] == []
    else:
        assert list(storage.staging.iterdir()) == []


def test_set_aside_of_a_missing_file_is_none(storage):
    assert storage.set_aside(REL) is None


@pytest.mark.parametrize("rel", ["../escape.jpg", "ccd_x/../../escape.jpg", "/etc/passwd", ".staging/upload-1.part"])
def test_paths_outside_the_storage_or_into_staging_are_refused(storage, rel):
    _refused(storage, rel)


@pytest.mark.parametrize("rel", ["ccd_x/.hidden.jpg", f"{SET_ASIDE}/abc-x.jpg", "ccd_x//double.jpg", "a\\b.jpg"])
def test_s3_hidden_keys_are_its_own_and_refused_as_paths(s3_storage, rel):
    _refused(s3_storage, rel)


def _refused(storage, rel: str) -> None:
    with pytest.raises(InvalidMetadata):
        storage.place(staged(storage, b"x"), rel)
    with pytest.raises(InvalidMetadata):
        storage.exists(rel)
    with pytest.raises(InvalidMetadata):
        storage.delete(rel)


def test_s3_objects_carry_the_prefix_and_the_fixed_type(s3_storage, seaweed, bucket, prefix):
    s3_storage.place(staged(s3_storage, b"\xff\xd8\xff"), REL)
    assert object_keys(seaweed, bucket, prefix) == [REL]
    head = seaweed.client().head_object(Bucket=bucket, Key=f"{prefix}/{REL}")
    assert head["ContentType"] == "image/jpeg"


def test_s3_set_aside_is_a_hidden_key_of_its_own(s3_storage, seaweed, bucket, prefix):
    s3_storage.place(staged(s3_storage, b"original"), REL)
    backup = s3_storage.set_aside(REL)
    assert backup.startswith(f"{prefix}/{SET_ASIDE}/")
    assert object_keys(seaweed, bucket, prefix) == [backup[len(prefix) + 1:]]


def test_s3_storage_has_no_local_paths(s3_storage):
    assert s3_storage.root is None
    with pytest.raises(NoLocalPath, match="no local path"):
        s3_storage.path(REL)


def test_s3_a_large_file_goes_up_in_parts_and_arrives_whole(s3_storage, seaweed, bucket, prefix):
    content = os.urandom(20 * 1024 * 1024 + 123)  # threshold 8 MiB: three parts
    s3_storage.place(staged(s3_storage, content, "big.part"), "ccd_x/timelapse/big.mp4")
    got = read(s3_storage, "ccd_x/timelapse/big.mp4")
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(content).hexdigest()
    etag = seaweed.client().head_object(Bucket=bucket, Key=f"{prefix}/ccd_x/timelapse/big.mp4")["ETag"]
    assert etag.strip('"').endswith("-3"), etag  # a multipart object's ETag counts its parts
