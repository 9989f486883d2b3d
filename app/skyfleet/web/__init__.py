"""The web UI: the `web`, `auth`, `admin` and `media` blueprints, their templates and static files.

The app factory is `skyfleet.factory.create_app`.
"""
