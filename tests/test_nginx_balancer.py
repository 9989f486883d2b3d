"""The proxy role's nginx site behind a TCP balancer (skyfleet_proxy_balancer_addresses), run for real.

The role's template is rendered by Ansible with a balancer at 127.0.0.2, nginx serves it on loopback
ports in front of an upstream that answers with the X-Forwarded-For it was given (what the app's
ProxyFix takes as the client), and the clients speak the PROXY protocol (v1) themselves, from
127.0.0.2 (the balancer) or 127.0.0.1 (a peer that is not the balancer).  The molecule `fleet`
scenario deploys the same with HAProxy in front.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import ThreadingMixIn, UnixStreamServer

import pytest
import yaml

from tests.helpers.live import BIN, free_port

REPO = Path(__file__).resolve().parents[1]
BALANCER = "127.0.0.2"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class _Upstream(ThreadingMixIn, UnixStreamServer):
    daemon_threads = True


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.headers.get("X-Forwarded-For") or "-").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self):
        return "upstream"

    def log_message(self, *args):
        pass


def render_site(tmp: Path, port: int, upstream: Path) -> Path:
    """The role's nginx-site.conf.j2 as Ansible renders it, moved to loopback ports and this upstream."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=site",
                    "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")], check=True, capture_output=True)
    role = REPO / "roles" / "skyfleet_proxy"
    playbook = [{"hosts": "localhost", "gather_facts": False,
                 "vars_files": [str(role / "defaults" / "main.yml"), str(role / "vars" / "main.yml")],
                 "tasks": [{"ansible.builtin.template": {"src": str(role / "templates" / "nginx-site.conf.j2"),
                                                         "dest": str(tmp / "site.conf"), "mode": "0644"}}]}]
    overrides = {"ansible_python_interpreter": sys.executable, "ansible_facts": {"all_ipv6_addresses": []},
                 "skyfleet_proxy_balancer_addresses": [BALANCER],
                 "skyfleet_proxy_tls_certificate_file": str(tmp / "cert.pem"),
                 "skyfleet_proxy_tls_private_key_file": str(tmp / "key.pem"),
                 "skyfleet_proxy_upstream_socket": str(upstream),
                 "skyfleet_proxy_syncapi_upstream_socket": str(upstream),
                 "skyfleet_proxy_syncapi_path": "/indi-allsky/sync/", "skyfleet_proxy_syncapi_max_body_mb": 2001,
                 "skyfleet_proxy_max_body_kb": 64}
    (tmp / "render.yml").write_text(yaml.safe_dump(playbook))
    (tmp / "overrides.yml").write_text(yaml.safe_dump(overrides))
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    run = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(tmp / "render.yml"),
                          "-e", f"@{tmp / 'overrides.yml'}"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    site = (tmp / "site.conf").read_text()
    assert "listen 443 ssl proxy_protocol;" in site and f"set_real_ip_from {BALANCER};" in site
    site = (site.replace("listen 443 ssl", f"listen 127.0.0.1:{port} ssl")
            .replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
            .replace("/var/log/nginx/", f"{tmp}/"))
    conf = tmp / "nginx.conf"
    # workers as the test's own user: the pytest folders and the upstream socket are its own
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(f"{user}pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n"
                    f"http {{\n  access_log off;\n  client_body_temp_path {tmp};\n  proxy_temp_path {tmp};\n"
                    f"  include {tmp}/site.conf;\n}}\n")
    (tmp / "site.conf").write_text(site)
    return conf


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """(port) of nginx with the role's site, a balancer at 127.0.0.2 and the echoing upstream."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed (script/test installs nginx-light)")
    tmp = tmp_path_factory.mktemp("nginx")
    upstream = tmp / "upstream.sock"
    server = _Upstream(str(upstream), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    conf = render_site(tmp, port, upstream)
    check = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE,
                            start_new_session=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"nginx exited: {proc.stderr.read().decode()}")
            threading.Event().wait(0.05)
    yield port
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    server.shutdown()
    server.server_close()


def client_as_the_app_sees_it(port: int, source: str, claimed: str | None) -> str:
    """GET through nginx from `source`, with a PROXY protocol v1 header naming `claimed` (None: none);
    the X-Forwarded-For the upstream got, or 'no answer'.  The request carries an X-Forwarded-For of its
    own, which must not be what the app takes."""
    with socket.socket() as raw:
        raw.bind((source, 0))
        raw.settimeout(5)
        raw.connect(("127.0.0.1", port))
        if claimed is not None:
            raw.sendall(f"PROXY TCP4 {claimed} 127.0.0.1 40000 {port}\r\n".encode())
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            with context.wrap_socket(raw, server_hostname="site") as tls:
                tls.sendall(b"GET /login HTTP/1.1\r\nHost: site\r\nX-Forwarded-For: 198.51.100.1\r\n"
                            b"Connection: close\r\n\r\n")
                answer = b""
                while chunk := tls.recv(65536):
                    answer += chunk
        except (ssl.SSLError, OSError):
            return "no answer"
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return body.decode()


def test_the_balancer_names_the_client(node):
    assert client_as_the_app_sees_it(node, BALANCER, "203.0.113.7") == "203.0.113.7"


def test_a_client_on_the_balancers_own_host_is_not_local_to_the_node(node):
    """The app shows loopback clients the metrics without a token: a loopback address in the balancer's
    header is the balancer host's, so the app is told the balancer instead."""
    assert client_as_the_app_sees_it(node, BALANCER, "127.0.0.1") == BALANCER
    assert client_as_the_app_sees_it(node, BALANCER, "127.8.9.10") == BALANCER


def test_a_peer_that_is_not_the_balancer_cannot_pick_its_address(node):
    assert client_as_the_app_sees_it(node, "127.0.0.1", "203.0.113.7") == "127.0.0.1"


def test_a_connection_without_the_header_gets_no_answer(node):
    assert client_as_the_app_sees_it(node, BALANCER, None) == "no answer"
