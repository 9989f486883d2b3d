"""The SyncAPI v1 endpoints: /indi-allsky/sync/v1/<asset> with GET, POST, PUT and DELETE."""
from __future__ import annotations

import datetime as dt
import time

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import sessionmaker

from ..core import metadata as md
from ..core import signing
from ..core.assets import KINDS
from ..core.errors import BadRequest, Busy, Conflict, Expired, InvalidMetadata, NotFound, SyncError, TooLarge
from ..extensions import app_settings, db, skyfleet_state
from ..housekeeping.prune import Pruner
from ..models import User
from . import cameras, service
from .auth import Authenticator
from .multipart import StagedMedia, read_upload

bp = Blueprint("syncapi", __name__)


def clock() -> float:
    """The server clock (a function so tests can move it)."""
    return time.time()


def _now() -> dt.datetime:
    """The server clock as a naive UTC datetime (the Pruner's clock)."""
    return dt.datetime.fromtimestamp(clock(), dt.timezone.utc).replace(tzinfo=None)


def _keeping() -> service.Keeping:
    """What this server keeps today, and the pruner that makes room below the floor."""
    ext = skyfleet_state()
    pruner = Pruner(sessionmaker(bind=db.engine, expire_on_commit=False), ext.storage, ext.retention, clock=_now,
                    lock_dir=ext.settings.data_dir)
    return service.Keeping(ext.retention, _now().date(), pruner, log=current_app.logger)


@bp.route("/sync/v1/<segment>", methods=["GET", "POST", "PUT", "DELETE"])
def sync(segment: str):
    settings = app_settings()
    kind = KINDS.get(segment)
    if kind is None and segment != "camera":
        raise NotFound(f"unknown asset type {segment[:40]!r}; known: camera, {', '.join(sorted(KINDS))}",
                       code="unknown_asset_type")
    length = request.content_length
    if length is not None and length > settings.max_upload_bytes + settings.syncapi.max_metadata_kb * 1024:
        raise TooLarge(f"request body of {length} bytes is over the server's limit of "
                       f"{settings.syncapi.max_upload_mb} MiB")
    session = db.session()
    # One write transaction per upload, as short as the database allows: nothing is flushed before the
    # row is complete (reads need no flush: the request has nothing pending until then), and nothing
    # read is reloaded after a commit.
    session.expire_on_commit = False
    authenticator = Authenticator(
        session, skyfleet_state().keybox, accept_v1=settings.syncapi.accept_v1_signature,
        clock_skew=settings.syncapi.clock_skew_seconds, nonce_ttl=settings.syncapi.nonce_ttl_seconds,
        clock=clock, sweeps=skyfleet_state().sweeps)
    state = authenticator.begin(request.method, request.path, request.headers)
    parsed: dict = {}
    keeping = _keeping() if kind is not None else None

    def on_metadata(raw: bytes, digest: str):
        authenticator.check_metadata(state, raw, digest)
        parsed.update(md.parse(raw))
        if request.method == "DELETE" and state.scheme == "v1" and segment != "camera":
            # A v1 MAC does not cover the method: without this, a captured upload (whose metadata
            # finds its asset by key) could be replayed as a DELETE.  Upload metadata has no id.
            if "id" not in parsed:
                raise InvalidMetadata("a DELETE signed with a v1 signature must name the asset by 'id' (the "
                                      "id the upload answered); v1 signatures do not cover the method",
                                      code="metadata_missing_key")
            md.whole_number(parsed, "id", required=True, minimum=1)
        if request.method in ("POST", "PUT") and segment != "camera":
            announced = md.whole_number(parsed, "file_size", required=True)
            if announced and keeping.due():  # authenticated: make room before a media byte is staged
                keeping.make_room(f"storage below the floor before staging a {segment} upload")
            return announced
        return None

    upload = None
    try:
        with session.no_autoflush:
            upload = read_upload(request.stream, request.headers.get("Content-Type", ""), settings.staging_dir,
                                 max_metadata=settings.syncapi.max_metadata_kb * 1024,
                                 max_media=settings.max_upload_bytes, on_metadata=on_metadata,
                                 expected_length=length)
            if upload.metadata is None:
                raise BadRequest("the 'metadata' part is missing", code="metadata_missing")
            staged = upload.media or StagedMedia(filename="")
            authenticator.check_media(state, staged.sha256)
            user = state.user
            if segment == "camera":
                response = _camera(request.method, parsed, user)
            else:
                response = _asset(kind, request.method, parsed, upload, staged, user, keeping)
    except BaseException:
        authenticator.settle(state, failed=True)  # AuthFailed instead when it was another's replay
        raise
    finally:
        if upload is not None:
            upload.discard()
    authenticator.settle(state, failed=False)
    return response


def _camera(method: str, meta: dict, user: User):
    """Only the camera's own account or an admin may sync or read it (`cameras.authorize`)."""
    storage_session = db.session
    if method in ("POST", "PUT"):
        try:
            synced = cameras.upsert(storage_session, meta, user)
            storage_session.commit()
        except IntegrityError:  # another request created this camera a moment ago: update that one
            storage_session.rollback()
            synced = cameras.upsert(storage_session, meta, user)
            storage_session.commit()
        if synced.claimed:
            current_app.logger.warning("syncapi: user %s claimed camera %s (id %s), which had no owner",
                                       user.username, synced.camera.uuid, synced.camera.id)
        return jsonify(id=synced.camera.id)
    if method == "DELETE":
        raise SyncError("cameras are not deleted through the SyncAPI", status=405, code="not_implemented",
                        headers={"Allow": "GET, POST, PUT"})
    # indi-allsky's client sends `id` and `camera_uuid`; either finds the camera, both must match.
    camera_id = md.whole_number(meta, "id", minimum=1)
    camera_uuid = md.uuid(meta, "camera_uuid") or md.uuid(meta, "uuid", required=camera_id is None)
    camera = cameras.find(storage_session, camera_uuid, camera_id)
    if camera is not None and camera_uuid is None and not cameras.may(camera, user, method):
        camera = None  # asked by id alone, another account's camera is not there: no existence, no uuid
    if camera is None:
        given = " and ".join(name for name, value in (("id", camera_id), ("uuid", camera_uuid)) if value is not None)
        raise NotFound(f"no camera with that {given}", code="camera_missing")
    cameras.authorize(storage_session, camera, user, method)
    return jsonify(id=camera.id)


def _asset(kind, method: str, meta: dict, upload, staged: StagedMedia, user, keeping: service.Keeping):
    ext = skyfleet_state()
    camera_uuid = md.uuid(meta, "camera_uuid", required=True)
    camera = cameras.find(db.session, camera_uuid)
    if camera is None:
        raise NotFound("camera not found: sync the camera (PUT /sync/v1/camera) first", code="camera not found")
    cameras.authorize(db.session, camera, user, method)  # its own account or an admin; never claims
    if method in ("GET", "DELETE"):
        try:
            asset = service.find(db.session, kind, meta, camera)
        except NotFound as exc:
            # An asset that is here is always found; one that is not, of a night expired here, is gone
            # for good: 410, so the camera host does not send it again.
            why = keeping.lookup_expired(db.session, camera, kind, meta) if method == "GET" else None
            if why is None:
                raise
            raise Expired(f"not here: {why}", log_detail=f"{exc.message}: {why}") from None
        if method == "GET":
            return jsonify(service.describe(asset))
        service.delete(db.session, ext.storage, asset)
        return jsonify({})
    if upload.media is None:
        raise BadRequest("the 'media' part is missing", code="media_missing")
    announced = md.whole_number(meta, "file_size", required=True)
    if staged.size != announced:
        raise BadRequest(f"received {staged.size} media bytes but file_size says {announced}",
                         code="size_mismatch")
    result = service.store(db.session, ext.storage, kind, meta, camera, staged, user,
                           overwrite=(method == "PUT"), keeping=keeping)
    return jsonify(service.reply(result.asset))


@bp.after_request
def announce_skyfleet(response):
    response.headers[signing.SERVER_HEADER] = signing.SERVER_VERSION
    return response


@bp.errorhandler(SyncError)
def sync_error(exc: SyncError):
    db.session.rollback()
    current_app.logger.warning("syncapi %s %s rejected (%s %s): %s", request.method, request.path,
                               exc.status, exc.code, exc.log_detail)
    return jsonify(exc.body()), exc.status, exc.headers


@bp.errorhandler(IntegrityError)
def concurrent_duplicate(exc: IntegrityError):
    """Two requests stored the same asset at once; the other one won (its row and file are intact)."""
    return sync_error(Conflict("another request stored this asset at the same moment; GET it, or retry",
                               code="file_exists", log_detail=f"unique constraint on commit: {exc.orig}"))


@bp.errorhandler(OperationalError)
def database_error(exc: OperationalError):
    db.session.rollback()
    text = str(exc.orig).lower()
    if "locked" in text or "busy" in text or "could not obtain lock" in text:
        return sync_error(Busy("the database is busy; retry shortly", log_detail=str(exc.orig)))
    current_app.logger.error("syncapi %s %s database error: %s", request.method, request.path, exc.orig)
    return jsonify(error="database_error", message="the server's database failed; retry later"), 503


@bp.errorhandler(405)
def method_not_allowed(exc):
    return jsonify(error="method_not_allowed", message=f"{request.method} is not supported here"), 405
