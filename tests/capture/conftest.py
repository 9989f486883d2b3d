"""Fixtures for the capture tests: real indiserver + simulators (see indi_sim.py), and the fake INDI server."""
from __future__ import annotations

import pytest

from .fake_indi import FakeIndiServer
from .indi_sim import IndiSim


@pytest.fixture(scope="module")
def indi_sim(tmp_path_factory):
    """One indiserver with CCD + telescope simulators and a star field, shared by a test module."""
    with IndiSim(tmp_path_factory.mktemp("indi")) as sim:
        yield sim


@pytest.fixture
def own_indi_sim(tmp_path):
    """A private indiserver (no star field) for tests that kill it."""
    with IndiSim(tmp_path / "indi", stars=False) as sim:
        yield sim


@pytest.fixture
def server():
    """A fake INDI server on 127.0.0.1 (fake_indi.py) for one test."""
    srv = FakeIndiServer()
    yield srv
    srv.close()
