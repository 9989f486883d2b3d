"""The fleet scenario's tests: the shared helpers (tests/molecule/) and one handle per inventory host."""
import sys
from pathlib import Path

import pytest
import testinfra

REPO = Path(__file__).resolve().parents[3]
if str(REPO / "tests" / "molecule") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "molecule"))

from playbook_runs import molecule_env  # noqa: E402

SITE = "skyfleet-mol-fleet-site"      # the balancer's name on the network (molecule.yml), in the certificate
DATABASE = "skyfleet-mol-fleet-db"
WEB_NODES = ["skyfleet-mol-fleet-web1", "skyfleet-mol-fleet-web2"]
CAMERA = "skyfleet-mol-fleet-cam"


@pytest.fixture(scope="session")
def site():
    """testinfra hosts by name: the database host (with the S3 server and the balancer), web nodes, camera."""
    inventory = molecule_env("MOLECULE_INVENTORY_FILE")
    return {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)
            for name in [DATABASE, *WEB_NODES, CAMERA]}
