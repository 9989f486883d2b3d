"""What the benchmarks' servers share when they stand for a fleet site: the S3 bucket and the server
secret in their settings, and a database emptied before each run."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from skyfleet.factory import create_app
from tests.conftest import drop_everything
from tests.helpers.seaweed import ACCESS_KEY, REGION, SECRET_KEY, Seaweed


def site_settings(root: Path, seaweed: Seaweed, bucket: str, prefix: str = "fleet") -> str:
    """What every node's settings share beside the database (LiveServer writes that one)."""
    secret = root / "s3-secret"
    root.mkdir(parents=True, exist_ok=True)
    if not secret.exists():
        secret.write_text(SECRET_KEY + "\n")
        os.chmod(secret, 0o600)
    return (f'secret_key_file = "{root / "shared-server-secret.key"}"\n'  # every node opens the same API keys
            f'[storage]\nbackend = "s3"\nendpoint_url = "{seaweed.endpoint_url}"\nbucket = "{bucket}"\n'
            f'region = "{REGION}"\nprefix = "{prefix}"\naccess_key_id = "{ACCESS_KEY}"\n'
            f'secret_access_key_file = "{secret}"\n')


def empty_database(url: str) -> None:
    """No tables left (the first node migrates it again)."""
    with tempfile.TemporaryDirectory(prefix="skyfleet-bench-drop-") as data:
        drop_everything(create_app({"data_dir": data, "database_url": url}))
