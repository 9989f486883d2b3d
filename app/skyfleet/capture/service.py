"""``skyfleet-capture``: run the capture loop as a service.

Reads the ``[capture]`` table of the skyfleet TOML file (``--config`` or ``$SKYFLEET_CONFIG``),
logs to stderr (journald picks it up), and stops cleanly on SIGTERM/SIGINT (exit 0).

Each frame goes to ``skyfleet.station``: processed into a JPEG and thumbnail, recorded in the local
database with its upload jobs; when a night ends its keogram, star trail and timelapse are built.
What the capture is doing (capturing, refused by the driver, reconnecting) is kept in
``<data_dir>/capture-state.json`` for the admin page.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any, Callable, Mapping, Optional, Sequence

from .. import settings as project_settings
from .indi_client import Frame, IndiCamera
from .loop import CaptureLoop, FrameContext
from .settings import SECTION, CaptureSettings
from .status import STATE_FILE_NAME, CaptureStatus, write_status

log = logging.getLogger("skyfleet.capture")

CONFIG_ENV = project_settings.CONFIG_ENV
EXIT_CONFIG = 2


def load_config(path: Optional[str]) -> Mapping[str, Any]:
    """The whole settings file (the [capture] table and what the station needs besides)."""
    path = path or os.environ.get(CONFIG_ENV)
    if not path:
        raise ValueError(f"no configuration: pass --config or set {CONFIG_ENV}")
    return project_settings.read_toml(path)


def build_on_frame(raw: Mapping[str, Any], settings: CaptureSettings) -> Callable[[Frame, FrameContext], Any]:
    """Each frame is processed, recorded in the local database and queued for every remote."""
    from skyfleet.station.service import build_recorder

    return build_recorder(raw, settings)


def build_on_status(raw: Mapping[str, Any]) -> Callable[[CaptureStatus], None]:
    path = project_settings.from_mapping(raw).data_dir / STATE_FILE_NAME
    return lambda status: write_status(path, status)


def _setup_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="skyfleet-capture", description="Capture frames from an INDI camera.")
    parser.add_argument("--config", help=f"skyfleet TOML file (default: ${CONFIG_ENV})")
    parser.add_argument("--log-level", default=os.environ.get("SKYFLEET_LOG_LEVEL", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames (testing)")
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)

    try:
        raw = load_config(args.config)
        table = raw.get(SECTION)
        if table is None:
            raise ValueError(f"{SECTION}: the configuration has no [{SECTION}] table")
        settings = CaptureSettings.from_mapping(table)
        on_frame = build_on_frame(raw, settings)
        on_status = build_on_status(raw)
    except (ValueError, OSError) as exc:
        log.error("configuration error: %s", exc)
        return EXIT_CONFIG

    loop = CaptureLoop(settings, IndiCamera.from_settings, on_frame, on_status=on_status)

    def _on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        loop.stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    loop.run(max_frames=args.max_frames)
    return 0


if __name__ == "__main__":  # python -m skyfleet.capture.service
    sys.exit(main())
