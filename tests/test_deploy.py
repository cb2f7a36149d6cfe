"""The shipped deployment files (deploy/) are valid, and gunicorn reloads without dropping anyone.

- ``nginx -t`` over the shipped site (ports, certificate and paths swapped only);
- ``systemd-analyze verify`` over the units, where systemd's tools exist;
- ``logrotate -d`` over the logrotate snippet;
- a HUP to gunicorn's master under a stream of requests: every request answered, the new
  workers serving, and /metrics adding up the counts of old and new workers alike.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.browser.servers import base_environment
from tests.deploy_servers import GunicornProcess, NginxProcess
from tests.test_jobs import wait_for

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"


def test_nginx_accepts_the_shipped_site(tmp_path):
    nginx = NginxProcess(tmp_path / "nginx", upstream="http://127.0.0.1:9")
    checked = nginx.test_config()
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_accepts_the_shipped_units(tmp_path):
    # The units name /opt/capillary-requests (README's install folder); systemd-analyze checks
    # that the commands exist, so they point at this checkout's venv here.
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/capillary-requests", str(ROOT))
        name = unit.name.replace("@.service", "@1.service")  # a template is verified as an instance
        (tmp_path / name).write_text(text)
    names = sorted(str(path) for path in tmp_path.iterdir())
    assert len(names) == 4
    checked = subprocess.run(["systemd-analyze", "verify", "--man=no", *names],
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr
    web = (UNITS / "capillary-requests-web.service").read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in web and "Restart=always" in web


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed here")
def test_logrotate_accepts_the_snippet(tmp_path):
    snippet = (ROOT / "deploy" / "logrotate" / "capillary-requests").read_text()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "web.log").write_text("a line\n")
    (tmp_path / "conf").write_text(snippet.replace("/var/log/capillary-requests", str(logs)))
    checked = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "state"), str(tmp_path / "conf")],
                             capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    assert "error" not in checked.stderr.lower(), checked.stderr


def _counts(metrics_text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_a_hup_reloads_gunicorn_under_a_stream_of_requests_without_an_error(tmp_path):
    env = base_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'hup.sqlite3'}", CAP_GATEWAY_URL="sandbox",
                           CAP_SYNC_INTERVAL_SECONDS="0", GUNICORN_GRACEFUL_TIMEOUT="10")
    server = GunicornProcess("gunicorn-hup", env, tmp_path, workers=2, threads=2)
    server.flask("db", "upgrade")
    server.start()
    answers: dict[str, list[int]] = {"/healthz": [], "/login": []}
    failures: list[str] = []
    stop = threading.Event()

    def stream(path: str) -> None:
        # A new connection per request, as nginx makes them (see deploy/nginx).
        while not stop.is_set():
            try:
                answers[path].append(requests.get(server.url + path, headers={"Connection": "close"},
                                                  timeout=30).status_code)
            except requests.RequestException as exc:
                failures.append(f"{path}: {type(exc).__name__}: {exc}")

    streams = [threading.Thread(target=stream, args=(path,)) for path in answers]
    total = lambda: sum(map(len, answers.values()))  # noqa: E731
    try:
        for thread in streams:
            thread.start()
        # Generous bounds: a busy shared machine boots workers slowly; nothing here is a timing claim.
        assert wait_for(lambda: total() >= 20, timeout=60)
        server.hup()
        # Two new workers booted and both old ones exited (the log says so), while requests flowed.
        assert wait_for(lambda: server.log().count("Booting worker") >= 4
                        and server.log().count("Worker exiting") >= 2, timeout=90), server.log()
        after_reload = total()
        assert wait_for(lambda: total() >= after_reload + 20, timeout=60)
    finally:
        stop.set()
        for thread in streams:
            thread.join(timeout=35)
        scraped = requests.get(server.url + "/metrics", timeout=30).text if not failures else ""
        server.stop()
    assert failures == []
    assert set(answers["/healthz"] + answers["/login"]) == {200}
    # The old workers' counts are kept and added to the new ones' (prometheus-client's
    # multiprocess mode): every request answered before and after the reload is counted (plus
    # the start-up probes of /healthz).
    counted_logins = _counts(scraped, "capreq_http_requests_total", endpoint="auth.login", method="GET", status="200")
    assert counted_logins == len(answers["/login"])
    counted_probes = _counts(scraped, "capreq_http_requests_total", endpoint="health.healthz", method="GET",
                             status="200")
    assert len(answers["/healthz"]) <= counted_probes <= len(answers["/healthz"]) + 50
