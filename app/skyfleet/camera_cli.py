"""`skyfleet camera ...`: the cameras this server holds and the SyncAPI account each belongs to.

A camera belongs to the account that registered it; only that account and admins may change it or its
assets through the SyncAPI (syncapi/cameras.py).  When a camera host moves to another account (a new
key per host, a renamed account), `skyfleet camera owner` hands the camera over.
"""
from __future__ import annotations

import uuid as uuidlib

import click
from flask.cli import AppGroup
from sqlalchemy import select

from . import accounts
from .accounts_cli import reports_errors
from .extensions import db
from .models import Camera, User

camera_cli = AppGroup("camera", help="List cameras with their owners; hand a camera to another account.")


def _camera(ref: str) -> Camera:
    """By id (digits) or by uuid, as the SyncAPI stores it (lowercase, with hyphens)."""
    camera = None
    if ref.isascii() and ref.isdigit():
        if len(ref) < 10:
            camera = db.session.get(Camera, int(ref))
    else:
        try:
            camera_uuid = str(uuidlib.UUID(ref))
        except ValueError:
            camera_uuid = None
        if camera_uuid is not None:
            camera = db.session.scalar(select(Camera).where(Camera.uuid == camera_uuid))
    if camera is None:
        raise click.ClickException(f"no camera with uuid or id {ref!r} (skyfleet camera list shows them)")
    return camera


def _owner_name(camera: Camera) -> str:
    if camera.registered_by_id is None:
        return "none"
    owner = db.session.get(User, camera.registered_by_id)
    return owner.username if owner is not None else f"user id {camera.registered_by_id}"


@camera_cli.command("list")
@reports_errors
def camera_list() -> None:
    """List cameras: id, uuid, name and owning account (none: the next account to sync it claims it)."""
    for cam in db.session.scalars(select(Camera).order_by(Camera.id)):
        click.echo(f"{cam.id}\t{cam.uuid}\t{cam.name}\towner:{_owner_name(cam)}")


@camera_cli.command("owner")
@click.argument("camera")
@click.argument("username")
@reports_errors
def camera_owner(camera: str, username: str) -> None:
    """Hand CAMERA (uuid or id) to the account USERNAME: from now on only it (and admins) may sync the
    camera and its assets; the previous account gets 403."""
    cam = _camera(camera)
    user = accounts.get(db.session, username)
    before = _owner_name(cam)
    if cam.registered_by_id == user.id:
        click.echo(f"camera {cam.uuid} ({cam.name}): owner {username} (unchanged)")
        return
    cam.registered_by_id = user.id
    db.session.commit()
    click.echo(f"camera {cam.uuid} ({cam.name}): owner {before} -> {username}")
    if not user.api_key_encrypted:
        click.echo(f"note: {username} has no API key yet (skyfleet user apikey {username})", err=True)
    if not user.is_active:
        click.echo(f"note: {username} is inactive and cannot sync until activated", err=True)
