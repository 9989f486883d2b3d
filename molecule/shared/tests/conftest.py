"""Make the shared helpers (tests/molecule/ at the repository root) importable, and the fixtures of the
tests that run site.yml again against the converged hosts (test_bad_input.py, test_reruns.py)."""
import sys
from pathlib import Path

import pytest
import testinfra

REPO = Path(__file__).resolve().parents[3]
if str(REPO / "tests" / "molecule") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "molecule"))

from playbook_runs import hosts_of, inventory_copy, molecule_env, state_of, vault_secrets  # noqa: E402


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    inventory = inventory_copy(tmp_path_factory.mktemp("inventory") / "inventory")
    groups = hosts_of(inventory)
    inventory_file = molecule_env("MOLECULE_INVENTORY_FILE")
    handles = {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory_file)
               for name in sorted(set(groups["remote"] + groups["local"]))}
    return groups, handles


@pytest.fixture(scope="module")
def secrets(tmp_path_factory):
    """The real vault values (the SyncAPI key, the admin password, ...) of the scenario's inventory."""
    return vault_secrets(inventory_copy(tmp_path_factory.mktemp("vault") / "inventory"))


@pytest.fixture
def inventory(tmp_path):
    return inventory_copy(tmp_path / "inventory")


@pytest.fixture
def no_secret_shown(secrets):
    """Collects each run of a test; after it, assert no vault value appears in any run's output."""
    runs = []
    yield runs
    assert runs, "the test registered no run to check"
    for run in runs:
        shown = [f"{s[:4]}... ({len(s)} characters)" for s in secrets if s in run.output]
        assert not shown, f"vault values in the output of a run: {shown}"


@pytest.fixture
def unchanged(hosts):
    """Snapshot every host before the test; after it, assert nothing changed."""
    _, handles = hosts
    before = {name: state_of(h) for name, h in handles.items()}
    yield
    after = {name: state_of(h) for name, h in handles.items()}
    for name in handles:
        changed = sorted(k for k in before[name] if before[name][k] != after[name].get(k))
        assert not changed, f"{name}: the run changed {changed}"
