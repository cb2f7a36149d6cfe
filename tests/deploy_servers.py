"""The production pieces as real processes for tests: gunicorn with gunicorn.conf.py, and nginx
with the shipped site file (deploy/nginx) and a self-signed certificate made here.

nginx runs from a prefix folder of the test's own, on free high ports, with its own pid file and
logs: never the machine's nginx service, never ports 80/443. The site file is used as shipped;
only its ports, host name, certificate paths, log paths and upstream address are swapped, and
each swap must match exactly once (a reshaped file fails loudly instead of going untested).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.browser.servers import ROOT, ServerProcess, free_port

SITE = ROOT / "deploy" / "nginx" / "capillary-requests.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class GunicornProcess(ServerProcess):
    """``gunicorn -c gunicorn.conf.py`` on a free port, the settings coming from ``env``."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, *, workers: int = 1, threads: int = 4):
        super().__init__(name, "app", env, log_dir, ready_path="/healthz")
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers),
                    "GUNICORN_THREADS": str(threads), "PROMETHEUS_MULTIPROC_DIR": str(log_dir / f"{name}-metrics")}

    def command(self) -> list[str]:
        """gunicorn as README's Production section runs it."""
        return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]

    def hup(self) -> None:
        """Send HUP to the master: reload (new workers start, old ones finish and exit)."""
        self.process.send_signal(signal.SIGHUP)

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace")


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """Write a key and a self-signed certificate for 127.0.0.1/localhost; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "test-cert.pem", folder / "test-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _swap(text: str, pattern: str, replacement: str, count: int) -> str:
    new, found = re.subn(pattern, replacement, text)
    if found != count:
        raise AssertionError(f"deploy/nginx site: expected {count} match(es) of {pattern!r}, found {found}")
    return new


def render_site(prefix: Path, *, https_port: int, http_port: int, upstream: str, cert: Path, key: Path) -> str:
    """The shipped site file with only its ports, paths and upstream swapped for this test."""
    text = SITE.read_text()
    text = _swap(text, r"listen 80;", f"listen 127.0.0.1:{http_port};", 1)
    text = _swap(text, r"listen \[::\]:80;\n", "", 1)
    text = _swap(text, r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;", 1)
    text = _swap(text, r"listen \[::\]:443 ssl;\n", "", 1)
    text = _swap(text, r"/etc/ssl/capillary-requests/fullchain\.pem", str(cert), 1)
    text = _swap(text, r"/etc/ssl/capillary-requests/privkey\.pem", str(key), 1)
    text = _swap(text, r"/var/log/nginx/", f"{prefix}/logs/", 2)
    text = _swap(text, r"http://127\.0\.0\.1:8000", upstream, 1)
    return text


def nginx_main_config(prefix: Path, site: Path) -> str:
    """A minimal nginx.conf around the site: everything inside ``prefix``."""
    user = "user root root;\n" if os.geteuid() == 0 else ""  # temp files of uploads stay readable
    return (
        f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  access_log {prefix}/logs/access.log;\n"
        f"  client_body_temp_path {prefix}/tmp/body;\n  proxy_temp_path {prefix}/tmp/proxy;\n"
        f"  fastcgi_temp_path {prefix}/tmp/fastcgi;\n  uwsgi_temp_path {prefix}/tmp/uwsgi;\n"
        f"  scgi_temp_path {prefix}/tmp/scgi;\n"
        f"  include {site};\n"
        "}\n"
    )


class NginxProcess:
    """nginx in the foreground with the shipped site, on free high ports of 127.0.0.1."""

    def __init__(self, prefix: Path, upstream: str):
        if not Path(NGINX).exists():
            raise RuntimeError("nginx is missing: install the Debian package 'nginx' (scripts/test does).")
        self.prefix = prefix
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        (prefix / "tmp").mkdir(exist_ok=True)
        self.https_port, self.http_port = free_port(), free_port()
        cert, key = self_signed_certificate(prefix)
        self.certificate = str(cert)  # for ``requests``' verify=: the test trusts its own certificate
        site = prefix / "capillary-requests.conf"
        site.write_text(render_site(prefix, https_port=self.https_port, http_port=self.http_port,
                                    upstream=upstream, cert=cert, key=key))
        self.config = prefix / "nginx.conf"
        self.config.write_text(nginx_main_config(prefix, site))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The site's HTTPS base URL."""
        return f"https://127.0.0.1:{self.https_port}"

    def test_config(self) -> subprocess.CompletedProcess:
        """``nginx -t`` over the configuration."""
        return subprocess.run([NGINX, "-t", "-p", str(self.prefix), "-c", str(self.config)],
                              capture_output=True, text=True, timeout=30, check=False)

    def start(self) -> NginxProcess:
        """Start nginx and wait until it answers over HTTPS."""
        with (self.prefix / "logs" / "stderr.log").open("ab") as errors:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [NGINX, "-p", str(self.prefix), "-c", str(self.config), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                requests.get(self.url + "/healthz", verify=self.certificate, timeout=2)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in (self.prefix / "logs").glob("*.log"))
        self.stop()
        raise RuntimeError(f"nginx did not start:\n{logs}")

    def stop(self) -> None:
        """Stop nginx (SIGQUIT: graceful; SIGKILL after 10 s)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGQUIT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
