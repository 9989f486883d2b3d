"""Baselines for the ingest benchmark, WSGI apps under the same gunicorn as skyfleet.

`app` (the floor) only streams the request body to a file and fsyncs it.  `durable_app` adds what any
server that promises "the file and its row are durable when the answer is 200" must also do, and
nothing else: the body's sha256, the rename into place and the folder's fsync, and one row (name,
size, digest) committed to SQLite in WAL mode with synchronous=FULL, as skyfleet's database is tuned.
No parsing, no authentication, no ORM: what skyfleet spends beyond `durable_app` is its own.
"""
import hashlib
import os
import sqlite3
import tempfile
import threading

OUT = os.environ.get("BARE_WSGI_DIR", tempfile.gettempdir())
CHUNK = 256 * 1024
_REPLY = b'{"id": 1, "url": "images/x"}'
_local = threading.local()


def _stream_to_file(stream, digest=None) -> str:
    fd, path = tempfile.mkstemp(dir=OUT, suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        for block in iter(lambda: stream.read(CHUNK), b""):
            fh.write(block)
            if digest is not None:
                digest.update(block)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def _reply(start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(_REPLY)))])
    return [_REPLY]


def app(environ, start_response):
    path = _stream_to_file(environ["wsgi.input"])
    os.replace(path, path[:-5])
    return _reply(start_response)


def _database() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(os.path.join(OUT, "rows.sqlite3"), timeout=10, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS upload (name TEXT PRIMARY KEY, size INTEGER, sha256 TEXT)")
    return conn


def durable_app(environ, start_response):
    digest = hashlib.sha256()
    path = _stream_to_file(environ["wsgi.input"], digest)
    final = path[:-5]
    os.replace(path, final)
    folder = os.open(OUT, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    conn = _database()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO upload VALUES (?, ?, ?)", (final, os.path.getsize(final), digest.hexdigest()))
    conn.execute("COMMIT")
    return _reply(start_response)
