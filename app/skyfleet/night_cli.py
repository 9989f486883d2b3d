"""`skyfleet night build DATE`: (re)build a night's keogram, star trail and timelapse."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .db_setup import session_factory
from .extensions import app_settings
from .local_assets import storage_for
from .models import Camera
from .upload.config import UploadConfigError
from .upload.config import from_table as upload_from_table

night_cli = AppGroup("night", help="A night's products on this camera host.")


@night_cli.command("build")
@click.argument("date", type=click.DateTime(["%Y-%m-%d", "%Y%m%d"]))
@click.option("--day", "daytime", is_flag=True, help="Build the daytime products of DATE instead.")
@click.option("--camera", "camera_name", help="Camera name (default: every camera of this host).")
def night_build(date, daytime: bool, camera_name) -> None:
    """Build and queue the keogram, star trail and timelapse of the night that began on DATE."""
    try:  # numpy/OpenCV are installed on camera hosts only
        from .station import processing_config
        from .station.night import build_night, night_images
    except ImportError as exc:
        raise click.ClickException(f"this host has no image processing installed ({exc.name})") from None
    settings = app_settings()
    try:
        _, products = processing_config.from_table(settings.table("processing"))
        remotes = [r.name for r in upload_from_table(settings.table("upload")).remotes]
    except (ValueError, UploadConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    sessions = session_factory(settings.database_url, settings.sqlite_busy_timeout_ms)
    storage = storage_for(settings.storage_dir)
    with sessions() as session:
        query = select(Camera)
        if camera_name:
            query = query.where(Camera.name == camera_name)
        cameras = list(session.scalars(query))
        counts = {c.id: len(night_images(session, c, date.date(), not daytime)) for c in cameras}
    if not cameras:
        raise click.ClickException(f"no camera {camera_name!r} on this host" if camera_name else "no camera yet")
    built = 0
    for camera in cameras:
        with click.progressbar(length=counts[camera.id], label=f"{camera.name} {date:%Y-%m-%d}",
                               file=sys.stderr) as bar:
            assets = build_night(sessions, storage, camera, date.date(), remotes, products,
                                 night=not daytime, progress=bar.update)
        for asset in assets:
            click.echo(f"{asset.kind}: {asset.filename} ({asset.frames} frames)")
        built += len(assets)
    if not built:
        raise click.ClickException(f"no {'day' if daytime else 'night'} images for {date:%Y-%m-%d}")
