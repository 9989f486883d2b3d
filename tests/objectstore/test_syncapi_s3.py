"""The SyncAPI on an S3-backed app (a real SeaweedFS): uploads land as objects with their rows, duplicates,
replacements and deletes keep row and object together, and a store that fails is a 503 that leaves
nothing behind (no row without its object, no object without its row, nothing in staging)."""
from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from skyfleet.core.object_storage import SET_ASIDE, S3Storage
from skyfleet.extensions import db
from skyfleet.models import Asset
from tests.helpers import media
from tests.helpers import metadata as mdh
from tests.helpers.indi_allsky import BY_FILE, CAMERA
from tests.helpers.seaweed import Seaweed, free_ports
from tests.helpers.storage import asset_count
from tests.objectstore.conftest import object_bytes, object_keys, s3_table

IMAGE = BY_FILE["image.json"]
REAL_PLACE = S3Storage.place


def rows(app) -> dict:
    with app.app_context():
        return {a.filename: (a.id, a.file_size, a.sha256) for a in db.session.scalars(select(Asset))}


def staging_left(app) -> list:
    folder = app.extensions["skyfleet"].settings.staging_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_nothing_anywhere(app, seaweed, bucket, prefix) -> None:
    assert asset_count(app) == 0
    assert object_keys(seaweed, bucket, prefix) == []
    assert staging_left(app) == []


def post_image(sender, content: bytes, method: str = "POST", **meta):
    return sender.send(method, "image", mdh.asset("image", **meta), content, media_name="sky.jpg")


def rel_of(resp) -> str:
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["url"][len("images/"):]


def test_an_indi_allsky_image_upload_lands_as_an_object_with_its_row(app, sender, seaweed, bucket, prefix):
    assert sender.send("PUT", "camera", None, raw_metadata=CAMERA.raw, media=b"",
                       media_name=CAMERA.media_name).status_code == 200
    content = IMAGE.media()
    resp = sender.send("PUT", "image", None, raw_metadata=IMAGE.raw, media=content, media_name=IMAGE.media_name)
    assert resp.status_code == 200, resp.get_json()
    stored = rows(app)
    [(rel, (asset_id, size, sha))] = stored.items()
    assert resp.get_json() == {"id": asset_id, "url": f"images/{rel}"}
    assert object_keys(seaweed, bucket, prefix) == [rel]
    assert object_bytes(seaweed, bucket, prefix, rel) == content
    assert (size, sha) == (len(content), hashlib.sha256(content).hexdigest())
    assert staging_left(app) == []

    again = sender.send("PUT", "image", None, raw_metadata=IMAGE.raw, media=content, media_name=IMAGE.media_name)
    assert again.status_code == 200 and again.get_json()["id"] == asset_id  # the same upload: the same asset
    assert object_keys(seaweed, bucket, prefix) == [rel]


def test_put_replaces_the_object_and_leaves_no_set_aside_copy(app, sender, camera, seaweed, bucket, prefix):
    first = post_image(sender, media.jpeg(3000))
    rel = rel_of(first)
    newer = media.jpeg(4000)
    replaced = post_image(sender, newer, method="PUT")
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()["id"] == first.get_json()["id"]
    assert object_keys(seaweed, bucket, prefix) == [rel]  # no .set-aside copy left
    assert object_bytes(seaweed, bucket, prefix, rel) == newer
    assert rows(app)[rel][1:] == (4000, hashlib.sha256(newer).hexdigest())


def test_post_of_other_content_under_the_same_key_is_a_conflict_and_keeps_the_object(app, sender, camera,
                                                                                      seaweed, bucket, prefix):
    original = media.jpeg(3000)
    rel = rel_of(post_image(sender, original))
    assert post_image(sender, media.jpeg(3500)).status_code == 409
    assert object_bytes(seaweed, bucket, prefix, rel) == original and staging_left(app) == []


def test_delete_removes_the_object_and_its_row(app, sender, camera, seaweed, bucket, prefix):
    asset_id = post_image(sender, media.jpeg(3000)).get_json()["id"]
    resp = sender.send("DELETE", "image", {"id": asset_id, "camera_uuid": mdh.CAMERA_UUID}, b"", add_size=False)
    assert resp.status_code == 200, resp.get_json()
    assert_nothing_anywhere(app, seaweed, bucket, prefix)


def _failing_commit(monkeypatch):
    """The commit of the asset's row fails (the request's earlier commits, e.g. of its v1 MAC, go through)."""
    real = db.session.commit

    def commit():
        if any(isinstance(obj, Asset) for obj in db.session().identity_map.values()):
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        return real()
    monkeypatch.setattr(db.session, "commit", commit)


def test_a_failed_commit_removes_the_object_it_placed(app, sender, camera, seaweed, bucket, prefix, monkeypatch):
    placed = []
    monkeypatch.setattr(S3Storage, "place", lambda self, *a, **kw: placed.append(a[1]) or REAL_PLACE(self, *a, **kw))
    _failing_commit(monkeypatch)
    resp = post_image(sender, media.jpeg(3000))
    assert resp.status_code == 503 and resp.get_json()["error"] == "database_error"
    monkeypatch.undo()
    assert len(placed) == 1  # the object was there before the commit failed
    assert_nothing_anywhere(app, seaweed, bucket, prefix)


def test_a_failed_commit_of_a_replacement_puts_the_old_object_back(app, sender, camera, seaweed, bucket, prefix,
                                                                    monkeypatch):
    original = media.jpeg(3000)
    rel = rel_of(post_image(sender, original))
    _failing_commit(monkeypatch)
    failed = post_image(sender, media.jpeg(4000), method="PUT")
    assert failed.status_code == 503 and failed.get_json()["error"] == "database_error"
    monkeypatch.undo()
    assert object_keys(seaweed, bucket, prefix) == [rel]  # the set-aside copy went back, and is gone
    assert object_bytes(seaweed, bucket, prefix, rel) == original
    assert rows(app)[rel][1] == 3000 and staging_left(app) == []


def _unavailable(resp, why: str) -> None:
    assert resp.status_code == 503, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["error"] == "storage_unavailable" and why in body["message"], body
    assert resp.headers["Retry-After"]


def test_an_unreachable_store_is_a_503_and_nothing_is_stored(app_factory, seaweed, bucket, prefix, tmp_path):
    [closed] = free_ports(1)
    table = s3_table(seaweed, bucket, prefix, tmp_path, endpoint_url=f"http://127.0.0.1:{closed}")
    app = app_factory(storage=table)
    sender = _sender(app)
    resp = post_image(sender, media.jpeg(3000))
    _unavailable(resp, "cannot be reached")
    assert asset_count(app) == 0 and staging_left(app) == []


def test_wrong_credentials_are_a_503_that_says_so_not_a_500(app_factory, seaweed, bucket, prefix, tmp_path):
    app = app_factory(storage=s3_table(seaweed, bucket, prefix, tmp_path, secret="not-the-secret"))
    resp = post_image(_sender(app), media.jpeg(3000))
    _unavailable(resp, "refuses the server's credentials")
    assert_nothing_anywhere(app, seaweed, bucket, prefix)


def test_a_store_that_went_down_refuses_a_delete_and_keeps_the_row(app_factory, tmp_path_factory, tmp_path):
    throwaway = Seaweed(tmp_path_factory.mktemp("seaweed-throwaway")).start()
    try:
        bucket = throwaway.new_bucket("down")
        app = app_factory(storage=s3_table(throwaway, bucket, "p", tmp_path))
        sender = _sender(app)
        asset_id = post_image(sender, media.jpeg(3000)).get_json()["id"]
        throwaway.stop()
        resp = sender.send("DELETE", "image", {"id": asset_id, "camera_uuid": mdh.CAMERA_UUID}, b"",
                           add_size=False)
        _unavailable(resp, "cannot be reached")
        assert asset_count(app) == 1  # the row stays: its object is still in the (stopped) store
        resp = post_image(sender, media.jpeg(3500), createDate=mdh.NIGHT_START + 60)
        _unavailable(resp, "cannot be reached")
        assert asset_count(app) == 1 and staging_left(app) == []
    finally:
        throwaway.stop()


def test_a_20_mib_timelapse_goes_up_in_parts_and_arrives_whole(app, sender, camera, seaweed, bucket, prefix):
    video = media.mp4(20 * 1024 * 1024 + 77)
    resp = sender.send("POST", "video", mdh.asset("video"), video, media_name="allsky-timelapse.mp4")
    assert resp.status_code == 200, resp.get_json()
    rel = rel_of(resp)
    stored = object_bytes(seaweed, bucket, prefix, rel)
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(video).hexdigest() == rows(app)[rel][2]
    etag = seaweed.client().head_object(Bucket=bucket, Key=f"{prefix}/{rel}")["ETag"].strip('"')
    assert etag.endswith("-3"), etag  # multipart_threshold_mb = 8: parts of 8, 8 and 4 MiB
    assert not any(k.startswith(SET_ASIDE) for k in object_keys(seaweed, bucket, prefix))


def _sender(app):
    from tests.conftest import add_api_user
    from tests.helpers.wire import Sender

    add_api_user(app)
    sender = Sender(app.test_client())
    assert sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 200
    return sender
