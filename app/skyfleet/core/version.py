"""skyfleet's version: the installed package's, or the source tree's pyproject.toml (one source for the
`skyfleet --version` line, the web UI footer, the admin page and `skyfleet sync status`)."""
from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parent.parent.parent / "pyproject.toml"


def version() -> str:
    """The installed package's version, or the source tree's pyproject.toml version."""
    try:
        return metadata.version("skyfleet")
    except metadata.PackageNotFoundError:
        return pyproject_version()


def pyproject_version(path: Path = PYPROJECT) -> str:
    try:
        with open(path, "rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"
