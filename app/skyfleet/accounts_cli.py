"""`skyfleet user ...`: users, admin rights and SyncAPI keys."""
from __future__ import annotations

import functools
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from . import accounts, apikeys
from .extensions import db, skyfleet_state
from .models import User

user_cli = AppGroup("user", help="Manage users, admin rights and SyncAPI keys.")


def reports_errors(command):
    """Turn expected failures into one clear line and exit code 1 instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (accounts.AccountError, apikeys.ApiKeyError) as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        except (OperationalError, ProgrammingError) as exc:
            db.session.rollback()
            raise click.ClickException(
                f"database error: {exc.orig} (has `skyfleet db upgrade` been run?)") from None

    return wrapper


def _read_stdin_line(what: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise click.ClickException(f"expected the {what} on standard input")
    return value


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return _read_stdin_line("password")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user_cli.command("add")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Give the user admin rights.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.option("--exist-ok", is_flag=True,
              help="If the user exists, change nothing and print 'unchanged' (for configuration management).")
@reports_errors
def user_add(username: str, admin: bool, password_stdin: bool, exist_ok: bool) -> None:
    """Create a user; the password comes from a prompt or standard input."""
    if exist_ok and db.session.scalar(select(User.id).where(User.username == username)) is not None:
        if password_stdin:
            sys.stdin.readline()  # consume it, so a pipe writer never blocks
        click.echo("unchanged")
        return
    accounts.add(db.session, username, _password(password_stdin), admin=admin)
    try:
        db.session.commit()
    except IntegrityError:
        # made meanwhile by another process on the same database (e.g. another web node's deploy)
        db.session.rollback()
        if exist_ok:
            click.echo("unchanged")
            return
        raise click.ClickException(f"user {username!r} exists") from None
    click.echo(f"created user {username}{' (admin)' if admin else ''}")


@user_cli.command("setadmin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Remove admin rights instead.")
@reports_errors
def user_setadmin(username: str, revoke: bool) -> None:
    """Give a user admin rights (or take them away with --revoke)."""
    user = accounts.get(db.session, username)
    changed = user.is_admin == revoke
    user.is_admin = not revoke
    db.session.commit()
    click.echo(f"{username}: admin {'revoked' if revoke else 'granted'}{'' if changed else ' (unchanged)'}")


@user_cli.command("setactive")
@click.argument("username")
@click.option("--deactivate", is_flag=True, help="Deactivate instead: no login, no SyncAPI, web sessions end.")
@reports_errors
def user_setactive(username: str, deactivate: bool) -> None:
    """Activate a user (or deactivate them with --deactivate, which also ends their web sessions)."""
    user = accounts.get(db.session, username)
    changed = user.is_active == deactivate
    accounts.set_active(user, not deactivate)
    db.session.commit()
    click.echo(f"{username}: {'deactivated' if deactivate else 'activated'}{'' if changed else ' (unchanged)'}")


@user_cli.command("logout")
@click.argument("username")
@reports_errors
def user_logout(username: str) -> None:
    """End every web session of a user (a lost laptop, a copied cookie); the password stays."""
    ended = accounts.end_sessions(accounts.get(db.session, username))
    db.session.commit()
    click.echo(f"{username}: {ended} session{'s' * (ended != 1)} ended")


@user_cli.command("setpassword")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@reports_errors
def user_setpassword(username: str, password_stdin: bool) -> None:
    """Set a user's password; it ends the user's web sessions."""
    user = accounts.get(db.session, username)
    accounts.set_password(user, _password(password_stdin))
    db.session.commit()
    click.echo(f"{username}: password set")


@user_cli.command("apikey")
@click.argument("username")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Set the key read from standard input instead of generating one; idempotent, "
                   "prints 'changed' or 'unchanged'.")
@click.option("--revoke", is_flag=True, help="Remove the user's key.")
@reports_errors
def user_apikey(username: str, from_stdin: bool, revoke: bool) -> None:
    """Generate a new SyncAPI key (printed once), set a given one, or revoke it."""
    user = accounts.get(db.session, username)
    keybox = skyfleet_state().keybox
    if revoke or from_stdin:
        if revoke:
            changed = accounts.revoke_api_key(user)
        else:
            changed = accounts.set_api_key(user, _read_stdin_line("API key"), keybox)
        db.session.commit()
        click.echo("changed" if changed else "unchanged")
        return
    key = apikeys.generate()
    accounts.set_api_key(user, key, keybox)
    db.session.commit()
    click.echo(f"API key for {username}: {key}")
    click.echo("It is shown only this once; it replaces any previous key.", err=True)


@user_cli.command("list")
@reports_errors
def user_list() -> None:
    """List users with their admin flag and key fingerprint (never the key)."""
    for u in db.session.scalars(select(User).order_by(User.username)):
        flags = ",".join(f for f, on in (("admin", u.is_admin), ("inactive", not u.is_active)) if on) or "-"
        click.echo(f"{u.username}\t{flags}\tkey:{u.api_key_fingerprint or 'none'}")

