"""The version on show: the footer of every page, the admin page and `skyfleet sync status` carry the
package version (skyfleet.core.version), while the SyncAPI header stays the protocol version."""
from __future__ import annotations

import re

import pytest

import skyfleet
from skyfleet.core.signing import SERVER_HEADER, SERVER_VERSION
from skyfleet.core.version import version

FOOTER_RE = re.compile(r'<footer class="foot"><span data-role="version">skyfleet ([^<]+)</span>')


def footer_version(resp) -> str:
    found = FOOTER_RE.search(resp.get_data(as_text=True))
    assert found, resp.get_data(as_text=True)[-400:]
    return found.group(1)


def test_the_version_is_the_package_version():
    assert version() == skyfleet.__version__


@pytest.mark.parametrize("path", ["/", "/login", "/cameras"])
def test_every_page_footer_names_the_version(client, path):
    resp = client.get(path, follow_redirects=True)
    assert resp.status_code == 200
    assert footer_version(resp) == version()


def test_admin_page_names_the_running_version(admin_client):
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert f'<p class="small" data-role="running-version">Running skyfleet {version()}.</p>' in page


def test_syncapi_header_stays_the_protocol_version(client):
    resp = client.get("/indi-allsky/sync/v1/camera")
    assert resp.headers.get(SERVER_HEADER) == SERVER_VERSION != version()


def test_sync_status_starts_with_the_version(app_factory, tmp_path):
    key = tmp_path / "remote.key"
    key.write_text("0" * 64 + "\n")
    key.chmod(0o600)
    app = app_factory(upload={"remotes": [{"name": "remote", "url": "https://remote.invalid/indi-allsky",
                                           "username": "cam", "api_key_file": str(key)}]})
    res = app.test_cli_runner().invoke(args=["sync", "status"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == f"skyfleet {version()}"
    assert "remote remote: 0 waiting, 0 parked, 0 delivered" in res.output
