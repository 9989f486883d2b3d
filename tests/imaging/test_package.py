from __future__ import annotations

import types

import skyfleet.imaging as imaging


def test_exports_resolve_and_submodules_are_not_shadowed():
    for name in imaging.__all__:
        assert getattr(imaging, name) is not None
    for module in ("fits_io", "debayer", "stretch", "calibration", "overlay", "jpeg", "keogram",
                   "startrail", "timelapse", "products", "pipeline"):
        __import__(f"skyfleet.imaging.{module}")
        assert isinstance(getattr(imaging, module), types.ModuleType), module
    assert imaging.auto_stretch is imaging.stretch.stretch
    assert imaging.debayer_frame is imaging.debayer.debayer
