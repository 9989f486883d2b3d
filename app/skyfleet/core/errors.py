"""SyncAPI errors: every failure is a JSON body {"error": code, "message": text} with a precise status.

indi-allsky clients treat any status >= 400 as a failure and ignore the body, so the codes below keep
indi-allsky's wording where it had one (e.g. "file_exists") and are free to use precise statuses.
They are the protocol's words, so they live in the core: the core raises InvalidMetadata,
UnsupportedMedia, StorageFull and StorageUnavailable, the server (`syncapi`) the others, and turns any of
them into its JSON answer.
"""
from __future__ import annotations


class SyncError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 log_detail: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        # What the server logs: may say more than the client is told (never a key).
        self.log_detail = log_detail or message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": self.code, "message": self.message}


class AuthFailed(SyncError):
    status = 401
    code = "authentication failed"

    def __init__(self, log_detail: str, message: str = "authentication failed", **kw):
        super().__init__(message, log_detail=log_detail, **kw)


class Forbidden(SyncError):
    """Authenticated, but this account may not do that (e.g. change another account's camera)."""
    status = 403
    code = "forbidden"


class BadRequest(SyncError):
    status = 400
    code = "bad_request"


class InvalidMetadata(SyncError):
    status = 422
    code = "metadata_invalid"


class UnsupportedMedia(SyncError):
    """A media file of a type the asset kind does not take, or whose content is not what its name says."""
    status = 415
    code = "unsupported_media_type"


class NotFound(SyncError):
    status = 404
    code = "not_found"


class Conflict(SyncError):
    status = 409
    code = "file_exists"


class Expired(SyncError):
    """The asset is not kept on this server: older than its retention, or of a night already pruned
    here.  Nothing is stored; the client marks the upload done instead of sending it again."""
    status = 410
    code = "asset_expired"


class TooLarge(SyncError):
    status = 413
    code = "payload_too_large"


class StorageFull(SyncError):
    status = 507
    code = "insufficient_storage"


class Busy(SyncError):
    status = 503
    code = "database_busy"

    def __init__(self, message: str, **kw):
        super().__init__(message, headers={"Retry-After": "5"}, **kw)


class StorageUnavailable(SyncError):
    """The object store cannot be used now (unreachable, refusing the server's credentials, no such
    bucket): nothing was stored or changed, and the client may retry later."""
    status = 503
    code = "storage_unavailable"

    def __init__(self, message: str, **kw):
        super().__init__(message, headers={"Retry-After": "30"}, **kw)
