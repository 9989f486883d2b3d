"""The [upload] settings table: workers, remotes, retry policy."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlparse

PROTOCOLS = ("auto", "skyfleet", "indi-allsky")
REMOTE_NAME_LENGTH = 64  # UploadJob.remote


class UploadConfigError(ValueError):
    """A bad [upload] value; the message names the key."""


NO_REMOTE = "no remote configured: add an [[upload.remotes]] table to the settings file"


@dataclass(frozen=True)
class RemoteConfig:
    name: str
    url: str
    username: str
    api_key_file: str = ""
    api_key: str = ""  # prefer api_key_file: the settings file is readable by more than the key should be
    ca_file: str = ""
    verify_tls: bool = True
    protocol: str = "auto"
    connect_timeout: float = 10.0
    read_timeout: float = 120.0  # the longest silence between two bytes, not a limit on the whole request
    # Every request's total deadline, whatever the remote does (a byte a second never trips read_timeout):
    # deadline_base_seconds plus the request's size at deadline_min_kib_per_second (KiB/s). The defaults let
    # a 300 MiB video take 2 h 42 min on a 32 KiB/s uplink; a request past its deadline is retried later.
    deadline_base_seconds: float = 120.0
    deadline_min_kib_per_second: float = 32.0

    def deadline(self, request_bytes: int) -> float:
        """Seconds a request of `request_bytes` (its whole body) may take, answer included."""
        return self.deadline_base_seconds + request_bytes / (self.deadline_min_kib_per_second * 1024)

    def load_key(self) -> str:
        if self.api_key:
            return self.api_key.strip()
        try:
            return Path(self.api_key_file).read_text().strip()
        except OSError as exc:
            raise UploadConfigError(f"upload.remotes[{self.name}].api_key_file: cannot read "
                                    f"{self.api_key_file}: {exc.strerror}") from None

    @property
    def tls_verify(self):
        """What requests' `verify` takes: a CA file path, True, or False."""
        if not self.verify_tls:
            return False
        return self.ca_file or True


@dataclass(frozen=True)
class UploadSettings:
    remotes: tuple = ()
    workers: int = 0  # 0: 2, or 1 on hosts with less than 2 GB of RAM
    lease_seconds: float = 60.0
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 1800.0
    idle_poll_seconds: float = 2.0
    # A worker renews its job's lease every lease_seconds / 3 while the job runs, but at most this many
    # times; then the lease lapses and another worker retries the job. 0: as many as the job's requests
    # need within their deadlines (see RemoteConfig.deadline), so only a job stuck past them loses it.
    lease_max_renewals: int = 0

    @property
    def worker_count(self) -> int:
        return self.workers or default_worker_count()

    def remote(self, name: str) -> RemoteConfig:
        for r in self.remotes:
            if r.name == name:
                return r
        raise UploadConfigError(f"no remote named {name!r} in [upload] (known: "
                                f"{', '.join(r.name for r in self.remotes) or 'none'})")


def default_worker_count() -> int:
    """indi-allsky's advice: one upload worker on hosts with less than 2 GB of RAM."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 1
    return 1 if total < 2 * 1024**3 else 2


def _typed(where: str, value: Any, expected: Any) -> Any:
    if isinstance(expected, bool):
        if not isinstance(value, bool):
            raise UploadConfigError(f"{where} must be true or false, got {value!r}")
    elif isinstance(expected, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise UploadConfigError(f"{where} must be a non-negative number, got {value!r}")
        if isinstance(expected, int) and value != int(value):
            raise UploadConfigError(f"{where} must be a whole number, got {value!r}")
        return type(expected)(value)
    elif not isinstance(value, str):
        raise UploadConfigError(f"{where} must be a string, got {value!r}")
    return value


def _remote(index: int, raw: Any) -> RemoteConfig:
    if not isinstance(raw, Mapping):
        raise UploadConfigError(f"upload.remotes[{index}] must be a table")
    defaults = {f.name: f.default for f in fields(RemoteConfig)}
    unknown = sorted(set(raw) - set(defaults))
    if unknown:
        raise UploadConfigError(f"upload.remotes[{index}].{unknown[0]}: unknown setting")
    for required in ("name", "url", "username"):
        if not raw.get(required):
            raise UploadConfigError(f"upload.remotes[{index}].{required} is required")
    values = {k: _typed(f"upload.remotes[{index}].{k}", v, defaults[k]) for k, v in raw.items()}
    remote = RemoteConfig(**values)
    url = urlparse(remote.url)
    if url.scheme not in ("http", "https") or not url.netloc or remote.url.endswith("/"):
        raise UploadConfigError(f"upload.remotes[{index}].url must be http(s)://host[:port]/path without a "
                                f"trailing '/', got {remote.url!r}")
    if remote.protocol not in PROTOCOLS:
        raise UploadConfigError(f"upload.remotes[{index}].protocol must be one of {', '.join(PROTOCOLS)}")
    if len(remote.name) > REMOTE_NAME_LENGTH:
        raise UploadConfigError(f"upload.remotes[{index}].name must be at most {REMOTE_NAME_LENGTH} characters, "
                                f"got {len(remote.name)}")
    if not remote.api_key and not remote.api_key_file:
        raise UploadConfigError(f"upload.remotes[{index}]: set api_key_file (or api_key)")
    for positive in ("deadline_base_seconds", "deadline_min_kib_per_second"):
        if getattr(remote, positive) <= 0:
            raise UploadConfigError(f"upload.remotes[{index}].{positive} must be more than 0, "
                                    f"got {getattr(remote, positive)!r}")
    if remote.ca_file and not Path(remote.ca_file).is_file():
        raise UploadConfigError(f"upload.remotes[{index}].ca_file: {remote.ca_file} does not exist")
    return remote


def from_table(raw: Optional[Mapping[str, Any]]) -> UploadSettings:
    raw = dict(raw or {})
    remotes_raw = raw.pop("remotes", [])
    defaults = {f.name: f.default for f in fields(UploadSettings) if f.name != "remotes"}
    unknown = sorted(set(raw) - set(defaults))
    if unknown:
        raise UploadConfigError(f"upload.{unknown[0]}: unknown setting (known: remotes, {', '.join(sorted(defaults))})")
    values = {k: _typed(f"upload.{k}", v, defaults[k]) for k, v in raw.items()}
    if not isinstance(remotes_raw, list):
        raise UploadConfigError("upload.remotes must be an array of tables ([[upload.remotes]])")
    remotes = tuple(_remote(i, r) for i, r in enumerate(remotes_raw))
    names = [r.name for r in remotes]
    if len(set(names)) != len(names):
        raise UploadConfigError("upload.remotes: names must be unique")
    return UploadSettings(remotes=remotes, **values)
