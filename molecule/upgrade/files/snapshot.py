"""What a host holds, as JSON on stdout: every asset row with the checksum of its file as it is on disk,
every upload job, the schema revision. Read straight from SQLite with the standard library, so the same
script reads a host of any skyfleet release.   python3 snapshot.py [SETTINGS_FILE]
"""
import hashlib
import json
import sqlite3
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11: the venv's tomli
    import tomli as tomllib

settings = tomllib.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "/etc/skyfleet/skyfleet.toml").read_text())
data_dir = Path(settings.get("data_dir", "/var/lib/skyfleet"))
url = settings.get("database_url") or f"sqlite:///{data_dir / 'skyfleet.db'}"
if not url.startswith("sqlite:///"):
    sys.exit(f"snapshot.py reads SQLite only, not {url.split(':', 1)[0]}")
storage = Path(settings.get("storage_dir", data_dir / "images"))


def on_disk(filename):
    if not filename:
        return None
    path = storage / filename
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


db = sqlite3.connect(f"file:{url[len('sqlite:///'):]}?mode=ro", uri=True)
db.row_factory = sqlite3.Row
assets = [dict(row, file_sha256=on_disk(row["filename"])) for row in db.execute(
    "SELECT a.id, a.kind, c.name AS camera, a.natural_key, a.filename, a.sha256, a.create_date_utc"
    " FROM asset a JOIN camera c ON c.id = a.camera_id ORDER BY a.id")]
jobs = [dict(row) for row in db.execute(
    "SELECT id, remote, action, asset_id, state, remote_id, attempts FROM upload_job ORDER BY id")]
revision = [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
print(json.dumps({"assets": assets, "upload_jobs": jobs, "revision": revision}))
