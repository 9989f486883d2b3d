"""Validate a skyfleet settings file before it replaces the live one (Ansible's `validate`).

Runs with the venv's Python: exit 0 if the file is valid, else one line naming the bad key.
The camera-side tables are checked with the installed skyfleet's own parsers when it has them
(a web server has no image processing installed, so [processing] is skipped there).
"""
import importlib
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

from skyfleet import settings

TABLE_PARSERS = {  # table -> (module, function taking the table)
    "capture": ("skyfleet.capture.settings", "CaptureSettings.from_mapping"),
    "processing": ("skyfleet.station.processing_config", "from_table"),
    "upload": ("skyfleet.upload.config", "from_table"),
    "retention": ("skyfleet.housekeeping.policy", "from_table"),
    "health": ("skyfleet.health.config", "health_from_table"),
    "alerts": ("skyfleet.health.config", "alerts_from_table"),
}


def parser_for(module_name, attr_path):
    try:
        obj = importlib.import_module(module_name)
    except ImportError:
        return None
    for attr in attr_path.split("."):
        obj = getattr(obj, attr, None)
        if obj is None:
            return None
    return obj


def main(path):
    try:
        settings.load(path)
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        for table, (module_name, attr_path) in TABLE_PARSERS.items():
            if table in raw:
                parse = parser_for(module_name, attr_path)
                if parse is not None:
                    parse(raw[table])
    except (settings.SettingsError, ValueError, TypeError) as exc:
        return f"invalid skyfleet settings: {exc}"
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
