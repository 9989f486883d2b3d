"""Backup archives: one 0600 tar file holding what a host needs to be rebuilt elsewhere.

    manifest.json        skyfleet version, schema revision, database dialect, created, host, contents
    database.sqlite      SQLite online backup, or database.pgdump (pg_dump --format=custom)
    settings.toml        the settings file ($SKYFLEET_CONFIG), when there is one
    secret.key           the server secret (session signing, API keys encrypted at rest)
    media/...            with --media: the storage folder (images and products), staging left out

The manifest carries a SHA-256 of each file but the media, and the media's file count and bytes, so a
truncated or corrupt archive is recognised before anything is written (restore unpacks into a temp folder first).
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import socket
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..core.files import sha256_file
from ..core.version import version
from ..settings import Settings
from . import database, schema
from .errors import BackupError
from .private import private_dir, private_target

FORMAT = 1
MANIFEST = "manifest.json"
SETTINGS = "settings.toml"
SECRET = "secret.key"
MEDIA = "media"
RESTORED_SETTINGS = "restored-settings.toml"


def default_output(settings: Settings, now: dt.datetime) -> Path:
    return settings.backup.dir / f"skyfleet-backup-{socket.gethostname()}-{now:%Y%m%dT%H%M%SZ}.tar"


def create(settings: Settings, settings_file: Optional[Path], media: bool = False,
           output: Optional[Path] = None) -> Path:
    """Write an archive of this host (database, settings, secret, media if asked); returns its path."""
    revision = schema.revision_of(settings.database_url)
    if revision is None:
        raise BackupError(f"the database {database.shown(settings.database_url)} has no schema yet: nothing to "
                          f"back up (`skyfleet db upgrade` creates it)")
    now = dt.datetime.now(dt.timezone.utc)
    output = Path(output) if output else default_output(settings, now)
    private_dir(output.parent)
    output = output.resolve()
    db_name = "database" + database.suffix(settings.database_url)
    files = {SECRET: Path(settings.secret_key_file)}
    if settings_file:
        files[SETTINGS] = Path(settings_file)
    with tempfile.TemporaryDirectory(dir=output.parent) as work:
        dump = Path(work) / db_name
        dump.touch(mode=0o600)
        database.dump(settings.database_url, dump)
        files[db_name] = dump
        media_files, media_bytes = _media_stats(settings.storage_dir) if media else (0, 0)
        manifest = {
            "format": FORMAT, "skyfleet_version": version(),
            "schema_revision": revision,
            "database_dialect": database.dialect(settings.database_url),
            "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "host": socket.gethostname(),
            "contents": {"database": db_name, "settings": SETTINGS if settings_file else None,
                         "secret": SECRET, "media": MEDIA if media else None, "media_files": media_files,
                         "media_bytes": media_bytes},
            "sha256": {name: _sha256(path) for name, path in files.items()},
        }
        with private_target(output) as tmp, tarfile.open(tmp, "w") as tar:
            data = json.dumps(manifest, indent=2).encode() + b"\n"
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name, path in files.items():
                tar.add(str(path), arcname=name)
            if media:
                tar.add(str(settings.storage_dir), arcname=MEDIA, filter=_without_staging)
    return output


def _sha256(path: Path) -> str:
    try:
        return sha256_file(str(path))
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None


def _is_staging(rel: str) -> bool:
    return rel == ".staging" or rel.startswith(".staging/")


def _media_stats(folder: Path) -> tuple:
    """(files, bytes) in the storage folder, staging left out."""
    sizes = [p.stat().st_size for p in Path(folder).rglob("*")
             if p.is_file() and not _is_staging(p.relative_to(folder).as_posix())]
    return len(sizes), sum(sizes)


def _without_staging(info: tarfile.TarInfo):
    rel = info.name[len(MEDIA) + 1:]
    return None if _is_staging(rel) else info


@dataclass
class Unpacked:
    """An archive unpacked into a temp folder and checked against its manifest."""
    folder: Path
    manifest: dict

    def path(self, part: str) -> Optional[Path]:
        name = self.manifest["contents"].get(part)
        return self.folder / name if name else None

    @property
    def revision(self) -> Optional[str]:
        return self.manifest.get("schema_revision")

    @property
    def dialect(self) -> Optional[str]:
        return self.manifest.get("database_dialect")


def unpack(archive: Path, into: Path) -> Unpacked:
    """Unpack `archive` into the empty folder `into` and check it; BackupError if it is not sound."""
    bad = f"{archive} is not a complete skyfleet backup archive"
    try:
        with tarfile.open(archive, "r:") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, bad)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, members=members, filter="data")
            else:  # pragma: no cover - Python before 3.9.17 (Debian 11): the members are checked above
                tar.extractall(into, members=members)
        manifest = json.loads((into / MANIFEST).read_text())
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise BackupError(f"{bad} (corrupt or truncated: {exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{bad} (unknown manifest format)")
    contents, digests = manifest.get("contents"), manifest.get("sha256")
    if not (isinstance(contents, dict) and isinstance(digests, dict)
            and all(contents.get(part) in digests for part in ("database", "secret"))
            and all(isinstance(name, str) and Path(name).name == name for name in digests)):
        raise BackupError(f"{bad} (the manifest does not list a database and a server secret)")
    for name, digest in digests.items():
        if not (into / name).is_file() or sha256_file(str(into / name)) != digest:
            raise BackupError(f"{bad} ({name} is missing or damaged)")
    unpacked = Unpacked(into, manifest)
    media = unpacked.path("media")
    files, size = _media_stats(media) if media and media.is_dir() else (0, 0)
    if (files, size) != (contents.get("media_files", 0), contents.get("media_bytes", 0)):
        raise BackupError(f"{bad} (media: {files} file(s), {size} bytes instead of {contents.get('media_files')}, "
                          f"{contents.get('media_bytes')})")
    return unpacked


def _check_member(member: tarfile.TarInfo, bad: str) -> None:
    parts = Path(member.name).parts
    if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
        raise BackupError(f"{bad} (unexpected member {member.name!r})")


def restore_files(unpacked: Unpacked, settings: Settings, settings_file: Optional[Path]) -> list:
    """Put the secret, the media and the settings file in place; returns one line per part restored."""
    done = []
    private_dir(Path(settings.secret_key_file).parent)
    _replace_keeping_owner(Path(settings.secret_key_file), unpacked.path("secret").read_bytes())
    done.append(f"server secret: {settings.secret_key_file}")
    media = unpacked.path("media")
    if media is not None:
        shutil.copytree(media, settings.storage_dir, dirs_exist_ok=True)
        done.append(f"media: {unpacked.manifest['contents']['media_files']} file(s) into {settings.storage_dir}")
    saved = unpacked.path("settings")
    if saved is not None and settings_file:
        done.append("settings: " + _restore_settings(saved.read_bytes(), Path(settings_file), settings.data_dir))
    return done


def _restore_settings(data: bytes, settings_file: Path, data_dir: Path) -> str:
    """Replace the settings file; where the service user may not (Ansible assembles it as root), the
    archive's copy goes beside the data instead, for the operator to compare."""
    if settings_file.is_file() and settings_file.read_bytes() == data:
        return f"{settings_file} (unchanged)"
    try:
        _replace_keeping_owner(settings_file, data)
        return str(settings_file)
    except PermissionError:
        aside = Path(data_dir) / RESTORED_SETTINGS
        _replace_keeping_owner(aside, data)
        return f"{settings_file} is not writable here (managed by Ansible?): the archive's copy is {aside}"


def _replace_keeping_owner(path: Path, data: bytes) -> None:
    """Replace a file atomically, private until renamed; it keeps the old file's mode and owner (e.g. the
    role's 0640 root:skyfleet settings file), a new one is 0600."""
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    with private_target(path) as tmp:
        tmp.write_bytes(data)
        if old is not None:
            os.chmod(tmp, old.st_mode & 0o7777)
            if os.geteuid() == 0:
                os.chown(tmp, old.st_uid, old.st_gid)
