"""The `web` blueprint: the viewing pages and their JSON.  Routes live in the views_* modules."""
from __future__ import annotations

from flask import Blueprint

from .access import require_viewer

bp = Blueprint("web", __name__)
bp.before_request(require_viewer)
