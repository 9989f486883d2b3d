"""SyncAPI v1 client: speaks to a skyfleet remote and to an unmodified indi-allsky remote.

Every answer is classified into an Outcome the queue acts on.  indi-allsky answers 400 for nearly
everything, so its JSON body ("file_exists", "camera not found", "authentication failed") decides;
a skyfleet remote says what it is with the X-Skyfleet-SyncAPI header and uses precise statuses, among
them 410 asset_expired (EXPIRED) for an asset it no longer keeps, which is done, not to be resent.

A remote can be broken or hostile, so no answer costs the camera host more than it must: at most
MAX_ANSWER_BYTES of an answer are read (the rest is never received; a JSON answer cut there is not
parsed), and every request has a total deadline, ``deadline_base_seconds`` plus its size at
``deadline_min_kib_per_second``, after which its connection is shut down whatever phase it is in
(sending, waiting, or an answer dripped a byte at a time, which ``read_timeout`` alone never ends).
"""
from __future__ import annotations

import email.utils
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlparse

import requests
import urllib3

from ..core.files import sha256_file
from ..core.signing import EMPTY_SHA256, SERVER_HEADER
from . import wire
from .config import RemoteConfig
from .deadline import Deadline, DeadlineAdapter

log = logging.getLogger(__name__)

OK, EXISTS, CAMERA_MISSING, NOT_FOUND, EXPIRED, PERMANENT, TRANSIENT = (
    "ok", "exists", "camera_missing", "not_found", "expired", "permanent", "transient")

# A SyncAPI answer is a small JSON object; this is far more than any honest one.
MAX_ANSWER_BYTES = 64 * 1024
_READ_BLOCK = 16 * 1024


@dataclass
class Reply:
    outcome: str
    status: Optional[int] = None
    body: Optional[dict] = None
    message: str = ""

    @property
    def remote_id(self) -> Optional[int]:
        return (self.body or {}).get("id")


class SyncClient:
    def __init__(self, remote: RemoteConfig, api_key: str, *, clock: Callable[[], float] = time.time,
                 session: Optional[requests.Session] = None):
        self.remote = remote
        self.api_key = api_key
        self.clock = clock
        self.session = session or requests.Session()
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, DeadlineAdapter())
        self.base_path = urlparse(remote.url).path
        self.skyfleet_server = remote.protocol == "skyfleet"
        self.clock_offset = 0.0  # the remote's clock minus ours, learnt from its Date header

    def close(self) -> None:
        self.session.close()

    @property
    def scheme(self) -> str:
        return "skyfleet" if self.skyfleet_server and self.remote.protocol != "indi-allsky" else "v1"

    def now(self) -> float:
        return self.clock() + self.clock_offset

    def request(self, method: str, segment: str, meta: dict, media_path: Optional[Path] = None,
                media_name: str = "bogus.ext") -> Reply:
        meta = dict(meta)
        size = media_path.stat().st_size if media_path is not None else 0
        meta["file_size"] = size  # last, as indi-allsky's client adds it just before signing
        raw = json.dumps(meta).encode()
        body = wire.MultipartBody(raw, media_path, media_name)
        path = f"{self.base_path}/sync/v1/{segment}"
        if self.scheme == "skyfleet":
            digest = sha256_file(media_path) if media_path is not None else EMPTY_SHA256
            headers = wire.skyfleet_headers(self.remote.username, self.api_key, method, path, raw, digest, self.now())
        else:
            headers = wire.v1_headers(self.remote.username, self.api_key, raw, self.now(), size)
        headers.update({"Content-Type": body.content_type, "Connection": "close",
                        "Accept-Encoding": "identity"})  # nothing to inflate: what is read is what is kept
        deadline = Deadline(self.remote.deadline(len(body)))
        sent_at = time.time()
        try:
            with deadline:
                resp = self.session.request(
                    method, self.remote.url + f"/sync/v1/{segment}", data=body, headers=headers,
                    verify=self.remote.tls_verify, allow_redirects=False, stream=True,
                    timeout=(self.remote.connect_timeout, self.remote.read_timeout))
                try:
                    answer, cut = _read_answer(resp, deadline)
                finally:
                    resp.close()
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if deadline.expired:
                return self._past_deadline(method, segment, len(body))
            if isinstance(exc, (requests.exceptions.SSLError, urllib3.exceptions.SSLError)):
                return Reply(PERMANENT, message=f"TLS verification of {self.remote.url} failed ({exc}); set "
                                                "ca_file to the remote's certificate")
            if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
                return Reply(TRANSIENT, message=f"{self.remote.url} unreachable: {type(exc).__name__}: {exc}")
            return Reply(TRANSIENT, message=f"{self.remote.url}: the answer broke off: {type(exc).__name__}: {exc}")
        except wire.MediaChanged as exc:
            return Reply(TRANSIENT, message=str(exc))
        if deadline.expired:  # an answer without a length looks complete when its connection is shut
            return self._past_deadline(method, segment, len(body))
        self._learn_server(resp, sent_at)
        if cut:
            log.warning("%s answered %s %s (HTTP %s, Content-Length %s) with more than %d KiB: read the first "
                        "%d KiB only and closed the connection", self.remote.url, method, segment,
                        resp.status_code, resp.headers.get("Content-Length", "none"), MAX_ANSWER_BYTES // 1024,
                        MAX_ANSWER_BYTES // 1024)
        return self._classify(resp, answer, cut)

    def _past_deadline(self, method: str, segment: str, size: int) -> Reply:
        r = self.remote
        message = (f"{r.url}: {method} {segment} had no complete answer within its deadline of "
                   f"{_seconds(r.deadline(size))} s ({_seconds(r.deadline_base_seconds)} s + {size} bytes at "
                   f"{r.deadline_min_kib_per_second:g} KiB/s: deadline_base_seconds, deadline_min_kib_per_second); "
                   "connection closed")
        log.warning("%s", message)
        return Reply(TRANSIENT, message=message)

    def _learn_server(self, resp: requests.Response, sent_at: float) -> None:
        if resp.headers.get(SERVER_HEADER) and self.remote.protocol == "auto" and not self.skyfleet_server:
            log.info("%s is a skyfleet remote: using skyfleet signatures", self.remote.url)
            self.skyfleet_server = True
        date = resp.headers.get("Date")
        if date:
            try:
                server_time = email.utils.parsedate_to_datetime(date).timestamp()
            except (TypeError, ValueError):
                return
            local = (sent_at + time.time()) / 2
            offset = server_time - local
            # Date has 1 s resolution: only correct a real difference, never chase the rounding.
            self.clock_offset = offset if abs(offset) > 2 else 0.0

    def _classify(self, resp: requests.Response, answer: bytes, cut: bool) -> Reply:
        status = resp.status_code
        body = None
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if not cut and encoding in ("", "identity"):
            try:
                body = json.loads(answer)
            except ValueError:
                body = None
        if not isinstance(body, dict):
            body = None
        error = (body or {}).get("error", "")
        if cut:
            text = (f"answer longer than {MAX_ANSWER_BYTES // 1024} KiB, not read beyond "
                    "(a SyncAPI answer is a small JSON object)")
        elif encoding not in ("", "identity"):
            text = f"answer in Content-Encoding {encoding!r}, which was not asked for"
        else:
            text = (body or {}).get("message") or error or answer[:200].decode("utf-8", "replace").strip()
            if status == 200 and body is None:
                text = f"the answer is not a JSON object: {text[:100]}"
        head = f"HTTP {status} {error}".strip()
        message = (f"{head}: {text}" if text else head) if status != 200 or body is None else ""
        if status == 200 and body is not None:
            return Reply(OK, status, body)
        if error == "file_exists":
            return Reply(EXISTS, status, body, message)
        if error == "camera not found":
            return Reply(CAMERA_MISSING, status, body, message)
        if error in ("file_missing", "camera_missing"):
            return Reply(NOT_FOUND, status, body, message)
        if status == 410 or error == "asset_expired":  # a skyfleet remote does not keep it: never resend
            return Reply(EXPIRED, status, body, text or head)
        if status in (429, 502, 503, 504, 507) or error in ("clock_skew", "replayed", "database_busy"):
            return Reply(TRANSIENT, status, body, message)
        if status >= 500:
            return Reply(TRANSIENT, status, body, message or f"HTTP {status}")
        if error == "authentication failed" or status in (401, 403):
            hint = ("" if self.scheme == "skyfleet" else
                    " (wrong user or key, or the clocks differ by more than 5 minutes)")
            return Reply(PERMANENT, status, body, (message or f"HTTP {status}") + hint)
        if status in (301, 302, 303, 307, 308):
            return Reply(PERMANENT, status, body, f"HTTP {status} redirect to {resp.headers.get('Location')}: "
                                                  "use the final https:// URL in upload.remotes.url")
        return Reply(PERMANENT, status, body, message or f"HTTP {status}")


def _seconds(value: float) -> str:
    return f"{round(value, 1):g}" if value < 10 else f"{value:.0f}"


def _read_answer(resp: requests.Response, deadline: Deadline) -> tuple:
    """(at most MAX_ANSWER_BYTES of the body, whether there was more). Nothing beyond is received."""
    chunks, got = [], 0
    while got <= MAX_ANSWER_BYTES and not deadline.expired:
        block = resp.raw.read(min(_READ_BLOCK, MAX_ANSWER_BYTES + 1 - got), decode_content=False)
        if not block:
            break
        chunks.append(block)
        got += len(block)
    answer = b"".join(chunks)
    return answer[:MAX_ANSWER_BYTES], got > MAX_ANSWER_BYTES
