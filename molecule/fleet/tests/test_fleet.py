"""A fleet site: two web nodes on one PostgreSQL, one bucket and one server secret, behind a TCP balancer.

The camera uploads to the site's name; either node serves every page and every media URL; a node can be
stopped (its proxy and both gunicorn pools) while the camera keeps capturing, and every frame taken
meanwhile reaches the site through the other node.  These tests run once (on the camera host's handle);
the others are reached by name (conftest.py).
"""
import base64
import json
import os
import re
import shlex
from urllib.parse import quote

import pytest
from conftest import CAMERA, DATABASE, SITE, WEB_NODES
from playbook_runs import inventory_copy, run_site, set_host_vars, state_of
from skyfleet_testinfra import (
    BASE_PATH,
    CERT_FILE,
    CONFIG_DIR,
    CONFIG_FILE,
    DATA_DIR,
    JPEG_MAGIC,
    PROXIES,
    SERVICE_USER,
    VENV,
    assert_file,
    browser_login,
    curl,
    file_magic,
    latest_asset,
    only_on,
    proxy_of,
    skyfleet,
    wait_for,
)

CA = f"{CONFIG_DIR}/remote-remote-ca.pem"       # the site's certificate, as the camera fetched it
CHAIN_TIMEOUT = 240                             # capture period 15 s, processing, queue, retries
ACCESS_LOG = {"apache": "/var/log/apache2/skyfleet-access.log", "nginx": "/var/log/nginx/skyfleet-access.log"}
NODE_UNITS = ["skyfleet-web.socket", "skyfleet-web.service", "skyfleet-syncapi.socket", "skyfleet-syncapi.service"]

# the images of a camera (by name) taken at or after a time, as the host's own database has them
_IMAGES_SINCE = """
import datetime as dt, json, sys
from sqlalchemy import select
from skyfleet import settings
from skyfleet.db_setup import session_factory
from skyfleet.models import Asset, Camera
camera, since = sys.argv[1], dt.datetime.fromisoformat(sys.argv[2])
s = settings.load()
with session_factory(s.database_url, s.sqlite_busy_timeout_ms)() as db:
    rows = db.scalars(select(Asset.create_date_utc).join(Camera).where(
        Asset.kind == "image", Camera.name == camera, Asset.create_date_utc >= since))
    print(json.dumps(sorted(r.isoformat(timespec="seconds") for r in rows)))
"""


@pytest.fixture(autouse=True)
def _once(host):
    only_on(host, "local")


def images_since(host, camera: str, since: str) -> list:
    out = host.check_output(f"cd {DATA_DIR} && runuser -u {SERVICE_USER} -- env SKYFLEET_CONFIG={CONFIG_FILE} "
                            f"{VENV}/bin/python -c {shlex.quote(_IMAGES_SINCE)} {shlex.quote(camera)} {since}")
    return json.loads(out.strip().splitlines()[-1])


def via(host, node: str, path: str, output: str = "/dev/null", *options: str, write: str = "%{http_code}"):
    """GET https://<site><path> from `host`, connecting to `node` itself instead of the balancer (the pages
    are at the root, the SyncAPI and the media under the base path), with the PROXY protocol header the
    node's port 443 requires (from a peer that is not the balancer it names the peer itself)."""
    return curl(host, f"https://{SITE}{path}", "--cacert", CA, "--connect-to", f"{SITE}:443:{node}:443",
                "--haproxy-protocol", *options, output=output, write=write)


def fetched(host, node: str, path: str, output: str):
    """GET <path> through `node` and follow redirects as a browser would: on the site through `node`,
    elsewhere (the S3 server's presigned URLs, which take no PROXY header) directly.  The last status."""
    url, site = f"https://{SITE}{path}", f"https://{SITE}"
    for _ in range(5):
        write = "%{http_code} %{redirect_url}"
        answer, err = (via(host, node, url[len(site):], output, write=write) if url.startswith(f"{site}/")
                       else curl(host, url, output=output, write=write))
        status, _, url = answer.partition(" ")
        if not (status.startswith("3") and url):
            break
    return status, err


def address_of(host) -> str:
    return host.check_output("hostname -I").split()[0]


def logged_client(node, marker: str) -> str:
    """The client address the node's proxy logged for the request whose URL holds `marker`."""
    line = node.check_output(f"grep -F {shlex.quote(marker)} {ACCESS_LOG[proxy_of(node)]} || true").strip()
    return line.split()[0] if line else ""


def sha256_of(host, path: str) -> str:
    return host.check_output(f"sha256sum {shlex.quote(path)}").split()[0]


def camera_name(site) -> str:
    return site[CAMERA].ansible.get_variables()["skyfleet_camera_name"]


def sync_posts(node) -> int:
    """SyncAPI uploads the node's proxy logged."""
    log = ACCESS_LOG[proxy_of(node)]
    return int(node.run(f"grep -c 'POST {BASE_PATH}/sync/' {log} || true").stdout.strip() or 0)


def stop_node(node) -> None:
    unit = PROXIES[proxy_of(node)][0]
    node.check_output(f"systemctl stop {unit} {' '.join(NODE_UNITS)}")


def start_node(node) -> None:
    unit = PROXIES[proxy_of(node)][0]
    node.check_output(f"systemctl start {' '.join(NODE_UNITS)} {unit}")


def test_the_web_nodes_share_the_database_the_bucket_and_the_server_secret(site):
    settings = [site[n].file(CONFIG_FILE).content_string for n in WEB_NODES]
    for node, text in zip(WEB_NODES, settings):
        url = f"postgresql+psycopg://skyfleet@{DATABASE}:5432/skyfleet?sslmode=require&passfile="
        assert f'database_url = "{url}' in text, node
        assert 'backend = "s3"' in text and 'bucket = "skyfleet"' in text, node
        assert_file(site[node], f"{CONFIG_DIR}/database.pgpass", 0o600, SERVICE_USER, SERVICE_USER)
        assert_file(site[node], f"{DATA_DIR}/secret.key", 0o600, SERVICE_USER, SERVICE_USER)
        assert_file(site[node], f"{CONFIG_DIR}/storage-s3.secret", 0o640, "root", SERVICE_USER)
    secrets = {sha256_of(site[n], f"{DATA_DIR}/secret.key") for n in WEB_NODES}
    assert len(secrets) == 1, "the web nodes have different server secrets"
    # the database password is nowhere in the settings: only in the 0600 password file
    assert all(":" not in text.split("postgresql+psycopg://")[1].split("@")[0] for text in settings)


def test_postgresql_takes_the_web_nodes_only_over_tls_with_the_password(site):
    web = site[WEB_NODES[0]]
    ok = web.run(f"runuser -u {SERVICE_USER} -- env PGPASSFILE={CONFIG_DIR}/database.pgpass "
                 f"psql 'host={DATABASE} dbname=skyfleet user=skyfleet sslmode=require' "
                 "-Atc 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'")
    assert ok.rc == 0 and ok.stdout.strip() == "t", ok.stderr
    plain = web.run(f"runuser -u {SERVICE_USER} -- env PGPASSFILE={CONFIG_DIR}/database.pgpass "
                    f"psql 'host={DATABASE} dbname=skyfleet user=skyfleet sslmode=disable' -Atc 'SELECT 1'")
    assert plain.rc != 0 and "no encryption" in plain.stderr, (plain.stdout, plain.stderr)
    wrong = web.run(f"env PGPASSWORD=not-the-password psql 'host={DATABASE} dbname=skyfleet user=skyfleet "
                    f"sslmode=require' -Atc 'SELECT 1'")
    assert wrong.rc != 0 and "password authentication failed" in wrong.stderr, wrong.stderr
    other = web.run(f"runuser -u {SERVICE_USER} -- env PGPASSFILE={CONFIG_DIR}/database.pgpass "
                    f"psql 'host={DATABASE} dbname=postgres user=skyfleet sslmode=require' -Atc 'SELECT 1'")
    assert other.rc != 0 and "no pg_hba.conf entry" in other.stderr, other.stderr


def test_the_deploy_migrated_and_made_the_accounts_once(site):
    """Both nodes ran site.yml at the same time: had each migrated or added the accounts, PostgreSQL would
    have logged the loser's duplicate (an existing relation, a duplicate key)."""
    db = site[DATABASE]
    logs = db.check_output("cat /var/log/postgresql/postgresql-*-main.log")
    clashes = [line for line in logs.splitlines()
               if "ERROR:" in line and ("already exists" in line or "duplicate key" in line)]
    assert not clashes, clashes
    for node in WEB_NODES:
        accounts = skyfleet(site[node], "user", "list")
        assert accounts.rc == 0, accounts.stderr
        assert CAMERA in accounts.stdout and "admin" in accounts.stdout, (node, accounts.stdout)


def test_every_page_and_media_url_works_from_both_nodes(site, host):
    camera = camera_name(site)
    asset = wait_for(lambda: latest_asset(site[WEB_NODES[0]], "image"), CHAIN_TIMEOUT)
    assert asset and asset["camera"] == camera, asset
    code, err = via(host, WEB_NODES[0], "/cameras", "/tmp/fleet-cameras.html")
    assert code == "200", (code, err)
    camera_pages = sorted(set(re.findall(r'/camera/[0-9]+', host.file("/tmp/fleet-cameras.html").content_string)))
    assert camera_pages, "no camera page linked from /cameras"
    pages = ["/", "/cameras", *camera_pages, f"{camera_pages[0]}/nights", f"/latest/{quote(camera)}/image",
             f"/latest/{quote(camera)}/thumbnail", "/login"]
    digests = {}
    for node in WEB_NODES:
        for path in pages:
            code, err = fetched(host, node, path, "/tmp/fleet-page")
            assert code == "200", (node, path, code, err)
        # the media are in the bucket: the node answers with a presigned URL on the S3 endpoint
        answer, err = via(host, node, f"{BASE_PATH}/{asset['url']}", write="%{http_code} %{redirect_url}")
        status, _, location = answer.partition(" ")
        assert status in ("302", "303", "307"), (node, answer, err)
        assert location.startswith(f"http://{DATABASE}:8333/skyfleet/"), (node, location)
        code, err = curl(host, location, output="/tmp/fleet-media.jpg")  # the S3 server takes no PROXY header
        assert code == "200", (node, code, err)
        assert file_magic(host, "/tmp/fleet-media.jpg") == JPEG_MAGIC
        digests[node] = sha256_of(host, "/tmp/fleet-media.jpg")
    assert len(set(digests.values())) == 1, digests


def test_the_nodes_count_failed_logins_per_client_behind_the_balancer(site):
    """The balancer's PROXY protocol header tells the nodes who the client is: five failed logins from the
    camera host through the balancer are throttled for it, not for another client (had the nodes seen
    the balancer's address, the second client would be refused too: one address for everybody)."""
    cam, other = site[CAMERA], site[WEB_NODES[1]]  # the web node as a browser at another address
    user = "throttle-test-" + cam.check_output("date +%s%N")
    through_balancer = {cam: ["--cacert", CA], other: ["--cacert", CERT_FILE]}  # the site's certificate
    assert [browser_login(cam, SITE, through_balancer[cam], user, "wrong", "cam") for _ in range(5)] == ["401"] * 5
    assert browser_login(cam, SITE, through_balancer[cam], user, "wrong", "cam") == "429"
    assert browser_login(other, SITE, through_balancer[other], user, "wrong", "other") == "401"


def test_a_node_believes_the_client_address_only_from_the_balancer(site, host):
    node = site[WEB_NODES[0]]
    marker = "probe-" + host.check_output("date +%s%N")
    code, err = curl(host, f"https://{SITE}/login?{marker}-balanced", "--cacert", CA)
    assert code == "200", (code, err)
    logged = wait_for(lambda: logged_client(node, f"{marker}-balanced") or logged_client(site[WEB_NODES[1]],
                                                                                         f"{marker}-balanced"), 10, 1)
    assert logged == address_of(host), "a node logged the balancer, not the client"
    # the camera host goes to the node itself and claims another address: the node logs the camera host
    code, err = via(host, WEB_NODES[0], f"/login?{marker}-forged", "/dev/null", "--haproxy-clientip", "203.0.113.7")
    assert code == "200", (code, err)
    assert wait_for(lambda: logged_client(node, f"{marker}-forged"), 10, 1) == address_of(host)
    # without the header the node does not answer at all
    code, err = curl(host, f"https://{SITE}/login", "--cacert", CA, "--connect-to", f"{SITE}:443:{WEB_NODES[0]}:443")
    assert code == "000", (code, err)


def test_the_proxy_protocol_with_apache_is_refused_before_anything_changes(site, tmp_path):
    inventory = inventory_copy(tmp_path / "inventory")
    set_host_vars(inventory, WEB_NODES[1], {"skyfleet_proxy_server": "apache"})
    before = state_of(site[WEB_NODES[1]])
    run = run_site(inventory, "--limit", WEB_NODES[1])
    assert run.failed_with("skyfleet_proxy_balancer_addresses is set with skyfleet_proxy_server apache",
                           "Set skyfleet_proxy_server: nginx"), run.explain()
    assert state_of(site[WEB_NODES[1]]) == before, "the refused run changed the node"


@pytest.mark.parametrize("stopped", WEB_NODES)
def test_a_stopped_node_loses_no_upload(site, host, stopped):
    """Stop one node; the camera keeps capturing and its uploads go to the other node through the
    balancer; every frame taken meanwhile is on the site once the queue drains."""
    camera = camera_name(site)
    other = next(n for n in WEB_NODES if n != stopped)
    posts_before = sync_posts(site[other])
    since = host.check_output("date -u +%Y-%m-%dT%H:%M:%S")
    stop_node(site[stopped])
    try:
        arrived = wait_for(lambda: images_since(site[other], camera, since)[2:], CHAIN_TIMEOUT)
        assert arrived, f"no frames taken since {since} reached {other} while {stopped} was down"
        assert sync_posts(site[other]) > posts_before, f"{other} logged no SyncAPI upload"
    finally:
        start_node(site[stopped])
    # the frames the camera has recorded by now (a frame still being processed joins the queue later, so
    # "the queue is empty" is no proof; each recorded frame turning up on the site is)
    taken = set(images_since(site[CAMERA], camera, since))

    def missing_on_site():  # the stopped node answers too: one database
        return sorted(taken - set(images_since(site[stopped], camera, since)))

    assert taken
    assert wait_for(lambda: not missing_on_site(), CHAIN_TIMEOUT), (
        f"taken since {since}: {len(taken)}, missing on the site: {missing_on_site()}; "
        + skyfleet(site[CAMERA], "sync", "status").stdout)


def test_a_node_holding_another_server_secret_is_refused_before_anything_changes(site, tmp_path):
    """A single remote growing into a fleet keeps its own secret.key: a vault secret that differs must not
    replace it (every API key stored with it would stop opening)."""
    node = site[WEB_NODES[1]]
    before = state_of(node)
    inventory = inventory_copy(tmp_path / "inventory")
    other = base64.urlsafe_b64encode(os.urandom(32)).decode()
    set_host_vars(inventory, WEB_NODES[1], {"skyfleet_app_secret_key": other})
    run = run_site(inventory, "--limit", WEB_NODES[1])
    assert run.failed_with(f"{DATA_DIR}/secret.key on {WEB_NODES[1]} holds another server secret",
                           "vault_skyfleet_app_secret_key"), run.explain()
    assert other not in run.output
    assert state_of(node) == before, "the refused run changed the node"


def test_several_web_nodes_without_a_shared_bucket_are_refused(site, tmp_path):
    inventory = inventory_copy(tmp_path / "inventory")
    set_host_vars(inventory, WEB_NODES[1], {"skyfleet_app_storage_backend": "local"})
    before = state_of(site[WEB_NODES[1]])
    run = run_site(inventory, "--limit", WEB_NODES[1])
    assert run.failed_with(f"2 web servers ({', '.join(WEB_NODES)}) must share",
                           "skyfleet_app_storage_backend: s3 (got local)"), run.explain()
    assert state_of(site[WEB_NODES[1]]) == before, "the refused run changed the node"
