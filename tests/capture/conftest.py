"""Fixtures for the capture tests: real indiserver + simulators (see indi_sim.py)."""
from __future__ import annotations

import pytest

from .indi_sim import IndiSim


@pytest.fixture(scope="module")
def indi_sim(tmp_path_factory):
    """One indiserver with CCD + telescope simulators and a star field, shared by a test module."""
    sim = IndiSim(tmp_path_factory.mktemp("indi"))
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def own_indi_sim(tmp_path):
    """A private indiserver (no star field) for tests that kill it."""
    sim = IndiSim(tmp_path / "indi", stars=False)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
