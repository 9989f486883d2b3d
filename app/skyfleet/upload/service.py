"""``skyfleet-upload-worker [N]``: one upload worker as a service (``skyfleet-upload@N.service``).

Reads the skyfleet settings file (``--config`` or ``$SKYFLEET_CONFIG``), opens a plain SQLAlchemy
session on its database (no Flask app), logs to stderr (journald picks it up) and delivers jobs until
SIGTERM/SIGINT, then finishes the job in hand and exits 0. A configuration error is one line and
exit code 2, as for ``skyfleet-capture``.
"""
from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from typing import Any, Optional, Sequence

from .. import settings as settings_mod
from ..db_setup import session_factory
from .bell import QueueBell
from .config import NO_REMOTE, UploadConfigError, from_table
from .worker import UploadWorker

log = logging.getLogger("skyfleet.upload")

EXIT_CONFIG = 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="skyfleet-upload-worker",
                                     description="Deliver the upload queue to the remotes until SIGTERM.")
    parser.add_argument("number", nargs="?", default="1",
                        help="worker name suffix, the systemd instance (%%i); default 1")
    parser.add_argument("--config", help=f"skyfleet TOML file (default: ${settings_mod.CONFIG_ENV})")
    args = parser.parse_args(argv)

    try:
        settings = settings_mod.load(args.config)
        upload = from_table(settings.table("upload"))
        if not upload.remotes:
            raise UploadConfigError(NO_REMOTE)
    except (settings_mod.SettingsError, UploadConfigError) as exc:
        print(f"skyfleet-upload-worker: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")

    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)
    sessions = session_factory(settings.database_url, settings.sqlite_busy_timeout_ms)
    UploadWorker(upload, settings.storage_dir, sessions, name=f"{socket.gethostname()}-{args.number}",
                 stop=stop, bell=QueueBell(settings.data_dir)).run()
    return 0


if __name__ == "__main__":  # python -m skyfleet.upload.service
    sys.exit(main())
