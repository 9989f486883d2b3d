"""Stored files in an S3-compatible object store (the remote tier's `[storage] backend = "s3"`).

The same `Storage` interface as `LocalStorage`: files are named by their layout path (`rel`), which
becomes the object key `prefix + rel`.  Staging stays a local folder (uploads are received, hashed and
checked there); `place` uploads the finished file with boto3's managed transfer (multipart above the
threshold) and returns only once the object is complete, so an object is either the old content or
the new.  A replaced or deleted object is set aside by a server-side copy to a hidden key under
`SET_ASIDE` and put back from there if the commit fails.

Every failure of the store is a SyncError: StorageFull (507) for a quota, StorageUnavailable (503)
for anything else (unreachable, refused credentials, no such bucket), with the cause in the log.
Keys are never hidden (no segment starting with "."): the hidden ones are this module's own.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Optional

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from . import media_types
from . import staging as staging_folder
from .errors import InvalidMetadata, StorageFull, StorageUnavailable, SyncError
from .storage import Storage

SET_ASIDE = ".set-aside"  # below the prefix: objects set aside by a replace or delete in flight
MAX_KEY_BYTES = 1024      # S3's limit
_MIB = 1024 * 1024
_FULL = {"QuotaExceeded", "QuotaExceededException", "InsufficientStorage", "XMinioStorageFull", "StorageFull"}
_REFUSED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken",
            "AuthorizationHeaderMalformed", "InvalidSecurity", "Forbidden", "403", "401"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


class NoLocalPath(TypeError):
    """Asked for a local path of an object-store file: the caller must use open() instead."""


class BadRange(ValueError):
    """A Range the object cannot satisfy (416)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    rel: str            # the key below the prefix
    size: int
    modified: dt.datetime  # aware, UTC

    @property
    def set_aside(self) -> bool:
        return self.rel.startswith(SET_ASIDE + "/")


@dataclass(frozen=True)
class Fetched:
    """An object being read: its body (a stream) and what a response needs to describe it."""
    body: Optional[IO[bytes]]  # None: not modified (the caller's If-None-Match/If-Modified-Since matched)
    size: int
    etag: str                  # without quotes
    modified: Optional[dt.datetime]
    content_range: Optional[str] = None


def check_rel(rel: str) -> str:
    """`rel` as an object key below the prefix: a relative path of plain, non-hidden segments."""
    if (not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel or "\0" in rel
            or len(rel.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES
            or any(not part or part.startswith(".") for part in rel.split("/"))):
        raise InvalidMetadata(f"path {str(rel)[:80]!r} would be outside the storage", code="invalid_path")
    return rel


def normal_prefix(prefix: str) -> str:
    """'' or 'a/b/' (no leading slash, one trailing slash), refusing hidden or empty segments."""
    prefix = prefix.strip("/")
    if not prefix:
        return ""
    check_rel(prefix)
    return prefix + "/"


def _client_error(exc: BaseException) -> Optional[ClientError]:
    """The ClientError behind `exc` (boto3's S3UploadFailedError wraps it)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, ClientError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _code(exc: BaseException) -> str:
    client = _client_error(exc)
    if client is None:
        return ""
    return str(client.response.get("Error", {}).get("Code", "")
               or client.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def failure(exc: BaseException, doing: str, *, outcome: str) -> SyncError:
    """The SyncError a failed call of the store is to the client; `outcome` says what did (not) happen."""
    code = _code(exc)
    if code in _FULL or code == "507":
        return StorageFull(f"the server's object storage is full; {outcome}", log_detail=f"{doing}: {exc}")
    if code in _REFUSED:
        why = "it refuses the server's credentials"
    elif code == "NoSuchBucket":
        why = "its bucket does not exist"
    elif isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        why = "the server has no credentials for it"
    elif isinstance(exc, ConnectionError) or isinstance(exc.__context__, ConnectionError):
        why = "it cannot be reached"
    elif code:
        why = f"it answered {code}"
    else:
        why = "it failed"
    return StorageUnavailable(f"the server's object storage is unavailable ({why}); {outcome}; retry later",
                              log_detail=f"{doing}: {exc!r}")


class S3Storage(Storage):
    """Stored files as objects `prefix + rel` in one bucket; `client` is a boto3 S3 client."""

    root = None  # no local folder: no free-space floor, no local paths

    def __init__(self, client, bucket: str, staging: Path, *, prefix: str = "",
                 multipart_threshold: int = 64 * _MIB):
        self.client = client
        self.bucket = bucket
        self.prefix = normal_prefix(prefix)
        self.staging = Path(staging).resolve()
        # Parts of the threshold's size (S3 wants at least 5 MiB but the last), a few at once.
        self.transfer = TransferConfig(multipart_threshold=multipart_threshold,
                                       multipart_chunksize=max(multipart_threshold, 5 * _MIB), max_concurrency=4)

    def key(self, rel: str) -> str:
        return self.prefix + check_rel(rel)

    def path(self, rel: str) -> Path:
        raise NoLocalPath(f"{rel[:80]!r} is an object in bucket {self.bucket!r}, it has no local path: "
                          "read it with open()")

    def exists(self, rel: str) -> bool:
        key = self.key(rel)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            if _code(exc) in _MISSING:
                return False
            raise failure(exc, f"looking for {key}", outcome="nothing was changed") from None
        return True

    def open(self, rel: str) -> IO[bytes]:
        """The object's body as a stream (FileNotFoundError when there is none)."""
        return self.fetch(rel).body

    def fetch(self, rel: str, *, byte_range: Optional[str] = None, if_none_match: Optional[str] = None,
              if_modified_since: Optional[dt.datetime] = None) -> Fetched:
        """Start reading `rel` (a `Range` header value, conditions passed on to the store)."""
        key = self.key(rel)
        args = {"Bucket": self.bucket, "Key": key}
        if byte_range:
            args["Range"] = byte_range
        if if_none_match:
            args["IfNoneMatch"] = if_none_match
        if if_modified_since is not None:
            args["IfModifiedSince"] = if_modified_since
        try:
            got = self.client.get_object(**args)
        except (BotoCoreError, ClientError) as exc:
            code = _code(exc)
            if code in _MISSING:
                raise FileNotFoundError(f"no object {key}") from None
            if code == "InvalidRange":
                raise BadRange(f"range {byte_range!r} is outside {key}") from None
            if code in ("304", "NotModified"):
                headers = _client_error(exc).response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                return Fetched(None, 0, headers.get("etag", "").strip('"'), None)
            raise failure(exc, f"reading {key}", outcome="nothing was read") from None
        return Fetched(got["Body"], got["ContentLength"], got.get("ETag", "").strip('"'), got.get("LastModified"),
                       got.get("ContentRange"))

    def presigned_url(self, rel: str, seconds: int, *, content_type: str, cache_control: str,
                      download_name: Optional[str] = None) -> str:
        """A GET URL of `rel` valid `seconds`, whose answer has these headers (whatever the object says)."""
        params = {"Bucket": self.bucket, "Key": self.key(rel), "ResponseContentType": content_type,
                  "ResponseCacheControl": cache_control}
        if download_name is not None:
            params["ResponseContentDisposition"] = f'attachment; filename="{_quoted(download_name)}"'
        try:
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
        except (BotoCoreError, ClientError) as exc:
            raise failure(exc, f"signing a URL of {params['Key']}", outcome="nothing was read") from None

    def place(self, source: Path, rel: str, *, move: bool = True) -> None:
        key = self.key(rel)
        content_type = media_types.served_type(rel) or media_types.DOWNLOAD_TYPE
        try:
            self.client.upload_file(str(source), self.bucket, key, ExtraArgs={"ContentType": content_type},
                                    Config=self.transfer)
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise failure(exc, f"uploading {key}", outcome="the upload was not stored") from None
        if move:
            Path(source).unlink(missing_ok=True)
        return None

    def delete(self, rel: Optional[str]) -> None:
        if rel:
            self._delete_key(self.key(rel))

    def set_aside(self, rel: str) -> Optional[str]:
        """Copy `rel` to a hidden key and delete it; the hidden key is the handle (None: no object)."""
        key = self.key(rel)
        if not self.exists(rel):
            return None
        backup = f"{self.prefix}{SET_ASIDE}/{uuid.uuid4().hex}-{rel.rsplit('/', 1)[-1]}"
        self._copy(key, backup, outcome="nothing was changed")
        try:
            self._delete_key(key)
        except SyncError:
            self._forget(backup)
            raise
        return backup

    def restore(self, backup: str, rel: str) -> None:
        key = self.key(rel)
        self._copy(backup, key, outcome=f"the set-aside copy {backup} is kept")
        self._forget(backup)

    def drop(self, backup: str) -> None:
        self._forget(backup)

    def clean_staging(self, older_than_seconds: float, now: float) -> int:
        return staging_folder.clean(self.staging, older_than_seconds, now)

    # -- the orphan sweep's view ------------------------------------------------------------------------
    def objects(self) -> Iterator[StoredObject]:
        """Every object below the prefix (set-aside ones included), in key order."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"]
                    yield StoredObject(key, key[len(self.prefix):], item["Size"], item["LastModified"])
        except (BotoCoreError, ClientError) as exc:
            raise failure(exc, f"listing {self.bucket}/{self.prefix}", outcome="nothing was changed") from None

    def remove(self, obj: StoredObject) -> None:
        self._delete_key(obj.key)

    def unfinished_uploads(self) -> Iterator[tuple]:
        """(key, upload id, started) of multipart uploads below the prefix never completed nor aborted."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:
                for item in page.get("Uploads", []):
                    yield item["Key"], item["UploadId"], item["Initiated"]
        except (BotoCoreError, ClientError) as exc:
            raise failure(exc, f"listing the multipart uploads of {self.bucket}",
                          outcome="nothing was changed") from None

    def abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            if _code(exc) != "NoSuchUpload":
                raise failure(exc, f"aborting the upload of {key}", outcome="it is kept") from None

    # -- helpers ----------------------------------------------------------------------------------------
    def _copy(self, src: str, dest: str, *, outcome: str) -> None:
        try:
            self.client.copy({"Bucket": self.bucket, "Key": src}, self.bucket, dest, Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            raise failure(exc, f"copying {src} to {dest}", outcome=outcome) from None

    def _delete_key(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            if _code(exc) not in _MISSING:
                raise failure(exc, f"deleting {key}", outcome="nothing was changed") from None

    def _forget(self, backup: str) -> None:
        try:
            self._delete_key(backup)
        except SyncError:
            pass  # a set-aside object left behind: the orphan sweep removes it once it is old


def _quoted(name: str) -> str:
    return name.replace("\\", "_").replace('"', "_").encode("ascii", "replace").decode("ascii").replace("?", "_")
