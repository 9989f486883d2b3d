"""Every secret in the demo inventory's vault is public (its password file is committed), so the secrets
check must know each one's digest and refuse it outside the demo (roles/skyfleet_common/vars/main.yml).
A key added to the demo vault without its digest would be accepted on a real site."""
from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from ansible.constants import DEFAULT_VAULT_ID_MATCH
from ansible.parsing.vault import VaultLib, VaultSecret

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "inventory" / "demo"
PUBLISHED = REPO / "roles" / "skyfleet_common" / "vars" / "main.yml"


def leaves(value, path: str):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, str(value)


def demo_secrets() -> dict:
    password = (DEMO / "DEMO-ONLY-vault-password.txt").read_bytes().strip()
    vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password))])
    found = {}
    for vault_file in sorted(DEMO.glob("group_vars/*/vault.yml")):
        data = yaml.safe_load(vault.decrypt(vault_file.read_bytes()))
        for path, value in leaves(data, ""):
            found[f"{vault_file.parent.name}/{path}"] = value
    return found


def test_every_demo_vault_value_is_a_published_digest():
    published = set(yaml.safe_load(PUBLISHED.read_text())["_skyfleet_common_published_demo_digests"])
    secrets = demo_secrets()
    assert len(secrets) >= 4, f"read only {sorted(secrets)} from the demo vault"
    missing = sorted(path for path, value in secrets.items()
                     if hashlib.sha256(value.encode()).hexdigest() not in published)
    assert not missing, f"demo vault values without a digest in {PUBLISHED.relative_to(REPO)}: {missing}"
