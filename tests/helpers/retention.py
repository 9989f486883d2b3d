"""A [retention] table that keeps everything and never prunes: the default of the test apps and live servers.

The shared test metadata is of nights in January 2025 (tests/helpers/metadata.py), past any default
retention; a server with the defaults would refuse it (410 asset_expired) and, on a small test disk,
prune below its 1 GiB floor.  Tests of retention and pruning pass their own table.
"""
from __future__ import annotations

KEEP_EVERYTHING = {"images_days": 0, "thumbnails_days": 0, "fits_days": 0, "products_days": 0,
                   "floor_percent": 0, "floor_mb": 0, "emergency_floor_percent": 0, "emergency_floor_mb": 0}


def toml(table: dict | None = None) -> str:
    """`table` (default: KEEP_EVERYTHING) as a [retention] section of a settings file."""
    rows = "".join(f"{k} = {v}\n" for k, v in (KEEP_EVERYTHING if table is None else table).items())
    return "\n[retention]\n" + rows
