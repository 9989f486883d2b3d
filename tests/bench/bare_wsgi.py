"""Baseline for the ingest benchmark: a WSGI app that only streams the request body to a file."""
import os
import tempfile

OUT = os.environ.get("BARE_WSGI_DIR", tempfile.gettempdir())


def app(environ, start_response):
    stream = environ["wsgi.input"]
    fd, path = tempfile.mkstemp(dir=OUT, suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        for block in iter(lambda: stream.read(256 * 1024), b""):
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(path, path[:-5])
    body = b'{"id": 1, "url": "images/x"}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
