"""`skyfleet asset ...`: look at stored assets from the shell (post-deploy checks, monitoring)."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .core.storage import Storage
from .extensions import db
from .models import ASSET_CLASSES, Asset, Camera

asset_cli = AppGroup("asset", help="Inspect stored images, videos and other assets.")


@asset_cli.command("latest")
@click.option("--kind", type=click.Choice(sorted(ASSET_CLASSES)), default="image", show_default=True)
@click.option("--camera", "camera_uuid", help="Only this camera (uuid).")
def asset_latest(kind: str, camera_uuid: str | None) -> None:
    """Print the newest asset of a kind as one JSON line; exit 1 if there is none."""
    query = select(Asset, Camera).join(Camera).where(Asset.kind == kind)
    if camera_uuid:
        query = query.where(Camera.uuid == camera_uuid)
    row = db.session.execute(query.order_by(Asset.create_date_utc.desc()).limit(1)).first()
    if row is None:
        raise click.ClickException(f"no {kind} stored yet")
    asset, camera = row
    click.echo(json.dumps({
        "id": asset.id, "kind": asset.kind, "camera_uuid": camera.uuid, "camera": camera.name,
        "create_date_utc": asset.create_date_utc.isoformat(), "create_date": asset.create_date.isoformat(),
        "utc_offset": asset.utc_offset, "night": asset.night, "file_size": asset.file_size,
        "url": Storage.url(asset.filename)}))
