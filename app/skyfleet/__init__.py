"""skyfleet: all-sky camera appliance."""
__version__ = "0.2.0.dev0"
