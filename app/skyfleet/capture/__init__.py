"""Capture from an INDI camera: settings, camera client, watchdog, auto-exposure, sky, loop, service.

No Flask and no database here.  Submodules are imported on demand (astropy is slow to import).
"""
