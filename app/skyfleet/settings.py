"""Deployment settings: a TOML file named by SKYFLEET_CONFIG, with defaults that work out of the box.

Plain Python (no Flask), so camera-side services read the same file the web app does.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Debian 11 targets
    import tomli as tomllib

CONFIG_ENV = "SKYFLEET_CONFIG"
DATA_DIR_ENV = "SKYFLEET_DATA_DIR"
DEFAULT_DATA_DIR = Path("/var/lib/skyfleet")


class SettingsError(ValueError):
    """A settings file or value is invalid; the message names the key."""


@dataclass(frozen=True)
class SyncApiSettings:
    accept_v1_signature: bool = True
    clock_skew_seconds: int = 300
    max_upload_mb: int = 4096
    max_metadata_kb: int = 256
    nonce_ttl_seconds: int = 900


@dataclass(frozen=True)
class WebSettings:
    public: bool = True
    base_path: str = "/indi-allsky"
    # Behind the TLS proxy: trust its X-Forwarded-For/-Proto/-Host (one hop) and send cookies only over HTTPS.
    trust_proxy_headers: bool = False
    secure_cookies: bool = False
    # Failed logins allowed within login_throttle_minutes: per user name from one address, and per address.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_throttle_minutes: int = 15
    # A login ends after this many days without a request (and at logout, deactivation or a new password).
    session_idle_days: int = 14
    # Form (CSRF) tokens are valid this long: a login page left open all evening still works.
    csrf_token_hours: int = 12
    # Largest request body outside the SyncAPI (the forms need a few KiB); a bigger one gets 413 unread.
    max_form_kb: int = 64


@dataclass(frozen=True)
class BackupSettings:
    # Where `skyfleet db upgrade` puts its pre-upgrade database backups (default <data_dir>/backups).
    dir: Path = Path()
    # How many of those pre-upgrade backups are kept (the newest).
    keep: int = 5


@dataclass(frozen=True)
class StorageSettings:
    """Where the remote tier keeps media: the storage folder ("local"), or an S3-compatible bucket ("s3")."""
    backend: str = "local"
    endpoint_url: str = ""       # "": AWS itself; else e.g. https://s3.example.org (MinIO, SeaweedFS, Garage...)
    bucket: str = ""
    region: str = "us-east-1"
    prefix: str = ""             # keys are prefix + layout path; the prefix belongs to skyfleet alone
    access_key_id: str = ""      # "" with no secret file: boto3's own credential chain (instance role, env)
    secret_access_key_file: Path = Path()  # a 0600 file holding the secret; never in this file
    serve: str = "redirect"      # media answers: a redirect to a presigned URL, or streamed by the app
    presign_seconds: int = 300
    multipart_threshold_mb: int = 64  # larger files are uploaded in parts of this size

    @property
    def is_s3(self) -> bool:
        return self.backend == "s3"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    storage_dir: Path = Path()
    secret_key_file: Path = Path()
    log_level: str = "INFO"
    sqlite_busy_timeout_ms: int = 10000
    syncapi: SyncApiSettings = field(default_factory=SyncApiSettings)
    web: WebSettings = field(default_factory=WebSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    # Tables owned by the services ([capture], [processing], [upload], [retention], [health], [alerts]);
    # each validates its own table, so the web app does not need to import the camera side.
    service_tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def table(self, name: str) -> Mapping[str, Any]:
        return self.service_tables.get(name, {})

    @property
    def staging_dir(self) -> Path:
        """Uploads are staged here: same filesystem as storage, so the final rename is atomic."""
        return self.storage_dir / ".staging"

    @property
    def database_is_shared(self) -> bool:
        """Whether other hosts may use this database too (a server such as PostgreSQL, not this host's
        SQLite file): a fleet's web nodes do."""
        return not self.database_url.startswith("sqlite")

    @property
    def max_upload_bytes(self) -> int:
        return self.syncapi.max_upload_mb * 1024 * 1024


_SECTIONS = {"syncapi": SyncApiSettings, "web": WebSettings, "backup": BackupSettings, "storage": StorageSettings}
STORAGE_BACKENDS = ("local", "s3")
SERVE_MODES = ("redirect", "stream")
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # what SigV4 allows
SERVICE_TABLES = ("capture", "processing", "upload", "retention", "health", "alerts")
_TOP_LEVEL = {"data_dir", "database_url", "storage_dir", "secret_key_file", "log_level", "sqlite_busy_timeout_ms"}


def default_data_dir() -> Path:
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    if DEFAULT_DATA_DIR.exists() or os.access(DEFAULT_DATA_DIR.parent, os.W_OK):
        return DEFAULT_DATA_DIR
    return Path.home() / ".local" / "share" / "skyfleet"


def _coerce(section: str, name: str, value: Any, expected: Any) -> Any:
    where = f"{section}.{name}" if section else name
    if isinstance(expected, bool):
        if not isinstance(value, bool):
            raise SettingsError(f"setting {where!r} must be true or false, got {value!r}")
        return value
    if isinstance(expected, int):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise SettingsError(f"setting {where!r} must be a positive integer, got {value!r}")
        return value
    if isinstance(expected, Path):
        if not isinstance(value, str) or not value:
            raise SettingsError(f"setting {where!r} must be a non-empty path string, got {value!r}")
        return Path(value)
    if not isinstance(value, str):
        raise SettingsError(f"setting {where!r} must be a string, got {value!r}")
    return value


def _section(name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise SettingsError(f"setting {name!r} must be a table")
    defaults = cls()
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(f"unknown setting '{name}.{unknown[0]}' (known in [{name}]: {', '.join(sorted(known))})")
    values = {k: _coerce(name, k, v, getattr(defaults, k)) for k, v in raw.items()}
    return replace(defaults, **values)


def from_mapping(raw: Mapping[str, Any]) -> Settings:
    """Build Settings from a parsed TOML document; unknown keys are errors (typos must not pass)."""
    unknown = sorted(set(raw) - _TOP_LEVEL - set(_SECTIONS) - set(SERVICE_TABLES))
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]!r}")
    base = Settings(data_dir=default_data_dir())
    values: dict[str, Any] = {}
    for key in _TOP_LEVEL & set(raw):
        values[key] = _coerce("", key, raw[key], getattr(base, key))
    for name, cls in _SECTIONS.items():
        if name in raw:
            values[name] = _section(name, cls, raw[name])
    for name in SERVICE_TABLES:
        if name in raw and not isinstance(raw[name], Mapping):
            raise SettingsError(f"setting {name!r} must be a table")
    values["service_tables"] = {name: dict(raw[name]) for name in SERVICE_TABLES if name in raw}
    settings = replace(base, **values)
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"setting 'log_level' must be DEBUG, INFO, WARNING or ERROR, got {settings.log_level!r}")
    _check_storage(settings.storage)
    return _fill_derived(settings)


def _check_storage(st: StorageSettings) -> None:
    if st.backend not in STORAGE_BACKENDS:
        raise SettingsError(f"setting 'storage.backend' must be one of {', '.join(STORAGE_BACKENDS)}, "
                            f"got {st.backend!r}")
    if st.serve not in SERVE_MODES:
        raise SettingsError(f"setting 'storage.serve' must be one of {', '.join(SERVE_MODES)}, got {st.serve!r}")
    if not st.is_s3:
        return
    if not st.bucket:
        raise SettingsError("setting 'storage.bucket' is required with storage.backend = \"s3\"")
    if st.endpoint_url and not st.endpoint_url.startswith(("https://", "http://")):
        raise SettingsError(f"setting 'storage.endpoint_url' must start with https:// or http://, "
                            f"got {st.endpoint_url!r}")
    if bool(st.access_key_id) != (str(st.secret_access_key_file) not in ("", ".")):
        raise SettingsError("settings 'storage.access_key_id' and 'storage.secret_access_key_file' go together "
                            "(or neither: the credentials of the environment or instance role)")
    if st.presign_seconds > MAX_PRESIGN_SECONDS:
        raise SettingsError(f"setting 'storage.presign_seconds' must be at most {MAX_PRESIGN_SECONDS}, "
                            f"got {st.presign_seconds}")
    if st.multipart_threshold_mb < 5:
        raise SettingsError(f"setting 'storage.multipart_threshold_mb' must be at least 5 (S3's smallest part), "
                            f"got {st.multipart_threshold_mb}")
    prefix = st.prefix.strip("/")
    if prefix and any(not part or part.startswith(".") for part in prefix.split("/")):
        raise SettingsError(f"setting 'storage.prefix' must be plain folder names, got {st.prefix!r}")


def read_secret(st: StorageSettings) -> str:
    """The secret access key, read from its file (SettingsError naming the key when it cannot be)."""
    path = st.secret_access_key_file
    try:
        secret = Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"setting 'storage.secret_access_key_file': cannot read {path}: "
                            f"{exc.strerror or exc}") from None
    if not secret:
        raise SettingsError(f"setting 'storage.secret_access_key_file': {path} is empty")
    return secret


def _fill_derived(s: Settings) -> Settings:
    data = Path(s.data_dir)
    return replace(
        s,
        data_dir=data,
        database_url=s.database_url or f"sqlite:///{data / 'skyfleet.db'}",
        storage_dir=s.storage_dir if str(s.storage_dir) not in ("", ".") else data / "images",
        secret_key_file=s.secret_key_file if str(s.secret_key_file) not in ("", ".") else data / "secret.key",
        backup=replace(s.backup, dir=s.backup.dir if str(s.backup.dir) not in ("", ".") else data / "backups"),
    )


def read_toml(path: str | os.PathLike) -> Mapping[str, Any]:
    """The parsed settings file, every table included (the services read theirs from it)."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist ({CONFIG_ENV})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None


def load(path: str | os.PathLike | None = None) -> Settings:
    """Read the TOML file at `path`, or at $SKYFLEET_CONFIG, or use the defaults."""
    path = path or os.environ.get(CONFIG_ENV)
    if not path:
        return from_mapping({})
    return from_mapping(read_toml(path))
