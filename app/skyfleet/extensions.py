"""Flask extensions, created unbound and bound to the app by `skyfleet.factory.create_app`.

Blueprints and CLI groups import this module (never the factory), so imports run one way:
factory -> blueprints -> extensions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from flask import Flask, current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from .core.sweeps import Sweeps
from .models import Base

if TYPE_CHECKING:
    from .apikeys import KeyBox
    from .core.storage import Storage
    from .housekeeping.policy import RetentionPolicy
    from .settings import Settings

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()

STATE_KEY = "skyfleet"  # app.extensions[STATE_KEY]; read it through skyfleet_state()


@dataclass
class SkyfleetState:
    """What the blueprints need beside Flask's config: settings, the key box, the storage and its retention."""
    settings: Settings
    keybox: KeyBox
    storage: Storage
    retention: RetentionPolicy
    sweeps: Sweeps = field(default_factory=Sweeps)  # this process's chores that need not run per request


def skyfleet_state(app: Optional[Flask] = None) -> SkyfleetState:
    """The state `create_app` bound to `app` (default: the current app)."""
    return (app or current_app).extensions[STATE_KEY]


def app_settings(app: Optional[Flask] = None) -> Settings:
    """The deployment settings of `app` (default: the current app)."""
    return skyfleet_state(app).settings
