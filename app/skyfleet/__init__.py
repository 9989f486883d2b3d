"""skyfleet: all-sky camera appliance."""
__version__ = "0.1.0"
